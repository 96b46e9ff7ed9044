// SVG line and stacked bar charts (see svg_chart.h): axis scaling, tick choice, layout and the
// document text. Text widths are estimated from character counts, as no font metrics exist here.
// Usage: std::string svg = render_stacked_bar_chart(chart);
#include "report/svg_chart.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace batchscope::report {
namespace {

// Okabe & Ito, "Color Universal Design" (2008): distinguishable under the common colour-vision
// deficiencies. Yellow comes last because it is faint on white.
constexpr std::array<const char*, 8> kPalette = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                                 "#CC79A7", "#56B4E9", "#000000", "#F0E442"};
constexpr double kCharPx = 7.0;  // rough advance of one 12 px sans-serif character
constexpr double kNoteLinePx = 15.0;
constexpr double kMinPlotPx = 40.0;

// ---------------------------------------------------------------- number formatting

// Drops trailing zeros of the fraction ("2.500" -> "2.5", "3.00e+05" -> "3e+05", "-0" -> "0").
std::string strip_zeros(std::string s) {
  const size_t e = s.find('e');
  std::string exp = e == std::string::npos ? "" : s.substr(e);
  s = s.substr(0, e);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s + exp;
}

// std::to_chars, unlike printf, ignores the C locale: a decimal comma would break the SVG.
std::string chars(double v, std::chars_format f, int precision) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, f, precision);
  return strip_zeros(std::string(buf, r.ptr));
}

// %g-like with `sig` significant digits, but integers up to 1e15 print in full ("65536").
std::string num(double v, int sig) {
  if (v == 0) return "0";
  // Error messages print the bad values themselves; log10 of these is no integer.
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  const double a = std::fabs(v);
  if (a < 1e-4 || a >= 1e15) return chars(v, std::chars_format::scientific, sig - 1);
  const int mag = static_cast<int>(std::floor(std::log10(a)));
  return chars(v, std::chars_format::fixed, std::max(0, sig - 1 - mag));
}

// Pixel coordinates: two decimals at most, so the output is short and byte-for-byte stable.
double round2(double v) { return std::round(v * 100) / 100; }
std::string px(double v) { return chars(round2(v), std::chars_format::fixed, 2); }

// Display width of UTF-8 text in characters (continuation bytes do not count).
size_t text_chars(std::string_view s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char ch) { return (ch & 0xC0) != 0x80; }));
}

// ---------------------------------------------------------------- ticks and scales

struct Ticks {
  double lo = 0, hi = 1;  // axis limits: the first and last tick
  bool log = false;
  std::vector<double> at;
  std::vector<std::string> labels;
};

void label_ticks(Ticks& t, std::string_view suffix = "") {
  for (double v : t.at) t.labels.push_back(num(v, 4) + std::string(suffix));
  t.lo = t.at.front();
  t.hi = t.at.back();
}

// 1-2-5 steps giving 4 to 7 intervals that cover [lo, hi]; requires lo < hi, both finite.
Ticks linear_ticks(double lo, double hi) {
  if (!std::isfinite(hi - lo)) throw std::invalid_argument("chart: values too large to plot");
  const double mag = std::pow(10.0, std::floor(std::log10((hi - lo) / 6)));
  double step = 10 * mag;  // always fits: range < 60·mag gives at most 6 + 1 intervals
  long k0 = 0, k1 = 0;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    // The 1e-9 slack keeps a limit that is already a multiple of the step from growing by one.
    k0 = std::lround(std::floor(lo / step + 1e-9));
    k1 = std::lround(std::ceil(hi / step - 1e-9));
    if (k1 - k0 <= 7) break;
  }
  Ticks t;
  for (long k = k0; k <= k1; ++k) t.at.push_back(static_cast<double>(k) * step);
  label_ticks(t);
  return t;
}

