// Invariant-failure reporting for BS_CHECK, and how a front-end names the option of a UsageError.
#include "batchscope/error.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace batchscope {

std::string option_message(const UsageError& e, bool flag_style) {
  if (e.option().empty()) return e.what();
  std::string name = e.option();
  if (flag_style) {
    for (char& c : name)
      if (c == '_') c = '-';
    name = "--" + name;
  }
  return name + ": " + e.what();
}

void check_failed(const char* cond, const std::string& msg, const char* file, int line) {
  std::fprintf(stderr, "internal error: %s:%d: check '%s' failed: %s\n", file, line, cond,
               msg.c_str());
  std::abort();
}

}  // namespace batchscope
