// Standalone SVG 1.1 charts for the sweep report: a line chart (e.g. epoch time against batch
// size on log axes) and a stacked bar chart (e.g. where each batch size's time goes). Only
// builds the document text; writing the file is the caller's job.
// Usage: std::string svg = render_line_chart(chart);  // then save it as chart.svg
//
// In the output, `circle` is used only for line-chart data points and `rect` only for bar
// segments (background and legend swatches are `path`s), so a reader can count data by element
// name. Each holds a `<title>` with its values to 6 significant digits: the browser's tooltip.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace batchscope::report {

struct ChartSeries {
  // Line and DashedLine draw no per-point markers, so their points carry no tooltip.
  enum class Style { LinePoints, Line, DashedLine, Points };
  std::string name;          // legend text (any characters; escaped on output)
  std::vector<double> x, y;  // same length, else std::invalid_argument. A point with a
                             // non-finite value, or a non-positive one on a log axis, is
                             // skipped, and the line breaks there.
  Style style = Style::LinePoints;
  // CSS colour; empty: a colour-blind-safe palette by series index. The {} lets aggregate
  // initialisers such as {name, x, y, style} leave it out without a -Wextra warning.
  std::string color{};
};

struct LineChart {
  std::string title, x_label, y_label;
  bool log_x = true;   // ticks at powers of two (1, 2, 4, ..., 256), labelled as plain numbers,
                       // when the data span at least one doubling within [1/16, 2^40]; else
                       // ticks as for log_y
  bool log_y = false;  // ticks at 1-2-5 × 10^k; only 10^k over more than 2 decades, and plain
                       // 1-2-5 steps (1, 1.2, 1.4, ...) within less than one
  std::vector<ChartSeries> series;
  std::vector<std::string> notes;  // lines of small text under the chart (e.g. the fitted formula)
  int width = 760, height = 460;   // px; std::invalid_argument if too small for the plot area
};

// A complete standalone SVG document; "no data" text when no point is plottable.
// The y axis starts at 0 when every plotted y >= 0 (linear axis only).
std::string render_line_chart(const LineChart& c);

struct StackedBarChart {
  std::string title, x_label, y_label;
  std::vector<std::string> categories;      // one bar each, left to right, e.g. "1","4","8"
  std::vector<std::string> parts;           // stack segments, bottom to top; the legend lists
                                            // them top to bottom, as they appear in a bar
  std::vector<std::vector<double>> values;  // values[part][category], finite and >= 0, else
                                            // std::invalid_argument (also on shape mismatch)
  bool as_percent = true;  // each bar normalised to 100% (y axis 0-100%), else raw values stacked
  std::vector<std::string> notes;
  int width = 760, height = 460;
};

// A complete standalone SVG document. Zero-valued segments are not drawn (no `rect`), so a bar
// has one `rect` per non-zero part; a category whose parts are all zero has an empty slot.
std::string render_stacked_bar_chart(const StackedBarChart& c);

// Escapes & < > " ' as XML entities, for both text and attribute values. Control characters
// other than tab, LF and CR become '?': XML 1.0 has no way to write them.
std::string xml_escape(std::string_view s);

}  // namespace batchscope::report