// Powers of two covering [lo, hi] (0 < lo < hi), every `stride`-th one so at most ~10 remain.
Ticks log2_ticks(double lo, double hi) {
  int a = static_cast<int>(std::floor(std::log2(lo) + 1e-9));
  int b = static_cast<int>(std::ceil(std::log2(hi) - 1e-9));
  const int stride = std::max(1, (b - a + 9) / 10);
  a = static_cast<int>(std::floor(static_cast<double>(a) / stride)) * stride;
  b = static_cast<int>(std::ceil(static_cast<double>(b) / stride)) * stride;
  Ticks t;
  t.log = true;
  for (int k = a; k <= b; k += stride) t.at.push_back(std::ldexp(1.0, k));
  label_ticks(t);
  return t;
}

// m × 10^e candidates around [lo, hi]: 1-2-5 mantissas over at most 2 decades, else only
// powers of ten, thinned to about 8 when the data span many decades.
std::vector<double> log125_candidates(double lo, double hi) {
  const double decades = std::log10(hi) - std::log10(lo);  // hi / lo may overflow
  const int stride = decades <= 8 ? 1 : static_cast<int>(std::ceil(decades / 8));
  const std::vector<double> mantissas =
      decades <= 2 ? std::vector<double>{1, 2, 5} : std::vector<double>{1};
  int e0 = static_cast<int>(std::floor(std::log10(lo)));
  int e1 = static_cast<int>(std::ceil(std::log10(hi)));
  e0 = static_cast<int>(std::floor(static_cast<double>(e0) / stride)) * stride;
  e1 = static_cast<int>(std::ceil(static_cast<double>(e1) / stride)) * stride;
  std::vector<double> out;
  for (int e = e0; e <= e1; e += stride)
    for (double m : mantissas) out.push_back(m * std::pow(10.0, e));
  return out;
}

// The candidates from the last one <= lo to the first one >= hi (0 < lo < hi). Within one
// decade those could be just two ticks (1 and 2 for data in 1..2), so linear ones are used there.
Ticks log125_ticks(double lo, double hi) {
  if (std::log10(hi) - std::log10(lo) < 1) {
    Ticks t = linear_ticks(lo, hi);
    t.log = true;
    if (t.lo > 0) return t;
  }
  const std::vector<double> c = log125_candidates(lo, hi);
  size_t first = 0, last = c.size() - 1;
  for (size_t i = 0; i < c.size(); ++i)
    if (c[i] <= lo * (1 + 1e-12)) first = i;
  for (size_t i = c.size(); i-- > 0;)
    if (c[i] >= hi * (1 - 1e-12)) last = i;
  Ticks t;
  t.log = true;
  t.at.assign(c.begin() + static_cast<long>(first), c.begin() + static_cast<long>(last) + 1);
  label_ticks(t);
  return t;
}

// Widens an empty or near-empty data range so that every scale has lo < hi.
void pad_range(double& lo, double& hi, bool log) {
  if (hi - lo > 1e-9 * std::max(std::fabs(lo), std::fabs(hi))) return;
  if (log) {
    lo /= 2, hi *= 2;
  } else if (lo == 0) {
    hi = 1;
  } else {
    const double d = std::fabs(lo) * 0.1;
    lo -= d, hi += d;
  }
}

enum class TickKind { Linear, ZeroBased, Log2, Log125 };

// Ticks for data in [lo, hi]; ZeroBased is Linear with 0 included when all data share a sign.
Ticks axis_ticks(double lo, double hi, TickKind kind) {
  if (kind == TickKind::ZeroBased) lo = std::min(lo, 0.0), hi = std::max(hi, 0.0);
  pad_range(lo, hi, kind == TickKind::Log2 || kind == TickKind::Log125);
  if (kind == TickKind::Log2 && hi >= 2 * lo && lo >= 1.0 / 16 && hi <= std::ldexp(1.0, 40))
    return log2_ticks(lo, hi);
  if (kind == TickKind::Log2 || kind == TickKind::Log125) return log125_ticks(lo, hi);
  return linear_ticks(lo, hi);
}

