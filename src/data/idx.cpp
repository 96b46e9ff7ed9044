// IDX reading and writing (LeCun's MNIST format): strict header checks, a size limit
// enforced before any allocation, truncation and trailing-byte detection, gzip either way.
// Also load_dataset (images + labels with matching counts) and find_idx_file.
#include "batchscope/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <utility>

#include "batchscope/error.h"
#include "data/gzip_reader.h"

namespace batchscope {
namespace {

using detail::ByteReader;
using detail::count_of;
using detail::throw_read_error;

constexpr uint32_t kImagesMagic = 0x00000803;
constexpr uint32_t kLabelsMagic = 0x00000801;
constexpr uint8_t kUnsignedByteType = 0x08;
// The payload is reserved up to kMaxUpfrontReserve (all of MNIST's 47 MB) and then grown
// in steps of kReadChunkBytes as data arrives, so memory follows the bytes actually
// present, not what a lying header declares.
constexpr size_t kReadChunkBytes = size_t{1} << 24;
constexpr size_t kMaxUpfrontReserve = size_t{1} << 26;

struct IdxKind {
  uint32_t magic;
  int rank;
  const char* name;  // "images" or "labels"
};
constexpr IdxKind kImages{kImagesMagic, 3, "images"};
constexpr IdxKind kLabels{kLabelsMagic, 1, "labels"};

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

std::string hex8(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", v);
  return buf;
}

std::string u128_to_string(unsigned __int128 v) {
  std::string s;
  do {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  } while (v != 0);
  return s;
}

uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

void put_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// Names of the IDX type codes, so "type 0x0D" can say it is float data.
const char* idx_type_name(unsigned code) {
  switch (code) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return "unknown";
  }
}

// A guess at what a non-IDX file is, from its first four bytes; people pass the wrong
// file more often than they pass a damaged one.
std::string describe_foreign(const uint8_t* b) {
  if (b[0] == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G') return "a PNG image";
  if (b[0] == 0xFF && b[1] == 0xD8) return "a JPEG image";
  if (b[0] == 'P' && (b[1] == '2' || b[1] == '5')) return "a PGM image";
  if (b[0] == 'P' && b[1] == 'K') return "a zip archive";
  if (b[0] == 'B' && b[1] == 'Z' && b[2] == 'h') return "bzip2 data";
  if (b[0] == 0xFD && b[1] == '7' && b[2] == 'z' && b[3] == 'X') return "xz data";
  if (std::all_of(b, b + 4, [](uint8_t c) {
        return (c >= 0x20 && c < 0x7F) || c == '\n' || c == '\t' || c == '\r';
      }))
    return "text";
  return "";
}

// "(images)", "(labels)", "(unsigned byte, rank 2)" for a magic whose first bytes are 0, 0, 8.
std::string describe_ubyte_magic(uint32_t magic) {
  if (magic == kImagesMagic) return "images";
  if (magic == kLabelsMagic) return "labels";
  return "unsigned byte, rank " + std::to_string(magic & 0xFF);
}

std::string dims_text(const std::vector<uint32_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) s += "×";
    s += std::to_string(dims[i]);
  }
  return s;
}

