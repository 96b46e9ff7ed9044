// A small table of preformatted cells that prints either as aligned text for the terminal
// (right-aligned columns, '#'-free) or as a Markdown pipe table, so the terminal report and
// sweep.md show the same rows.
//   Table t({"batch", "ms/it"});
//   t.add({"64", "29.1"});
//   std::string s = t.text();  // or t.markdown()
#pragma once
#include <string>
#include <vector>

namespace batchscope::report {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  std::string text() const;      // columns right-aligned, two spaces apart
  std::string markdown() const;  // | a | b |, numbers right-aligned

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// printf into a std::string.
std::string fmt(const char* format, ...) __attribute__((format(printf, 1, 2)));
// Seconds as milliseconds with the digits that matter: "12.3 ms", "0.456 ms", "0.0789 ms".
std::string ms(double seconds);

}  // namespace batchscope::report