// Maps a data value to a pixel coordinate; p0 is where t.lo lands, p1 where t.hi does.
struct Scale {
  double lo, hi, p0, p1;
  bool log;
  Scale(const Ticks& t, double from_px, double to_px)
      : lo(f(t.lo, t.log)), hi(f(t.hi, t.log)), p0(from_px), p1(to_px), log(t.log) {}
  static double f(double v, bool log) { return log ? std::log10(v) : v; }
  double operator()(double v) const { return p0 + (f(v, log) - lo) / (hi - lo) * (p1 - p0); }
};

// ---------------------------------------------------------------- layout

// The plot area in px: x grows from left to right, y from top (max value) to bottom.
struct Frame {
  double left, top, right, bottom;
  double mid_x() const { return (left + right) / 2; }
  double mid_y() const { return (top + bottom) / 2; }
};

size_t longest(const std::vector<std::string>& labels) {
  size_t n = 0;
  for (const auto& s : labels) n = std::max(n, text_chars(s));
  return n;
}

// Legend column width: swatch, gap, the longest name; at most a third of the chart.
double legend_width(const std::vector<std::string>& names, int width) {
  if (names.empty()) return 0;
  return std::min(36 + kCharPx * static_cast<double>(longest(names)), width / 3.0);
}

// Room for legend text right of the plot: the column minus swatch and gap, and the outer margin.
size_t legend_chars(int width, const Frame& f) {
  return static_cast<size_t>(std::max(1.0, (width - f.right - 60) / kCharPx + 1e-9));
}

// Margins: title on top; y label and tick labels left; legend right; x labels and notes below.
Frame layout(int width, int height, bool has_title, const Ticks& y, double legend_w,
             size_t notes) {
  Frame f;
  f.left = 34 + kCharPx * static_cast<double>(longest(y.labels));
  f.top = has_title ? 44 : 16;
  f.right = width - (legend_w > 0 ? legend_w + 24 : 20);
  f.bottom = height - 52 - kNoteLinePx * static_cast<double>(notes);
  if (f.right - f.left < kMinPlotPx || f.bottom - f.top < kMinPlotPx)
    throw std::invalid_argument("chart: " + std::to_string(width) + "x" + std::to_string(height) +
                                " px leaves no room for the plot; make it larger");
  return f;
}

// ---------------------------------------------------------------- SVG primitives

// Appends elements to one document string; all numbers go through px() or num().
struct Svg {
  std::string out;

  void open(int w, int h) {
    const std::string W = std::to_string(w), H = std::to_string(h);
    out += "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n";
    out += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + W +
           "\" height=\"" + H + "\" viewBox=\"0 0 " + W + " " + H +
           "\" font-family=\"sans-serif\" font-size=\"12\">\n";
    // A path, not a rect: rect is kept for bar segments (see svg_chart.h).
    out += "<path d=\"M0 0H" + W + "V" + H + "H0Z\" fill=\"#ffffff\"/>\n";
  }
  void close() { out += "</svg>\n"; }

  // attrs: extra attributes, already escaped, starting with a space.
  void text(double x, double y, std::string_view body, std::string_view attrs = "") {
    out += "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\"" + std::string(attrs) + ">" +
           xml_escape(body) + "</text>\n";
  }
  void line(double x1, double y1, double x2, double y2, std::string_view attrs) {
    out += "<line x1=\"" + px(x1) + "\" y1=\"" + px(y1) + "\" x2=\"" + px(x2) + "\" y2=\"" +
           px(y2) + "\"" + std::string(attrs) + "/>\n";
  }
};

// A legend name, cut to max_chars with an ellipsis; a cut name keeps the full one as tooltip.
void draw_legend_label(Svg& svg, double x, double y, std::string_view name, size_t max_chars) {
  if (text_chars(name) <= max_chars) return svg.text(x, y, name, " dy=\"0.35em\"");
  size_t end = 0;
  for (size_t kept = 0; end < name.size(); ++end)
    if ((name[end] & 0xC0) != 0x80 && kept++ == max_chars - 1) break;
  svg.out += "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\" dy=\"0.35em\">" +
             xml_escape(name.substr(0, end)) + "\u2026<title>" + xml_escape(name) +
             "</title></text>\n";
}