// Reads and checks the magic and the dimensions; returns the dimensions (all ≥ 1).
std::vector<uint32_t> read_header(ByteReader& in, const IdxKind& kind) {
  const std::filesystem::path& file = in.file();
  const std::string expected = hex32(kind.magic) + " (" + kind.name + ")";
  uint8_t head[4];
  size_t got = in.read(head, 4);
  if (got == 0)
    throw_read_error(file, "file is empty; expected an IDX header with magic " + expected);
  if (got < 4) {
    throw_read_error(file, "file is truncated: " + count_of(got, "byte") +
                               ", too short for the 4-byte IDX magic; expected magic " + expected);
  }
  uint32_t magic = be32(head);
  if (head[0] != 0 || head[1] != 0) {
    std::string looks = describe_foreign(head);
    throw_read_error(file, "magic " + hex32(magic) + " (not an IDX file" +
                               (looks.empty() ? "" : "; looks like " + looks) + "); expected " +
                               expected);
  }
  if (head[2] != kUnsignedByteType) {
    throw_read_error(file, "magic " + hex32(magic) + " declares " + idx_type_name(head[2]) +
                               " data (type " + hex8(head[2]) +
                               "); only unsigned byte data (type 0x08) is supported");
  }
  if (head[3] != kind.rank) {
    throw_read_error(file, "magic " + hex32(magic) + " (" + describe_ubyte_magic(magic) +
                               "); expected " + expected);
  }
  uint8_t raw_dims[4 * 3];
  const size_t dim_bytes = 4 * static_cast<size_t>(kind.rank);
  got = in.read(raw_dims, dim_bytes);
  if (got < dim_bytes) {
    throw_read_error(file, "file is truncated: the " + std::string(kind.name) + " header needs " +
                               std::to_string(4 + dim_bytes) + " bytes, found " +
                               std::to_string(4 + got));
  }
  std::vector<uint32_t> dims(static_cast<size_t>(kind.rank));
  for (size_t i = 0; i < dims.size(); ++i) dims[i] = be32(raw_dims + 4 * i);
  if (std::find(dims.begin(), dims.end(), 0u) != dims.end()) {
    throw_read_error(file, "header declares " + dims_text(dims) + " " + kind.name +
                               "; every dimension must be at least 1");
  }
  return dims;
}

// Reads exactly `total` payload bytes, then insists the data ends there. `declared` and
// `payload` word the messages, e.g. "60000×28×28 = 47040000 bytes of pixels" and
// "47040000 bytes of pixels".
std::vector<uint8_t> read_payload(ByteReader& in, uint64_t total, const std::string& declared,
                                  const std::string& payload) {
  std::vector<uint8_t> data;
  data.reserve(static_cast<size_t>(std::min<uint64_t>(total, kMaxUpfrontReserve)));
  uint64_t got = 0;
  while (got < total) {
    size_t step = static_cast<size_t>(std::min<uint64_t>(total - got, kReadChunkBytes));
    data.resize(static_cast<size_t>(got) + step);
    size_t r = in.read(data.data() + got, step);
    got += r;
    if (r < step) {
      throw_read_error(in.file(), "file is truncated: header declares " + declared + ", found " +
                                      std::to_string(got));
    }
  }
  uint64_t extra = in.skip_rest();
  if (extra > 0) {
    throw_read_error(in.file(), count_of(extra, "trailing byte") + " after " + payload);
  }
  return data;
}

// Output to a plain or gzip'd file; every failure, including the final flush, is a
// DataError. A file this writer created and could not finish is removed.
class IdxWriter {
 public:
  IdxWriter(const std::filesystem::path& file, bool gzip) : file_(file) {
    if (gzip) {
      errno = 0;
      gz_ = gzopen(file.c_str(), "wb");
      if (gz_ == nullptr)
        fail(std::string("cannot open: ") + (errno != 0 ? std::strerror(errno) : "out of memory"));
    } else {
      fp_ = std::fopen(file.c_str(), "wb");
      if (fp_ == nullptr) fail(std::string("cannot open: ") + std::strerror(errno));
    }
  }
  ~IdxWriter() {
    if (gz_ == nullptr && fp_ == nullptr) return;
    // Still open: a write failed and its exception is on its way out.
    if (gz_ != nullptr) gzclose(gz_);
    if (fp_ != nullptr) std::fclose(fp_);
    remove_partial();
  }
  IdxWriter(const IdxWriter&) = delete;
  IdxWriter& operator=(const IdxWriter&) = delete;

  void write(const uint8_t* p, size_t n) {
    while (n > 0) {
      // gzwrite takes an unsigned count; fwrite may write less than asked for.
      size_t step = std::min<size_t>(n, size_t{1} << 30);
      size_t done;
      if (gz_ != nullptr) {
        int w = gzwrite(gz_, p, static_cast<unsigned>(step));
        if (w <= 0) fail(gz_message());
        done = static_cast<size_t>(w);
      } else {
        done = std::fwrite(p, 1, step, fp_);
        if (done == 0) fail(std::strerror(errno));
      }
      p += done;
      n -= done;
    }
  }

