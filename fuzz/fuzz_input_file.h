// The readers take paths, so each fuzz input is written to one reused temporary file first.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace batchscope::fuzz {

inline std::string write_input(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/batchscope-fuzz-" + std::to_string(getpid());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) __builtin_trap();
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  return path;
}

}  // namespace batchscope::fuzz
