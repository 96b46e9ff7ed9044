// ByteReader: plain or gzip'd file bytes through one read() call. gzip is inflated in
// bounded chunks with zlib, so a large file never needs its compressed form in memory.
#include "data/gzip_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <system_error>

#include "batchscope/error.h"

namespace batchscope::detail {
namespace {

constexpr size_t kInputBufferBytes = size_t{1} << 16;
// zlib counts in uInt (32 bits); larger requests are served in pieces of this size.
constexpr size_t kMaxInflateChunk = size_t{1} << 30;

}  // namespace

void throw_read_error(const std::filesystem::path& file, const std::string& what) {
  throw DataError("reading '" + file.string() + "': " + what);
}

std::string count_of(uint64_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

struct ByteReader::Inflater {
  z_stream zs{};
  explicit Inflater(const std::filesystem::path& file) {
    // 16 + MAX_WBITS: expect a gzip wrapper (header + CRC-32 and length trailer, both checked).
    int rc = inflateInit2(&zs, 16 + MAX_WBITS);
    if (rc == Z_MEM_ERROR) throw std::bad_alloc();
    if (rc != Z_OK)
      throw_read_error(file, std::string("cannot start gzip decoding: ") + zError(rc));
  }
  ~Inflater() { inflateEnd(&zs); }
};

ByteReader::ByteReader(const std::filesystem::path& file) : file_(file) {
  std::error_code ec;
  // fopen succeeds on a directory on Linux and only fread fails, with a vaguer message.
  if (std::filesystem::is_directory(file, ec))
    throw_read_error(file, "cannot open: it is a directory");
  fp_ = std::fopen(file.c_str(), "rb");
  if (fp_ == nullptr) throw_read_error(file, std::string("cannot open: ") + std::strerror(errno));
  in_buf_.resize(kInputBufferBytes);
  try {
    // Sniff the content, not the name: people rename and re-gzip files freely.
    if (fill_input(2) >= 2 && in_buf_[0] == 0x1f && in_buf_[1] == 0x8b) {
      inflater_ = std::make_unique<Inflater>(file_);
    }
  } catch (...) {
    std::fclose(fp_);
    throw;
  }
}

ByteReader::~ByteReader() {
  if (fp_ != nullptr) std::fclose(fp_);
}

size_t ByteReader::fill_input(size_t want) {
  size_t avail = in_end_ - in_pos_;
  if (avail >= want) return avail;
  if (in_pos_ > 0) {
    std::memmove(in_buf_.data(), in_buf_.data() + in_pos_, avail);
    in_pos_ = 0;
    in_end_ = avail;
  }
  while (in_end_ < want && in_end_ < in_buf_.size()) {
    size_t got = std::fread(in_buf_.data() + in_end_, 1, in_buf_.size() - in_end_, fp_);
    in_end_ += got;
    if (got == 0) {
      if (std::ferror(fp_))
        throw_read_error(file_, std::string("read error: ") + std::strerror(errno));
      break;  // end of file
    }
  }
  return in_end_ - in_pos_;
}

size_t ByteReader::read(uint8_t* dst, size_t n) {
  return inflater_ ? read_gzip(dst, n) : read_plain(dst, n);
}

size_t ByteReader::read_plain(uint8_t* dst, size_t n) {
  // First hand out what the content sniff already buffered, then read straight into dst.
  size_t got = std::min(n, in_end_ - in_pos_);
  if (got > 0) std::memcpy(dst, in_buf_.data() + in_pos_, got);
  in_pos_ += got;
  while (got < n) {
    size_t r = std::fread(dst + got, 1, n - got, fp_);
    got += r;
    if (r == 0) {
      if (std::ferror(fp_))
        throw_read_error(file_, std::string("read error: ") + std::strerror(errno));
      break;
    }
  }
  return got;
}

size_t ByteReader::read_gzip(uint8_t* dst, size_t n) {
  z_stream& zs = inflater_->zs;
  size_t got = 0;
  while (got < n && !done_) {
    if (fill_input(1) == 0) {
      throw_read_error(file_,
                       "corrupt gzip data (unexpected end of file: the gzip stream is truncated)");
    }
    size_t chunk = std::min(n - got, kMaxInflateChunk);
    zs.next_in = in_buf_.data() + in_pos_;
    zs.avail_in = static_cast<uInt>(in_end_ - in_pos_);
    zs.next_out = dst + got;
    zs.avail_out = static_cast<uInt>(chunk);
    int rc = inflate(&zs, Z_NO_FLUSH);
    got += chunk - zs.avail_out;
    in_pos_ = in_end_ - zs.avail_in;
    if (rc == Z_STREAM_END) {
      // `cat a.gz b.gz` is valid gzip (several members); anything else after a member is not.
      size_t avail = fill_input(2);
      if (avail == 0) {
        done_ = true;
      } else if (avail >= 2 && in_buf_[in_pos_] == 0x1f && in_buf_[in_pos_ + 1] == 0x8b) {
        inflateReset(&zs);
      } else {
        uint64_t garbage = avail;
        in_pos_ = in_end_;
        while (fill_input(1) > 0) {
          garbage += in_end_ - in_pos_;
          in_pos_ = in_end_;
        }
        throw_read_error(file_,
                         count_of(garbage, "byte") + " of garbage after the end of the gzip data");
      }
    } else if (rc == Z_MEM_ERROR) {
      throw std::bad_alloc();
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      // Z_BUF_ERROR only means "no progress this call"; the loop refills the input.
      const char* why = zs.msg != nullptr ? zs.msg : zError(rc);
      throw_read_error(file_, std::string("corrupt gzip data (") + why + ")");
    }
  }
  return got;
}

uint64_t ByteReader::skip_rest() {
  std::vector<uint8_t> scratch(kInputBufferBytes);
  uint64_t total = 0;
  for (;;) {
    size_t r = read(scratch.data(), scratch.size());
    total += r;
    if (r < scratch.size()) return total;
  }
}

}  // namespace batchscope::detail