  // Flushes and closes; a full disk often shows up only here.
  void close() {
    if (gz_ != nullptr) {
      gzFile gz = std::exchange(gz_, nullptr);
      errno = 0;
      int rc = gzclose(gz);
      if (rc != Z_OK) {
        remove_partial();
        fail(rc == Z_ERRNO && errno != 0 ? std::strerror(errno) : zError(rc));
      }
    } else if (fp_ != nullptr) {
      std::FILE* fp = std::exchange(fp_, nullptr);
      if (std::fclose(fp) != 0) {
        std::string why = std::strerror(errno);
        remove_partial();
        fail(why);
      }
    }
  }

 private:
  std::string gz_message() {
    int errnum = Z_OK;
    const char* msg = gzerror(gz_, &errnum);
    return errnum == Z_ERRNO ? std::strerror(errno) : msg;
  }
  void remove_partial() {
    std::error_code ec;
    std::filesystem::remove(file_, ec);
  }
  [[noreturn]] void fail(const std::string& why) {
    throw DataError("writing '" + file_.string() + "': " + why);
  }

  std::filesystem::path file_;
  gzFile gz_ = nullptr;
  std::FILE* fp_ = nullptr;
};

[[noreturn]] void throw_write_error(const std::filesystem::path& file, const std::string& what) {
  throw DataError("writing '" + file.string() + "': " + what);
}

// The writers refuse what the readers would refuse, so every file they make reads back.
uint32_t checked_dim(const std::filesystem::path& file, int64_t v, const char* what) {
  if (v < 1 || v > int64_t{UINT32_MAX}) {
    throw_write_error(file, std::string(what) + " is " + std::to_string(v) + "; expected 1.." +
                                std::to_string(UINT32_MAX));
  }
  return static_cast<uint32_t>(v);
}

}  // namespace

int idx_rank(const std::filesystem::path& file) {
  ByteReader in(file);
  uint8_t head[4];
  const size_t got = in.read(head, 4);
  if (got < 4)
    throw_read_error(file, got == 0 ? "file is empty; expected an IDX header"
                                    : "file is truncated: " + count_of(got, "byte") + ", too short for the 4-byte IDX magic");
  const uint32_t magic = be32(head);
  if (head[0] != 0 || head[1] != 0) {
    const std::string looks = describe_foreign(head);
    throw_read_error(file, "magic " + hex32(magic) + " (not an IDX file" + (looks.empty() ? "" : "; looks like " + looks) +
                               "); expected " + hex32(kImagesMagic) + " (images) or " + hex32(kLabelsMagic) + " (labels)");
  }
  if (magic != kImagesMagic && magic != kLabelsMagic)
    throw_read_error(file, "magic " + hex32(magic) + " (" + (head[2] == kUnsignedByteType ? describe_ubyte_magic(magic)
                                                                                           : std::string(idx_type_name(head[2])) + " data") +
                               "); expected " + hex32(kImagesMagic) + " (images) or " + hex32(kLabelsMagic) + " (labels)");
  return head[3];
}

IdxImages read_idx_images(const std::filesystem::path& file, int64_t max_bytes) {
  ByteReader in(file);
  std::vector<uint32_t> dims = read_header(in, kImages);
  // Three factors below 2^32 cannot overflow 128 bits, and the limit check comes before
  // any allocation, so a hostile header costs nothing.
  unsigned __int128 total = static_cast<unsigned __int128>(dims[0]) * dims[1] * dims[2];
  const std::string pixel_bytes =
      u128_to_string(total) + (total == 1 ? " byte" : " bytes") + " of pixels";
  const std::string declared = dims_text(dims) + " = " + pixel_bytes;
  const uint64_t limit = static_cast<uint64_t>(std::max<int64_t>(max_bytes, 0));
  if (total > limit) {
    throw_read_error(file, "header declares " + declared + ", more than the limit of " +
                               count_of(limit, "byte"));
  }
  IdxImages img;
  img.n = dims[0];
  img.h = dims[1];
  img.w = dims[2];
  img.pixels = read_payload(in, static_cast<uint64_t>(total), declared, pixel_bytes);
  return img;
}

