// read_pgm: one greyscale PGM image, binary (P5) or ASCII (P2), maxval 1..255, scaled
// to 0..255. Used to classify a single picture; errors name the file like the IDX reader's.
// Format: https://netpbm.sourceforge.net/doc/pgm.html
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>

#include "batchscope/error.h"
#include "batchscope/idx.h"
#include "data/gzip_reader.h"

namespace batchscope {
namespace {

using detail::ByteReader;
using detail::count_of;
using detail::throw_read_error;

// Far above any picture this tool classifies; refused before allocating.
constexpr int64_t kMaxPgmPixels = int64_t{1} << 28;
constexpr int kEnd = -1;

// One byte of lookahead over a ByteReader, which the PGM header's grammar needs.
class Cursor {
 public:
  explicit Cursor(ByteReader& in) : in_(in), buf_(4096) {}

  int peek() {
    if (pos_ == end_) {
      end_ = in_.read(buf_.data(), buf_.size());
      pos_ = 0;
      if (end_ == 0) return kEnd;
    }
    return buf_[pos_];
  }
  int get() {
    int c = peek();
    if (c != kEnd) ++pos_;
    return c;
  }
  size_t read(uint8_t* dst, size_t n) {
    size_t got = std::min(n, end_ - pos_);
    std::copy_n(buf_.data() + pos_, got, dst);
    pos_ += got;
    if (got < n) got += in_.read(dst + got, n - got);
    return got;
  }
  uint64_t skip_rest() {
    uint64_t buffered = end_ - pos_;
    pos_ = end_;
    return buffered + in_.skip_rest();
  }

