// Invariant-failure reporting for BS_CHECK.
#include "batchscope/error.h"

#include <cstdio>
#include <cstdlib>

namespace batchscope {

void check_failed(const char* cond, const std::string& msg, const std::source_location& loc) {
  std::fprintf(stderr, "internal error: %s:%u: check '%s' failed: %s\n", loc.file_name(),
               static_cast<unsigned>(loc.line()), cond, msg.c_str());
  std::abort();
}

}  // namespace batchscope