IdxLabels read_idx_labels(const std::filesystem::path& file, int num_classes) {
  ByteReader in(file);
  std::vector<uint32_t> dims = read_header(in, kLabels);
  const std::string count = count_of(dims[0], "label");
  IdxLabels lab;
  lab.n = dims[0];
  lab.labels = read_payload(in, dims[0], count, count);
  if (num_classes > 0) {
    for (size_t i = 0; i < lab.labels.size(); ++i) {
      if (lab.labels[i] >= num_classes) {
        throw_read_error(file, "label " + std::to_string(lab.labels[i]) + " at index " +
                                   std::to_string(i) + " is out of range; expected 0.." +
                                   std::to_string(num_classes - 1));
      }
    }
  }
  return lab;
}

void write_idx_images(const std::filesystem::path& file, const IdxImages& img, bool gzip) {
  uint8_t head[16];
  put_be32(head, kImagesMagic);
  put_be32(head + 4, checked_dim(file, img.n, "image count"));
  put_be32(head + 8, checked_dim(file, img.h, "image height"));
  put_be32(head + 12, checked_dim(file, img.w, "image width"));
  const unsigned __int128 need = static_cast<unsigned __int128>(img.n) * img.h * img.w;
  if (need != img.pixels.size()) {
    throw_write_error(file, std::to_string(img.n) + "×" + std::to_string(img.h) + "×" +
                                std::to_string(img.w) + " images need " + u128_to_string(need) +
                                " bytes of pixels, got " + std::to_string(img.pixels.size()));
  }
  IdxWriter out(file, gzip);
  out.write(head, sizeof head);
  out.write(img.pixels.data(), img.pixels.size());
  out.close();
}

void write_idx_labels(const std::filesystem::path& file, const IdxLabels& lab, bool gzip) {
  uint8_t head[8];
  put_be32(head, kLabelsMagic);
  put_be32(head + 4, checked_dim(file, lab.n, "label count"));
  if (static_cast<uint64_t>(lab.n) != lab.labels.size()) {
    throw_write_error(file, "label count is " + std::to_string(lab.n) + " but " +
                                std::to_string(lab.labels.size()) + " labels were given");
  }
  IdxWriter out(file, gzip);
  out.write(head, sizeof head);
  out.write(lab.labels.data(), lab.labels.size());
  out.close();
}

Dataset load_dataset(const std::filesystem::path& images, const std::filesystem::path& labels,
                     int num_classes) {
  Dataset ds;
  ds.images = read_idx_images(images);
  ds.labels = read_idx_labels(labels, num_classes);
  if (ds.images.n != ds.labels.n) {
    throw DataError("'" + images.string() + "' has " + count_of(ds.images.n, "image") + " but '" +
                    labels.string() + "' has " + count_of(ds.labels.n, "label"));
  }
  ds.name = images.string();
  return ds;
}

std::filesystem::path find_idx_file(const std::filesystem::path& dir, const std::string& stem) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw DataError("looking for '" + stem + "' in '" + dir.string() + "': " +
                    (std::filesystem::exists(dir, ec) ? "not a directory" : "no such directory"));
  }
  // Both spellings circulate: "train-images-idx3-ubyte" (LeCun's site) and
  // "train-images.idx3-ubyte" (several mirrors); either is found, whichever was asked for.
  std::vector<std::string> names{stem, stem + ".gz"};
  std::string other = stem;
  if (size_t at = stem.rfind("-idx"); at != std::string::npos) {
    other[at] = '.';
  } else if (size_t dot = stem.rfind(".idx"); dot != std::string::npos) {
    other[dot] = '-';
  }
  if (other != stem) {
    names.push_back(other);
    names.push_back(other + ".gz");
  }
  for (const std::string& name : names) {
    std::filesystem::path candidate = dir / name;
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate;
  }
  std::string tried;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) tried += i + 1 == names.size() ? " or " : ", ";
    tried += names[i];
  }
  throw DataError("looking for '" + stem + "' in '" + dir.string() + "': no file named " + tried);
}

}  // namespace batchscope