 private:
  ByteReader& in_;
  std::vector<uint8_t> buf_;
  size_t pos_ = 0, end_ = 0;
};

bool is_space(int c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string show_char(int c) {
  if (c >= 0x21 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
  char buf[16];
  std::snprintf(buf, sizeof buf, "byte 0x%02X", static_cast<unsigned>(c));
  return buf;
}

// Skips whitespace and '#' comments (which run to the end of the line).
void skip_space_and_comments(Cursor& cur) {
  for (;;) {
    int c = cur.peek();
    if (is_space(c)) {
      cur.get();
    } else if (c == '#') {
      while (c != kEnd && c != '\n' && c != '\r') c = cur.get();
    } else {
      return;
    }
  }
}

// The next decimal number, or kEnd at end of file. `what` names it in messages.
int64_t read_number(Cursor& cur, const std::filesystem::path& file, const std::string& what) {
  skip_space_and_comments(cur);
  int c = cur.peek();
  if (c == kEnd) return kEnd;
  if (c < '0' || c > '9') {
    throw_read_error(file, "expected " + what + " (a decimal number), found " + show_char(c));
  }
  int64_t v = 0;
  while (c >= '0' && c <= '9') {
    v = v * 10 + (c - '0');
    if (v > std::numeric_limits<int32_t>::max()) throw_read_error(file, what + " is too large");
    cur.get();
    c = cur.peek();
  }
  if (c != kEnd && !is_space(c) && c != '#') {
    throw_read_error(file, "expected whitespace after " + what + ", found " + show_char(c));
  }
  return v;
}

int64_t read_header_number(Cursor& cur, const std::filesystem::path& file,
                           const std::string& what) {
  int64_t v = read_number(cur, file, what);
  if (v == kEnd)
    throw_read_error(file, "file is truncated: the PGM header ends before the " + what);
  return v;
}

}  // namespace

IdxImages read_pgm(const std::filesystem::path& file) {
  ByteReader in(file);
  Cursor cur(in);
  int m0 = cur.get(), m1 = cur.get();
  if (m0 == kEnd) throw_read_error(file, "file is empty; expected a PGM image (P5 or P2)");
  if (m0 != 'P' || (m1 != '5' && m1 != '2')) {
    std::string found = m1 == kEnd ? show_char(m0) : show_char(m0) + " " + show_char(m1);
    const char* hint = "";
    if (m0 == 'P' && (m1 == '6' || m1 == '3')) hint = " (a colour PPM image)";
    if (m0 == 'P' && (m1 == '4' || m1 == '1')) hint = " (a black-and-white PBM image)";
    throw_read_error(
        file, "magic " + found + hint + "; expected 'P' '5' (binary PGM) or 'P' '2' (ASCII PGM)");
  }
  const bool binary = m1 == '5';
  if (!is_space(cur.peek())) {
    throw_read_error(file,
                     "expected whitespace after the magic, found " +
                         (cur.peek() == kEnd ? std::string("end of file") : show_char(cur.peek())));
  }
  const int64_t w = read_header_number(cur, file, "width");
  const int64_t h = read_header_number(cur, file, "height");
  const int64_t maxval = read_header_number(cur, file, "maxval");
  if (w < 1 || h < 1) {
    throw_read_error(file, "header declares " + std::to_string(w) + "×" + std::to_string(h) +
                               " pixels; width and height must be at least 1");
  }
  if (maxval < 1 || maxval > 255) {
    throw_read_error(
        file, "maxval " + std::to_string(maxval) + "; only 8-bit PGM (maxval 1..255) is supported");
  }
  const int64_t count = w * h;  // both ≤ 2^31, so no overflow
  const std::string declared =
      std::to_string(w) + "×" + std::to_string(h) + " = " + std::to_string(count);
  if (count > kMaxPgmPixels) {
    throw_read_error(file, "header declares " + declared + " pixels, more than the limit of " +
                               std::to_string(kMaxPgmPixels));
  }

  auto check_pixel = [&](int64_t v, int64_t i) {
    if (v > maxval) {
      throw_read_error(file, "pixel value " + std::to_string(v) + " at index " + std::to_string(i) +
                                 " is above maxval " + std::to_string(maxval));
    }
  };
  IdxImages img;
  img.n = 1;
  img.h = h;
  img.w = w;
  img.pixels.resize(static_cast<size_t>(count));
  if (binary) {
    // Exactly one whitespace byte separates maxval from the raster; the raster may start
    // with a byte that looks like whitespace, so nothing more is skipped.
    if (int c = cur.get(); c != kEnd && !is_space(c)) {
      throw_read_error(file, "expected one whitespace byte after maxval, found " + show_char(c));
    }
    size_t got = cur.read(img.pixels.data(), img.pixels.size());
    if (got < img.pixels.size()) {
      throw_read_error(file, "file is truncated: header declares " + declared +
                                 " bytes of pixels, found " + std::to_string(got));
    }
    for (int64_t i = 0; i < count; ++i) check_pixel(img.pixels[static_cast<size_t>(i)], i);
    if (uint64_t extra = cur.skip_rest(); extra > 0) {
      throw_read_error(file, count_of(extra, "trailing byte") + " after " +
                                 count_of(static_cast<uint64_t>(count), "byte") + " of pixels");
    }
  } else {
    for (int64_t i = 0; i < count; ++i) {
      int64_t v = read_number(cur, file, "pixel " + std::to_string(i));
      if (v == kEnd) {
        throw_read_error(file, "file is truncated: header declares " + declared +
                                   " pixels, found " + std::to_string(i));
      }
      check_pixel(v, i);  // before narrowing: an ASCII value may not fit in a byte
      img.pixels[static_cast<size_t>(i)] = static_cast<uint8_t>(v);
    }
    skip_space_and_comments(cur);
    if (cur.peek() != kEnd) {
      throw_read_error(file, "unexpected " + show_char(cur.peek()) + " after " +
                                 count_of(static_cast<uint64_t>(count), "pixel"));
    }
  }
  if (maxval != 255) {
    // Rounded, so that maxval itself maps to 255 and 0 stays 0.
    for (uint8_t& p : img.pixels) p = static_cast<uint8_t>((p * 255 + maxval / 2) / maxval);
  }
  return img;
}

}  // namespace batchscope
