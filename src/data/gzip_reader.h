// ByteReader: reads a file's bytes in order, inflating them on the fly when the content
// starts with the gzip magic (1f 8b), so callers see the same bytes either way.
// Every failure (cannot open, read error, corrupt or truncated gzip, garbage after the
// gzip stream) is a DataError that starts with "reading '<file>': ". Also the two message
// helpers the IDX and PGM readers share.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace batchscope::detail {

// Throws DataError "reading '<file>': <what>".
[[noreturn]] void throw_read_error(const std::filesystem::path& file, const std::string& what);
// "1 byte", "12 bytes": counts in messages.
std::string count_of(uint64_t n, const std::string& noun);

class ByteReader {
 public:
  explicit ByteReader(const std::filesystem::path& file);
  ~ByteReader();
  ByteReader(const ByteReader&) = delete;
  ByteReader& operator=(const ByteReader&) = delete;

  // Reads up to n bytes into dst; returns fewer than n only at the end of the data.
  size_t read(uint8_t* dst, size_t n);
  // Reads and discards everything left; returns how many bytes that was.
  uint64_t skip_rest();

  bool is_gzip() const { return inflater_ != nullptr; }
  const std::filesystem::path& file() const { return file_; }

 private:
  struct Inflater;  // zlib state, kept out of this header

  size_t read_plain(uint8_t* dst, size_t n);
  size_t read_gzip(uint8_t* dst, size_t n);
  // Tops up the compressed-input buffer so that at least `want` bytes are available
  // (fewer only at end of file); returns how many are available.
  size_t fill_input(size_t want);

  std::filesystem::path file_;
  std::FILE* fp_ = nullptr;
  std::vector<uint8_t> in_buf_;  // compressed input (gzip) or sniffed bytes (plain)
  size_t in_pos_ = 0, in_end_ = 0;
  std::unique_ptr<Inflater> inflater_;
  bool done_ = false;  // gzip: the last member ended and nothing follows
};

}  // namespace batchscope::detail
