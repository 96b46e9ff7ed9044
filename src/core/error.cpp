// Invariant-failure reporting for BS_CHECK.
#include "batchscope/error.h"

#include <cstdio>
#include <cstdlib>

namespace batchscope {

void check_failed(const char* cond, const std::string& msg, const char* file, int line) {
  std::fprintf(stderr, "internal error: %s:%d: check '%s' failed: %s\n", file, line, cond,
               msg.c_str());
  std::abort();
}

}  // namespace batchscope