void draw_title(Svg& svg, int width, const std::string& title) {
  if (!title.empty())
    svg.text(width / 2.0, 26, title,
             " text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\"");
}

void draw_notes(Svg& svg, const Frame& f, const std::vector<std::string>& notes) {
  for (size_t i = 0; i < notes.size(); ++i)
    svg.text(f.left, f.bottom + 54 + kNoteLinePx * static_cast<double>(i), notes[i],
             " font-size=\"11\" fill=\"#555555\"");
}

void draw_axis_labels(Svg& svg, const Frame& f, const std::string& x_label,
                      const std::string& y_label) {
  if (!x_label.empty()) svg.text(f.mid_x(), f.bottom + 38, x_label, " text-anchor=\"middle\"");
  if (!y_label.empty())
    svg.text(16, f.mid_y(), y_label,
             " text-anchor=\"middle\" transform=\"rotate(-90 16 " + px(f.mid_y()) + ")\"");
}

// Horizontal grid lines, tick marks and labels, and the y axis line (class "axis-y").
void draw_y_axis(Svg& svg, const Frame& f, const Ticks& t, const Scale& sy) {
  for (size_t i = 0; i < t.at.size(); ++i) {
    const double y = sy(t.at[i]);
    svg.line(f.left, y, f.right, y, " stroke=\"#e0e0e0\"");
    svg.line(f.left - 5, y, f.left, y, " stroke=\"#000000\"");
    svg.text(f.left - 8, y, t.labels[i], " text-anchor=\"end\" dy=\"0.35em\"");
  }
  svg.line(f.left, f.top, f.left, f.bottom, " class=\"axis-y\" stroke=\"#000000\"");
}

// Vertical grid lines, tick marks and labels (the x axis line is drawn by draw_x_axis_line).
void draw_x_ticks(Svg& svg, const Frame& f, const Ticks& t, const Scale& sx) {
  for (size_t i = 0; i < t.at.size(); ++i) {
    const double x = sx(t.at[i]);
    svg.line(x, f.top, x, f.bottom, " stroke=\"#e0e0e0\"");
    svg.line(x, f.bottom, x, f.bottom + 5, " stroke=\"#000000\"");
    svg.text(x, f.bottom + 18, t.labels[i], " text-anchor=\"middle\"");
  }
}

void draw_x_axis_line(Svg& svg, const Frame& f) {
  svg.line(f.left, f.bottom, f.right, f.bottom, " class=\"axis-x\" stroke=\"#000000\"");
}

void draw_no_data(Svg& svg, int width, int height) {
  svg.text(width / 2.0, height / 2.0, "no data",
           " text-anchor=\"middle\" font-size=\"14\" fill=\"#777777\"");
}

// A filled disc as a path: circle is kept for data points (see svg_chart.h).
std::string disc_path(double cx, double cy, double r) {
  return "M" + px(cx - r) + " " + px(cy) + "a" + px(r) + " " + px(r) + " 0 1 0 " + px(2 * r) +
         " 0a" + px(r) + " " + px(r) + " 0 1 0 " + px(-2 * r) + " 0Z";
}

// ---------------------------------------------------------------- line chart

using Style = ChartSeries::Style;

const char* dash_attr(Style s) { return s == Style::DashedLine ? " stroke-dasharray=\"6 4\"" : ""; }
bool has_line(Style s) { return s != Style::Points; }
bool has_markers(Style s) { return s == Style::LinePoints || s == Style::Points; }

std::string series_color(const ChartSeries& s, size_t index) {
  return s.color.empty() ? kPalette[index % kPalette.size()] : xml_escape(s.color);
}

