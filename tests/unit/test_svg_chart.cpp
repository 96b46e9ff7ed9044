// The SVG chart writer: every document is parsed with expat, then checked for well-formedness,
// one marker per plottable point, escaping, tick labels and stacked-bar geometry.
#include <expat.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "report/svg_chart.h"

namespace batchscope::report {
namespace {

struct Element {
  std::string name;
  std::map<std::string, std::string> attrs;
  std::string text;  // character data directly inside, children's text excluded
};

struct Parsed {
  bool ok = false;
  std::string error;
  std::vector<Element> elements;  // in document order
  std::vector<size_t> open;       // indices of the elements not yet closed

  int count(const std::string& name) const {
    int n = 0;
    for (const auto& e : elements) n += e.name == name;
    return n;
  }
  std::vector<const Element*> all(const std::string& name) const {
    std::vector<const Element*> out;
    for (const auto& e : elements)
      if (e.name == name) out.push_back(&e);
    return out;
  }
  std::vector<std::string> texts(const std::string& name) const {
    std::vector<std::string> out;
    for (const auto* e : all(name)) out.push_back(e->text);
    return out;
  }
  const Element* find(const std::string& name, const std::string& cls) const {
    for (const auto& e : elements)
      if (e.name == name && e.attrs.count("class") && e.attrs.at("class") == cls) return &e;
    return nullptr;
  }
};

void on_start(void* user, const XML_Char* name, const XML_Char** attrs) {
  auto* p = static_cast<Parsed*>(user);
  Element e{name, {}, {}};
  for (size_t i = 0; attrs[i]; i += 2) e.attrs[attrs[i]] = attrs[i + 1];
  p->open.push_back(p->elements.size());
  p->elements.push_back(std::move(e));
}
void on_end(void* user, const XML_Char*) { static_cast<Parsed*>(user)->open.pop_back(); }
void on_chars(void* user, const XML_Char* s, int len) {
  auto* p = static_cast<Parsed*>(user);
  if (!p->open.empty()) p->elements[p->open.back()].text.append(s, static_cast<size_t>(len));
}

Parsed parse(const std::string& doc) {
  Parsed p;
  XML_Parser parser = XML_ParserCreate("UTF-8");
  XML_SetUserData(parser, &p);
  XML_SetElementHandler(parser, on_start, on_end);
  XML_SetCharacterDataHandler(parser, on_chars);
  p.ok = XML_Parse(parser, doc.data(), static_cast<int>(doc.size()), /*isFinal=*/1) ==
         XML_STATUS_OK;
  if (!p.ok)
    p.error = std::string(XML_ErrorString(XML_GetErrorCode(parser))) + " at line " +
              std::to_string(XML_GetCurrentLineNumber(parser));
  XML_ParserFree(parser);
  return p;
}

double attr(const Element& e, const std::string& name) { return std::stod(e.attrs.at(name)); }

// Batch sizes 1..256 with an epoch time that falls then flattens, like a real sweep.
ChartSeries sweep_series(const std::string& name) {
  ChartSeries s;
  s.name = name;
  for (double b = 1; b <= 256; b *= 2) {
    s.x.push_back(b);
    s.y.push_back(60 * (0.004 / b + 0.0025) * 10);
  }
  return s;
}

ChartSeries make_series(const std::string& name, std::vector<double> x, std::vector<double> y) {
  ChartSeries s;
  s.name = name;
  s.x = std::move(x);
  s.y = std::move(y);
  return s;
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

TEST(SvgChart, LineChartIsWellFormedWithOneCirclePerPoint) {
  LineChart c;
  c.title = "Epoch time";
  c.x_label = "batch size";
  c.y_label = "seconds";
  c.series = {sweep_series("measured"), sweep_series("points only"), sweep_series("line")};
  c.series[1].style = ChartSeries::Style::Points;
  c.series[2].style = ChartSeries::Style::DashedLine;
  c.notes = {"t(B) = N (a/B + b)"};
  const std::string doc = render_line_chart(c);
  EXPECT_EQ(doc.rfind("<?xml", 0), 0u);
  const Parsed p = parse(doc);
  ASSERT_TRUE(p.ok) << p.error;
  ASSERT_FALSE(p.elements.empty());
  const Element& root = p.elements.front();
  EXPECT_EQ(root.name, "svg");
  EXPECT_EQ(root.attrs.at("xmlns"), "http://www.w3.org/2000/svg");
  EXPECT_EQ(root.attrs.at("viewBox"), "0 0 760 460");
  EXPECT_EQ(p.count("circle"), 18);  // 9 + 9; the dashed line has no markers
  EXPECT_EQ(p.count("rect"), 0);
  for (const auto* circle : p.all("circle")) EXPECT_EQ(circle->text, "") << "title is a child";
  // One tooltip per circle plus one per line path; each names its series and values.
  EXPECT_EQ(p.count("title"), 18 + 2);
  const auto titles = p.texts("title");
  EXPECT_NE(std::find(titles.begin(), titles.end(), "measured: batch size 64, seconds 1.5375"),
            titles.end());
  const auto texts = p.texts("text");
  EXPECT_NE(std::find(texts.begin(), texts.end(), "Epoch time"), texts.end());
  EXPECT_NE(std::find(texts.begin(), texts.end(), "t(B) = N (a/B + b)"), texts.end());
}

TEST(SvgChart, SkipsNonFiniteAndNonPositivePointsOnLogAxes) {
  LineChart c;
  c.log_x = true;
  c.log_y = true;
  ChartSeries s;
  s.name = "s";
  s.x = {1, 2, 0, 8, -16, 32, 64, kNaN, 256};
  s.y = {5, kInf, 3, 2, 1, 0, -1, 1, 0.5};
  c.series = {s};
  Parsed p = parse(render_line_chart(c));
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.count("circle"), 3);  // x=1, 8, 256
  // The line breaks at every skipped point: three runs, each starting with M.
  const Element* line = nullptr;
  for (const auto* e : p.all("path"))
    if (e->attrs.count("stroke-width") && e->attrs.at("fill") == "none") line = e;
  ASSERT_NE(line, nullptr);
  const std::string& d = line->attrs.at("d");
  EXPECT_EQ(std::count(d.begin(), d.end(), 'M'), 3) << d;
  EXPECT_EQ(std::count(d.begin(), d.end(), 'L'), 0) << d;

  // On linear axes only the non-finite points go: x=1, 0, 8, -16, 32, 64, 256.
  c.log_x = false;
  c.log_y = false;
  p = parse(render_line_chart(c));
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.count("circle"), 7);
}

TEST(SvgChart, NamesWithMarkupCharactersAreEscapedAndRoundTrip) {
  const std::string name = "a & b <c> \"d\" 'e'";
  EXPECT_EQ(xml_escape(name), "a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;");
  LineChart c;
  c.title = "<title> & more";
  c.x_label = "x \"quoted\"";
  c.series = {sweep_series(name)};
  c.series[0].color = "#123456\"";  // a hostile colour must not break the attribute either
  const std::string doc = render_line_chart(c);
  EXPECT_EQ(doc.find(name), std::string::npos);
  const Parsed p = parse(doc);
  ASSERT_TRUE(p.ok) << p.error;
  const auto texts = p.texts("text");
  EXPECT_NE(std::find(texts.begin(), texts.end(), name), texts.end());
  EXPECT_NE(std::find(texts.begin(), texts.end(), "<title> & more"), texts.end());
  EXPECT_NE(std::find(texts.begin(), texts.end(), "x \"quoted\""), texts.end());
  const auto titles = p.texts("title");
  ASSERT_FALSE(titles.empty());
  EXPECT_EQ(titles.back().rfind(name + ": x \"quoted\" ", 0), 0u) << titles.back();

  StackedBarChart b;
  b.categories = {"<1>", "&2"};
  b.parts = {name};
  b.values = {{1, 2}};
  const Parsed q = parse(render_stacked_bar_chart(b));
  ASSERT_TRUE(q.ok) << q.error;
  const auto bar_texts = q.texts("text");
  for (const std::string& want : {name, std::string("<1>"), std::string("&2")})
    EXPECT_NE(std::find(bar_texts.begin(), bar_texts.end(), want), bar_texts.end()) << want;
}

TEST(SvgChart, ControlCharactersCannotBreakTheDocument) {
  EXPECT_EQ(xml_escape("a\x01" "b\tc"), "a?b\tc");
  LineChart c;
  c.series = {sweep_series(std::string("bad\x02name\x1f"))};
  EXPECT_TRUE(parse(render_line_chart(c)).ok);
}

TEST(SvgChart, LogXTicksForBatchSizesArePowersOfTwoAsPlainIntegers) {
  LineChart c;
  c.series = {sweep_series("t")};
  const Parsed p = parse(render_line_chart(c));
  ASSERT_TRUE(p.ok) << p.error;
  // x tick labels are the centred texts just under the x axis.
  const Element* axis = p.find("line", "axis-x");
  ASSERT_NE(axis, nullptr);
  std::map<std::string, double> label_x;
  for (const auto* t : p.all("text"))
    if (attr(*t, "y") == attr(*axis, "y1") + 18) label_x[t->text] = attr(*t, "x");
  std::vector<std::string> want = {"1", "2", "4", "8", "16", "32", "64", "128", "256"};
  ASSERT_EQ(label_x.size(), want.size());
  for (const auto& w : want) EXPECT_TRUE(label_x.count(w)) << w;
  // Each point sits exactly on its tick: the scale and the ticks agree.
  const auto circles = p.all("circle");
  ASSERT_EQ(circles.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_DOUBLE_EQ(attr(*circles[i], "cx"), label_x[want[i]]) << want[i];
  // Equal spacing on a log axis.
  EXPECT_NEAR(label_x["2"] - label_x["1"], label_x["256"] - label_x["128"], 0.02);
}

std::vector<std::string> y_tick_labels(const Parsed& p) {
  std::vector<std::string> out;
  for (const auto* t : p.all("text"))
    if (t->attrs.count("text-anchor") && t->attrs.at("text-anchor") == "end")
      out.push_back(t->text);
  return out;
}

TEST(SvgChart, LinearYTicksUseNiceStepsFromZeroWithCompactLabels) {
  LineChart c;
  c.log_x = false;
  ChartSeries s;
  s.name = "s";
  s.x = {1, 2, 3};
  s.y = {3.2, 9.1, 5};
  c.series = {s};
  Parsed p = parse(render_line_chart(c));
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(y_tick_labels(p), (std::vector<std::string>{"0", "2", "4", "6", "8", "10"}));

  c.series[0].y = {0.013, 0.047, 0.02};
  p = parse(render_line_chart(c));
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(y_tick_labels(p),
            (std::vector<std::string>{"0", "0.01", "0.02", "0.03", "0.04", "0.05"}));

  // Mixed signs: no forced zero start, steps still 1-2-5.
  c.series[0].y = {-3, 7, 1};
  p = parse(render_line_chart(c));
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(y_tick_labels(p), (std::vector<std::string>{"-4", "-2", "0", "2", "4", "6", "8"}));
}

TEST(SvgChart, LogYTicksAreOneTwoFive) {
  LineChart c;
  c.log_y = true;
  ChartSeries s;
  s.name = "s";
  s.x = {1, 4, 16};
  s.y = {40, 7, 1.5};
  c.series = {s};
  const Parsed p = parse(render_line_chart(c));
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(y_tick_labels(p), (std::vector<std::string>{"1", "2", "5", "10", "20", "50"}));

  // Within one decade 1-2-5 would leave two ticks; linear steps on the log scale instead.
  c.series[0].y = {1, 1.5, 2};
  const Parsed q = parse(render_line_chart(c));
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(y_tick_labels(q), (std::vector<std::string>{"1", "1.2", "1.4", "1.6", "1.8", "2"}));
}

// Every coordinate attribute parses to a finite number inside the canvas with <= 2 decimals.
void expect_sane_coordinates(const Parsed& p) {
  for (const auto& e : p.elements)
    for (const char* a : {"x", "y", "cx", "cy", "x1", "y1", "x2", "y2", "width", "height"}) {
      if (!e.attrs.count(a)) continue;
      const std::string& v = e.attrs.at(a);
      const size_t dot = v.find('.');
      EXPECT_TRUE(dot == std::string::npos || v.size() - dot - 1 <= 2)
          << e.name << " " << a << "=" << v;
      const double d = std::stod(v);
      EXPECT_TRUE(std::isfinite(d) && d >= 0 && d <= 760) << e.name << " " << a << "=" << v;
    }
}

TEST(SvgChart, SinglePointAndEqualValuesDoNotDivideByZero) {
  // 10 and 64 sit exactly on a tick, so no tick rounding can widen the range for them.
  for (bool log_axes : {false, true})
    for (double y : {0.0, 9.1, 10.0, 64.0, -2.0})
      for (const ChartSeries& s : {make_series("one", {64}, {y}),
                                   make_series("flat", {4, 4, 4}, {y, y, y})}) {
        LineChart c;
        c.log_x = log_axes;
        c.log_y = log_axes;
        c.series = {s};
        const std::string doc = render_line_chart(c);
        EXPECT_EQ(doc.find("nan"), std::string::npos);
        EXPECT_EQ(doc.find("inf"), std::string::npos);
        const Parsed p = parse(doc);
        ASSERT_TRUE(p.ok) << p.error;
        const int points = (log_axes && y <= 0) ? 0 : static_cast<int>(s.x.size());
        EXPECT_EQ(p.count("circle"), points) << s.name << " log=" << log_axes << " y=" << y;
        expect_sane_coordinates(p);
      }
}

bool says_no_data(const Parsed& p) {
  const auto texts = p.texts("text");
  return std::find(texts.begin(), texts.end(), "no data") != texts.end();
}

TEST(SvgChart, EmptyChartsSayNoData) {
  LineChart c;
  c.title = "nothing yet";
  c.notes = {"a note"};
  Parsed p = parse(render_line_chart(c));
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_TRUE(says_no_data(p));
  EXPECT_EQ(p.count("circle"), 0);

  c.series = {make_series("all skipped", {1, kNaN}, {kInf, 2})};
  p = parse(render_line_chart(c));
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_TRUE(says_no_data(p));

  c.series = {sweep_series("real")};
  EXPECT_FALSE(says_no_data(parse(render_line_chart(c))));

  StackedBarChart b;
  p = parse(render_stacked_bar_chart(b));
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_TRUE(says_no_data(p));
  b.categories = {"1", "2"};
  b.parts = {"fwd"};
  b.values = {{0, 0}};
  p = parse(render_stacked_bar_chart(b));
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_TRUE(says_no_data(p));
  EXPECT_EQ(p.count("rect"), 0);
}

TEST(SvgChart, OutputIsDeterministicWithShortCoordinates) {
  LineChart c;
  c.series = {sweep_series("a"), sweep_series("b")};
  c.series[1].y[3] = 1.0 / 3;
  const std::string first = render_line_chart(c);
  EXPECT_EQ(first, render_line_chart(c));
  const Parsed p = parse(first);
  ASSERT_TRUE(p.ok) << p.error;
  expect_sane_coordinates(p);
}

TEST(SvgChart, LegendSitsRightOfThePlotArea) {
  LineChart c;
  c.series = {sweep_series("first series"), sweep_series("second")};
  c.series[1].style = ChartSeries::Style::Line;
  const Parsed p = parse(render_line_chart(c));
  ASSERT_TRUE(p.ok) << p.error;
  const Element* axis = p.find("line", "axis-x");
  ASSERT_NE(axis, nullptr);
  int found = 0;
  for (const auto* t : p.all("text"))
    if (t->text == "first series" || t->text == "second") {
      EXPECT_GT(attr(*t, "x"), attr(*axis, "x2"));
      ++found;
    }
  EXPECT_EQ(found, 2);
  // Default colours differ between series.
  const Element* points = p.find("g", "points");
  ASSERT_NE(points, nullptr);
  int line_paths = 0;
  for (const auto* e : p.all("path"))
    if (e->attrs.count("stroke-width") && e->attrs.at("fill") == "none") {
      ++line_paths;
      if (line_paths == 2) {
        EXPECT_NE(e->attrs.at("stroke"), points->attrs.at("fill"));
      }
    }
  EXPECT_EQ(line_paths, 2);
}

TEST(SvgChart, LongLegendNamesAreCutToStayOnTheCanvas) {
  const std::string name =
      "a legend name far too long for a third of the chart, \u00e9t\u00e9 included";
  LineChart c;
  c.series = {sweep_series(name)};
  const Parsed p = parse(render_line_chart(c));
  ASSERT_TRUE(p.ok) << p.error;
  const Element* label = nullptr;
  for (const auto* t : p.all("text"))
    if (t->text.rfind("a legend name", 0) == 0) label = t;
  ASSERT_NE(label, nullptr);
  const std::string ellipsis = "\u2026";
  ASSERT_GT(label->text.size(), ellipsis.size());
  EXPECT_EQ(label->text.substr(label->text.size() - ellipsis.size()), ellipsis);
  EXPECT_LT(label->text.size(), name.size());
  // The estimated text width ends inside the canvas; the full name survives as a tooltip.
  size_t chars = 0;
  for (char ch : label->text) chars += (ch & 0xC0) != 0x80;
  EXPECT_LE(attr(*label, "x") + 7.0 * static_cast<double>(chars), 760.0);
  const auto titles = p.texts("title");
  EXPECT_NE(std::find(titles.begin(), titles.end(), name), titles.end());
}

TEST(SvgChart, MismatchedSeriesLengthsThrow) {
  LineChart c;
  c.series = {make_series("bad", {1, 2, 3}, {1, 2})};
  EXPECT_THROW(render_line_chart(c), std::invalid_argument);
}

TEST(SvgChart, TooSmallCanvasThrows) {
  LineChart c;
  c.series = {sweep_series("t")};
  c.width = 120;
  EXPECT_THROW(render_line_chart(c), std::invalid_argument);
}

StackedBarChart phase_bars() {
  StackedBarChart b;
  b.title = "Where the time goes";
  b.x_label = "batch";
  b.y_label = "share of epoch time";
  b.categories = {"1", "4", "16", "64"};
  b.parts = {"forward", "backward", "optimizer"};
  b.values = {{3.1, 2.0, 1.0 / 3, 7}, {5.2, 4.4, 2.0 / 3, 9}, {1.7, 0, 1.0 / 7, 0.5}};
  return b;
}

// Sum of segment heights per bar, keyed by the bar's x.
std::map<double, double> bar_heights(const Parsed& p) {
  std::map<double, double> h;
  for (const auto* r : p.all("rect")) h[attr(*r, "x")] += attr(*r, "height");
  return h;
}

TEST(SvgChart, StackedBarsDrawOneRectPerNonZeroSegment) {
  const StackedBarChart b = phase_bars();
  const Parsed p = parse(render_stacked_bar_chart(b));
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.count("rect"), 3 * 4 - 1);  // the one zero segment is not drawn
  EXPECT_EQ(p.count("circle"), 0);
  const auto titles = p.texts("title");
  EXPECT_EQ(titles.size(), 11u);
  EXPECT_NE(std::find(titles.begin(), titles.end(), "batch 64: forward 7 (42.42%)"),
            titles.end());
  const auto texts = p.texts("text");
  for (const char* want : {"1", "4", "16", "64", "forward", "backward", "optimizer", "100%"})
    EXPECT_NE(std::find(texts.begin(), texts.end(), want), texts.end()) << want;
}

TEST(SvgChart, PercentBarsFillThePlotHeight) {
  const Parsed p = parse(render_stacked_bar_chart(phase_bars()));
  ASSERT_TRUE(p.ok) << p.error;
  const Element* axis = p.find("line", "axis-y");
  ASSERT_NE(axis, nullptr);
  const double plot_h = attr(*axis, "y2") - attr(*axis, "y1");
  const auto heights = bar_heights(p);
  ASSERT_EQ(heights.size(), 4u);
  for (const auto& [x, h] : heights) EXPECT_NEAR(h, plot_h, 0.1) << "bar at x=" << x;
  expect_sane_coordinates(p);
  // Segments of one bar touch: each one's top is the next one's bottom.
  const auto rects = p.all("rect");
  EXPECT_NEAR(attr(*rects[0], "y"), attr(*rects[1], "y") + attr(*rects[1], "height"), 1e-9);
}

TEST(SvgChart, RawBarsAreProportionalToTheirTotals) {
  StackedBarChart b = phase_bars();
  b.as_percent = false;
  const Parsed p = parse(render_stacked_bar_chart(b));
  ASSERT_TRUE(p.ok) << p.error;
  const auto heights = bar_heights(p);
  ASSERT_EQ(heights.size(), 4u);
  std::vector<double> h;
  for (const auto& [x, v] : heights) h.push_back(v);
  const double totals[] = {10.0, 6.4, 1.0 + 1.0 / 7, 16.5};
  for (size_t i = 1; i < 4; ++i)
    EXPECT_NEAR(h[i] / h[0], totals[i] / totals[0], 0.01) << "bar " << i;
  EXPECT_EQ(y_tick_labels(p).front(), "0");
}

TEST(SvgChart, StackedBarShapeMismatchOrBadValuesThrow) {
  StackedBarChart b = phase_bars();
  b.values.pop_back();  // two rows for three parts
  EXPECT_THROW(render_stacked_bar_chart(b), std::invalid_argument);
  b = phase_bars();
  b.values[1].push_back(1);  // five values for four categories
  EXPECT_THROW(render_stacked_bar_chart(b), std::invalid_argument);
  b = phase_bars();
  b.values[0][2] = -1;
  EXPECT_THROW(render_stacked_bar_chart(b), std::invalid_argument);
  b = phase_bars();
  b.values[2][0] = kNaN;
  EXPECT_THROW(render_stacked_bar_chart(b), std::invalid_argument);
  EXPECT_NO_THROW(render_stacked_bar_chart(phase_bars()));
}

}  // namespace
}  // namespace batchscope::report
