// Text and Markdown rendering of report tables (see table.h).
#include "report/table.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>

namespace batchscope::report {

std::string fmt(const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  char buf[512];
  const int n = std::vsnprintf(buf, sizeof buf, format, ap);
  va_end(ap);
  if (n < 0) return {};
  if (static_cast<size_t>(n) < sizeof buf) return std::string(buf, static_cast<size_t>(n));
  std::string out(static_cast<size_t>(n) + 1, '\0');
  va_start(ap, format);
  std::vsnprintf(out.data(), out.size(), format, ap);
  va_end(ap);
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string Table::text() const {
  std::vector<size_t> w(headers_.size(), 0);
  for (size_t c = 0; c < headers_.size(); ++c) w[c] = headers_[c].size();
  for (const auto& r : rows_)
    for (size_t c = 0; c < r.size() && c < w.size(); ++c) w[c] = std::max(w[c], r[c].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t c = 0; c < w.size(); ++c) {
      const std::string& v = c < cells.size() ? cells[c] : std::string();
      if (c) s += "  ";
      s += std::string(w[c] - std::min(w[c], v.size()), ' ') + v;
    }
    return s + "\n";
  };
  std::string out = line(headers_);
  for (const auto& r : rows_) out += line(r);
  return out;
}

std::string Table::markdown() const {
  std::string out = "|";
  for (const auto& h : headers_) out += " " + h + " |";
  out += "\n|";
  for (size_t c = 0; c < headers_.size(); ++c) out += c == 0 ? "---|" : "---:|";
  out += "\n";
  for (const auto& r : rows_) {
    out += "|";
    for (size_t c = 0; c < headers_.size(); ++c) out += " " + (c < r.size() ? r[c] : std::string()) + " |";
    out += "\n";
  }
  return out;
}

std::string ms(double seconds) {
  const double v = 1e3 * seconds;
  return std::fabs(v) >= 10 ? fmt("%.1f ms", v) : std::fabs(v) >= 0.1 ? fmt("%.3f ms", v) : fmt("%.4f ms", v);
}

}  // namespace batchscope::report