bool plottable(double x, double y, const LineChart& c) {
  return std::isfinite(x) && std::isfinite(y) && (!c.log_x || x > 0) && (!c.log_y || y > 0);
}

void check_series(const LineChart& c) {
  for (const auto& s : c.series)
    if (s.x.size() != s.y.size())
      throw std::invalid_argument("line chart: series '" + s.name + "' has " +
                                  std::to_string(s.x.size()) + " x values but " +
                                  std::to_string(s.y.size()) + " y values; expected equal");
}

// Data bounds over plottable points: {x_lo, x_hi, y_lo, y_hi}; empty when there are none.
std::vector<double> data_bounds(const LineChart& c) {
  std::vector<double> b;
  for (const auto& s : c.series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!plottable(s.x[i], s.y[i], c)) continue;
      if (b.empty()) b = {s.x[i], s.x[i], s.y[i], s.y[i]};
      b[0] = std::min(b[0], s.x[i]), b[1] = std::max(b[1], s.x[i]);
      b[2] = std::min(b[2], s.y[i]), b[3] = std::max(b[3], s.y[i]);
    }
  return b;
}

// The polyline as one path, restarting (M) after each skipped point so gaps stay visible.
void draw_series_line(Svg& svg, const ChartSeries& s, const std::string& color,
                      const LineChart& c, const Scale& sx, const Scale& sy) {
  std::string d;
  bool pen_down = false;
  for (size_t i = 0; i < s.x.size(); ++i) {
    if (!plottable(s.x[i], s.y[i], c)) {
      pen_down = false;
      continue;
    }
    d += (pen_down ? "L" : "M") + px(sx(s.x[i])) + " " + px(sy(s.y[i]));
    pen_down = true;
  }
  if (d.empty()) return;
  svg.out += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" + color +
             "\" stroke-width=\"2\" stroke-linejoin=\"round\"" + dash_attr(s.style) + "><title>" +
             xml_escape(s.name) + "</title></path>\n";
}

std::string point_tooltip(const ChartSeries& s, size_t i, const LineChart& c) {
  const auto part = [](const std::string& label, double v) {
    return (label.empty() ? "" : label + " ") + num(v, 6);
  };
  return s.name + ": " + part(c.x_label, s.x[i]) + ", " + part(c.y_label, s.y[i]);
}

void draw_series_points(Svg& svg, const ChartSeries& s, const std::string& color,
                        const LineChart& c, const Scale& sx, const Scale& sy) {
  svg.out += "<g class=\"points\" fill=\"" + color + "\">\n";
  for (size_t i = 0; i < s.x.size(); ++i) {
    if (!plottable(s.x[i], s.y[i], c)) continue;
    svg.out += "<circle cx=\"" + px(sx(s.x[i])) + "\" cy=\"" + px(sy(s.y[i])) +
               "\" r=\"3.5\"><title>" + xml_escape(point_tooltip(s, i, c)) +
               "</title></circle>\n";
  }
  svg.out += "</g>\n";
}

// One row per series in the right margin: a line sample and/or a marker, then the name.
void draw_line_legend(Svg& svg, const Frame& f, const LineChart& c) {
  for (size_t i = 0; i < c.series.size(); ++i) {
    const ChartSeries& s = c.series[i];
    const std::string color = series_color(s, i);
    const double x = f.right + 16, y = f.top + 8 + 18 * static_cast<double>(i);
    if (has_line(s.style))
      svg.line(x, y, x + 24, y,
               " stroke=\"" + color + "\" stroke-width=\"2\"" + dash_attr(s.style));
    if (has_markers(s.style))
      svg.out += "<path d=\"" + disc_path(x + 12, y, 3.5) + "\" fill=\"" + color + "\"/>\n";
    draw_legend_label(svg, x + 30, y, s.name, legend_chars(c.width, f));
  }
}

