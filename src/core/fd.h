// A POSIX file descriptor that closes itself: the readers and the atomic writer share it.
//   Fd fd(::open(path, O_RDONLY | O_CLOEXEC));
//   if (fd.get() < 0) ...;  // and fd.close() when its result matters (a written file)
#pragma once
#include <unistd.h>

#include <utility>

namespace batchscope {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Hands back close()'s result, which for a written file can report a deferred write error.
  int close() { return ::close(std::exchange(fd_, -1)); }

 private:
  int fd_;
};

}  // namespace batchscope
