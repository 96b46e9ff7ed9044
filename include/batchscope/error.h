// User-facing errors (thrown at boundaries: flags, files, model specs, reshape) and
// always-on invariant checks for engine internals (abort with file:line; kernels never throw).
#pragma once
#include <stdexcept>
#include <string>
#include <utility>

namespace batchscope {

// Base of every error a user can cause. `main` prints "error: <what>" and exits 1.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// A bad setting or flag value: exit code 2. Library code names the setting it rejects as the
// API spells it (`option`: "batch_size", "conv_algo"), never as a command-line flag, and leaves
// it out of what(); each front-end names it its own way (option_message: the CLI as
// --batch-size, Python as the keyword argument batch_size).
class UsageError : public Error {
 public:
  using Error::Error;
  UsageError(std::string option, const std::string& what) : Error(what), option_(std::move(option)) {}
  const std::string& option() const { return option_; }

 private:
  std::string option_;
};
// "<option as the front-end spells it>: <what>", or what() alone when no option is named.
// flag_style: "--batch-size"; else "batch_size".
std::string option_message(const UsageError& e, bool flag_style);
// A file that cannot be read or does not hold what it should.
class DataError : public Error {
 public:
  using Error::Error;
};
// A model spec or tensor shape that does not fit.
class ShapeError : public Error {
 public:
  using Error::Error;
};

// file and line come from __FILE__/__LINE__: clang 14 with libstdc++ 12 (the fuzz and
// sanitizer builds) has no std::source_location.
[[noreturn]] void check_failed(const char* cond, const std::string& msg, const char* file,
                               int line);

}  // namespace batchscope

// BS_CHECK: always on, O(1) conditions only. BS_DCHECK: debug builds only.
#define BS_CHECK(cond, msg)                                                  \
  do {                                                                       \
    if (!(cond)) [[unlikely]]                                                \
      ::batchscope::check_failed(#cond, (msg), __FILE__, __LINE__);          \
  } while (0)
#ifdef NDEBUG
#define BS_DCHECK(cond, msg) \
  do {                       \
  } while (0)
#else
#define BS_DCHECK(cond, msg) BS_CHECK(cond, msg)
#endif