std::vector<std::string> series_names(const LineChart& c) {
  std::vector<std::string> names;
  for (const auto& s : c.series) names.push_back(s.name);
  return names;
}

// Title, "no data" and notes only: there is no range to draw axes for.
std::string render_empty(const std::string& title, const std::vector<std::string>& notes,
                         int width, int height) {
  Svg svg;
  svg.open(width, height);
  draw_title(svg, width, title);
  draw_no_data(svg, width, height);
  // Notes sit where they would under a plot: only left and bottom matter to draw_notes.
  const Frame f{20, 0, 0, height - 52 - kNoteLinePx * static_cast<double>(notes.size())};
  draw_notes(svg, f, notes);
  svg.close();
  return svg.out;
}

// ---------------------------------------------------------------- stacked bar chart

void check_bars(const StackedBarChart& c) {
  const auto fail = [](const std::string& what) {
    throw std::invalid_argument("stacked bar chart: " + what);
  };
  if (c.values.size() != c.parts.size())
    fail(std::to_string(c.values.size()) + " value rows for " + std::to_string(c.parts.size()) +
         " parts; expected one row per part");
  for (size_t p = 0; p < c.values.size(); ++p) {
    if (c.values[p].size() != c.categories.size())
      fail("part '" + c.parts[p] + "' has " + std::to_string(c.values[p].size()) +
           " values for " + std::to_string(c.categories.size()) + " categories");
    for (double v : c.values[p])
      if (!std::isfinite(v) || v < 0)
        fail("part '" + c.parts[p] + "' has value " + num(v, 6) + "; expected finite and >= 0");
  }
}

// totals[category]: the height of each stacked bar before any normalisation.
std::vector<double> bar_totals(const StackedBarChart& c) {
  std::vector<double> totals(c.categories.size(), 0.0);
  for (const auto& row : c.values)
    for (size_t i = 0; i < row.size(); ++i) totals[i] += row[i];
  return totals;
}

std::string segment_tooltip(const StackedBarChart& c, size_t p, size_t i, double total) {
  const double v = c.values[p][i];
  std::string s = (c.x_label.empty() ? "" : c.x_label + " ") + c.categories[i] + ": " +
                  c.parts[p] + " " + num(v, 6);
  if (c.as_percent) s += " (" + num(100 * v / total, 4) + "%)";
  return s;
}

// One bar: segments bottom to top. Each edge is rounded once and shared by the two segments it
// separates, so the printed heights add up exactly to the bar height.
void draw_bar(Svg& svg, const StackedBarChart& c, size_t i, double total, double x, double w,
              const Scale& sy) {
  double cum = 0, y_below = round2(sy(0));
  for (size_t p = 0; p < c.parts.size(); ++p) {
    if (c.values[p][i] == 0) continue;
    cum += c.values[p][i];
    const double y = round2(sy(c.as_percent ? 100 * cum / total : cum));
    svg.out += "<rect x=\"" + px(x) + "\" y=\"" + px(y) + "\" width=\"" + px(w) +
               "\" height=\"" + px(y_below - y) + "\" fill=\"" +
               kPalette[p % kPalette.size()] + "\"><title>" +
               xml_escape(segment_tooltip(c, p, i, total)) + "</title></rect>\n";
    y_below = y;
  }
}

// Bars centred in equal slots, 60% of the slot wide, with the category under each.
void draw_bars(Svg& svg, const StackedBarChart& c, const Frame& f, const Scale& sy) {
  const std::vector<double> totals = bar_totals(c);
  const double slot = (f.right - f.left) / static_cast<double>(c.categories.size());
  for (size_t i = 0; i < c.categories.size(); ++i) {
    const double centre = f.left + slot * (static_cast<double>(i) + 0.5);
    if (totals[i] > 0) draw_bar(svg, c, i, totals[i], centre - 0.3 * slot, 0.6 * slot, sy);
    svg.line(centre, f.bottom, centre, f.bottom + 5, " stroke=\"#000000\"");
    svg.text(centre, f.bottom + 18, c.categories[i], " text-anchor=\"middle\"");
  }
}

