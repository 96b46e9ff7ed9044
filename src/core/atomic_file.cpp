// Temporary file, fsync, rename, fsync of the folder (see atomic_file.h).
#include "core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "batchscope/error.h"
#include "core/fd.h"

namespace batchscope {

void write_file_atomic(const std::filesystem::path& file, std::span<const std::string_view> pieces) {
  const std::string prefix = "writing '" + file.string() + "': ";
  auto fail = [&](const std::string& what) {
    std::string msg = prefix + what + ": " + std::strerror(errno);
    std::replace(msg.begin(), msg.end(), '\n', ' ');  // a path with a newline stays one line
    throw DataError(msg);
  };
  const std::string tmp = file.string() + ".tmp." + std::to_string(::getpid());
  {
    // 0666 so the process umask decides the final mode, as for any newly created file.
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
    if (fd.get() < 0) fail("cannot create '" + tmp + "'");
    try {
      for (std::string_view piece : pieces) {
        const char* p = piece.data();
        size_t n = piece.size();
        while (n > 0) {
          const ssize_t put = ::write(fd.get(), p, std::min<size_t>(n, size_t{1} << 30));
          if (put < 0 && errno == EINTR) continue;
          if (put < 0) fail("write to '" + tmp + "' failed");
          p += put;
          n -= static_cast<size_t>(put);
        }
      }
      if (::fsync(fd.get()) != 0) fail("fsync of '" + tmp + "' failed");
      if (fd.close() != 0) fail("close of '" + tmp + "' failed");
      if (std::rename(tmp.c_str(), file.c_str()) != 0) fail("rename from '" + tmp + "' failed");
    } catch (...) {
      ::unlink(tmp.c_str());
      throw;
    }
  }
  // The rename is durable only once the directory entry itself reaches the disk.
  const std::filesystem::path parent = file.parent_path();
  const std::string dir = parent.empty() ? std::string(".") : parent.string();
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() < 0) fail("cannot open directory '" + dir + "' to fsync it");
  // EINVAL: this file system cannot sync directories; the rename is as durable as it gets.
  if (::fsync(dfd.get()) != 0 && errno != EINVAL) fail("fsync of directory '" + dir + "' failed");
}

}  // namespace batchscope