// Legend rows top to bottom in reverse part order, matching the stacking seen in a bar.
void draw_bar_legend(Svg& svg, const Frame& f, const StackedBarChart& c) {
  for (size_t row = 0; row < c.parts.size(); ++row) {
    const size_t p = c.parts.size() - 1 - row;
    const double x = f.right + 16, y = f.top + 8 + 18 * static_cast<double>(row);
    svg.out += "<path d=\"M" + px(x + 6) + " " + px(y - 6) + "h12v12h-12Z\" fill=\"" +
               kPalette[p % kPalette.size()] + "\"/>\n";
    draw_legend_label(svg, x + 30, y, c.parts[p], legend_chars(c.width, f));
  }
}

Ticks bar_ticks(const StackedBarChart& c) {
  if (!c.as_percent) {
    const std::vector<double> totals = bar_totals(c);
    return axis_ticks(0, *std::max_element(totals.begin(), totals.end()), TickKind::ZeroBased);
  }
  Ticks t;
  for (int v = 0; v <= 100; v += 20) t.at.push_back(v);
  label_ticks(t, "%");
  return t;
}

}  // namespace

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 forbids these control characters even as character references.
        const auto u = static_cast<unsigned char>(ch);
        out += (u < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') ? '?' : ch;
    }
  }
  return out;
}

std::string render_line_chart(const LineChart& c) {
  check_series(c);
  const std::vector<double> b = data_bounds(c);
  if (b.empty()) return render_empty(c.title, c.notes, c.width, c.height);
  const Ticks xt = axis_ticks(b[0], b[1], c.log_x ? TickKind::Log2 : TickKind::Linear);
  const Ticks yt = axis_ticks(b[2], b[3], c.log_y ? TickKind::Log125 : TickKind::ZeroBased);
  const Frame f = layout(c.width, c.height, !c.title.empty(), yt,
                         legend_width(series_names(c), c.width), c.notes.size());
  const Scale sx(xt, f.left, f.right), sy(yt, f.bottom, f.top);
  Svg svg;
  svg.open(c.width, c.height);
  draw_title(svg, c.width, c.title);
  draw_x_ticks(svg, f, xt, sx);
  draw_y_axis(svg, f, yt, sy);
  draw_x_axis_line(svg, f);
  draw_axis_labels(svg, f, c.x_label, c.y_label);
  for (size_t i = 0; i < c.series.size(); ++i) {
    const std::string color = series_color(c.series[i], i);
    if (has_line(c.series[i].style)) draw_series_line(svg, c.series[i], color, c, sx, sy);
    if (has_markers(c.series[i].style)) draw_series_points(svg, c.series[i], color, c, sx, sy);
  }
  draw_line_legend(svg, f, c);
  draw_notes(svg, f, c.notes);
  svg.close();
  return svg.out;
}

std::string render_stacked_bar_chart(const StackedBarChart& c) {
  check_bars(c);
  const std::vector<double> totals = bar_totals(c);
  if (std::none_of(totals.begin(), totals.end(), [](double t) { return t > 0; }))
    return render_empty(c.title, c.notes, c.width, c.height);
  const Ticks yt = bar_ticks(c);
  const Frame f = layout(c.width, c.height, !c.title.empty(), yt,
                         legend_width(c.parts, c.width), c.notes.size());
  const Scale sy(yt, f.bottom, f.top);
  Svg svg;
  svg.open(c.width, c.height);
  draw_title(svg, c.width, c.title);
  draw_y_axis(svg, f, yt, sy);
  draw_bars(svg, c, f, sy);
  draw_x_axis_line(svg, f);
  draw_axis_labels(svg, f, c.x_label, c.y_label);
  draw_bar_legend(svg, f, c);
  draw_notes(svg, f, c.notes);
  svg.close();
  return svg.out;
}

}  // namespace batchscope::report
