// safetensors reading and writing (format: see safetensors.h). The reader treats every
// number in the file as hostile until checked against the file's real size; the writer
// goes through a temporary file and rename so a failed or interrupted save never damages
// an existing checkpoint.
#include "formats/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>
#include <utility>

#include "batchscope/error.h"
#include "core/atomic_file.h"
#include "core/fd.h"

namespace batchscope {

// Tensor bytes are copied straight between memory and file, and the format is little-endian.
static_assert(std::endian::native == std::endian::little,
              "safetensors I/O assumes a little-endian host");

namespace {

// Same cap as the reference implementation: a larger header is corruption, not a model.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeInfo {
  StDtype dtype;
  const char* name;
  uint64_t size;
};
constexpr DtypeInfo kDtypes[] = {{StDtype::F32, "F32", 4},
                                 {StDtype::I64, "I64", 8},
                                 {StDtype::U64, "U64", 8},
                                 {StDtype::I32, "I32", 4},
                                 {StDtype::U8, "U8", 1}};

// kDtypes is in enum order, so the enum value indexes it.
const DtypeInfo& dtype_info(StDtype d) {
  const auto i = static_cast<size_t>(d);
  BS_CHECK(i < std::size(kDtypes) && kDtypes[i].dtype == d, "StDtype value outside the enum");
  return kDtypes[i];
}

const DtypeInfo* dtype_by_name(const std::string& name) {
  for (const DtypeInfo& info : kDtypes)
    if (name == info.name) return &info;
  return nullptr;
}

std::string errno_text(int err) { return std::system_category().message(err); }

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

// A JSON value's kind, for "found X; expected Y" messages.
std::string kind_text(const nlohmann::json& j) {
  if (j.is_number_unsigned()) return "a non-negative integer";
  if (j.is_number_integer()) return "a negative integer";
  if (j.is_array() || j.is_object()) return std::string("an ") + j.type_name();
  return std::string("a ") + j.type_name();
}

// Messages must stay on one line even when they quote parser output or tensor names.
std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\r', ' ');
  return s;
}

[[noreturn]] void fail(const std::string& prefix, const std::string& what) {
  throw DataError(one_line(prefix + ": " + what));
}

// numel * element size, or false on overflow. An empty shape is a scalar (one element),
// as in the reference implementation.
bool byte_count(const std::vector<int64_t>& shape, uint64_t elem_size, uint64_t* out) {
  uint64_t n = elem_size;
  for (int64_t d : shape) {
    if (d < 0) return false;
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return false;
  }
  *out = n;
  return true;
}

// Closes a file descriptor on every path out of a scope.
// Reads exactly n bytes at offset, failing on error or early end of file.
void read_at(int fd, uint64_t offset, void* dst, uint64_t n, const std::string& prefix) {
  auto* p = static_cast<uint8_t*>(dst);
  while (n > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(n, 1u << 30));
    const ssize_t got = ::pread(fd, p, chunk, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      fail(prefix, "read failed: " + errno_text(errno));
    }
    if (got == 0) fail(prefix, "file ended early (was it changed while being read?)");
    p += got;
    offset += static_cast<uint64_t>(got);
    n -= static_cast<uint64_t>(got);
  }
}

struct Entry {
  std::string name;
  StDtype dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

// Checks one header entry and turns it into an Entry; `data_size` is the byte length of
// the data section as measured from the file, so every range is proven to exist.
Entry parse_entry(const std::string& name, const nlohmann::json& v, uint64_t data_size,
                  const std::string& prefix) {
  const std::string what = "tensor '" + name + "'";
  if (!v.is_object()) fail(prefix, what + " is " + kind_text(v) + "; expected an object");
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!v.contains(field)) fail(prefix, what + " has no \"" + field + "\" field");

  Entry e;
  e.name = name;
  const nlohmann::json& dt = v["dtype"];
  if (!dt.is_string())
    fail(prefix, what + " has a dtype that is " + kind_text(dt) + "; expected a string");
  const DtypeInfo* info = dtype_by_name(dt.get<std::string>());
  if (!info)
    fail(prefix,
         what + " has dtype " + dt.get<std::string>() + "; expected one of F32, I64, U64, I32, U8");
  e.dtype = info->dtype;

  const nlohmann::json& sh = v["shape"];
  if (!sh.is_array())
    fail(prefix, what + " has a shape that is " + kind_text(sh) + "; expected an array");
  for (const nlohmann::json& d : sh) {
    if (!d.is_number_unsigned() ||
        d.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(prefix, what + " has shape " + one_line(sh.dump()) +
                       "; expected non-negative integer dimensions");
    e.shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
  }

  const nlohmann::json& off = v["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
      !off[1].is_number_unsigned())
    fail(prefix, what + " has data_offsets " + one_line(off.dump()) +
                     "; expected [begin, end] with non-negative integers");
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  const std::string range = "[" + std::to_string(e.begin) + "," + std::to_string(e.end) + "]";
  if (e.begin > e.end) fail(prefix, what + " has data_offsets " + range + " with begin > end");

  uint64_t bytes = 0;
  if (!byte_count(e.shape, info->size, &bytes))
    fail(prefix, what + " has shape " + shape_text(e.shape) + " whose byte size overflows");
  if (bytes != e.end - e.begin)
    fail(prefix, what + " data_offsets " + range + " do not match shape " + shape_text(e.shape) +
                     " of " + info->name + " (" + std::to_string(bytes) + " bytes)");
  if (e.end > data_size)
    fail(prefix, what + " byte range " + range + " lies outside the " + std::to_string(data_size) +
                     "-byte data section");
  return e;
}

void parse_metadata(const nlohmann::json& m, const std::string& prefix,
                    std::map<std::string, std::string>* out) {
  if (!m.is_object()) fail(prefix, "__metadata__ is " + kind_text(m) + "; expected an object");
  for (const auto& [k, v] : m.items()) {
    if (!v.is_string())
      fail(prefix,
           "__metadata__ value for key '" + k + "' is " + kind_text(v) + "; expected a string");
    (*out)[k] = v.get<std::string>();
  }
}

}  // namespace

StTensor st_from_floats(const float* data, std::vector<int64_t> shape) {
  StTensor t;
  t.dtype = StDtype::F32;
  uint64_t bytes = 0;
  BS_CHECK(byte_count(shape, sizeof(float), &bytes), "st_from_floats: negative or huge shape");
  t.shape = std::move(shape);
  t.bytes.resize(static_cast<size_t>(bytes));
  if (bytes) std::memcpy(t.bytes.data(), data, static_cast<size_t>(bytes));
  return t;
}

void st_to_floats(const SafetensorsFile& f, const std::string& name,
                  const std::vector<int64_t>& expected_shape, float* out,
                  const std::string& file_for_messages) {
  const std::string prefix = "reading '" + file_for_messages + "'";
  const auto it = f.tensors.find(name);
  if (it == f.tensors.end()) fail(prefix, "no tensor named '" + name + "'");
  const StTensor& t = it->second;
  if (t.dtype != StDtype::F32)
    fail(prefix, "tensor '" + name + "' has dtype " + dtype_info(t.dtype).name + "; expected F32");
  if (t.shape != expected_shape)
    fail(prefix, "tensor '" + name + "' has shape " + shape_text(t.shape) + "; expected " +
                     shape_text(expected_shape));
  uint64_t bytes = 0;
  if (!byte_count(t.shape, sizeof(float), &bytes) || bytes != t.bytes.size())
    fail(prefix, "tensor '" + name + "' holds " + std::to_string(t.bytes.size()) +
                     " bytes; shape " + shape_text(t.shape) + " needs " + std::to_string(bytes));
  if (bytes) std::memcpy(out, t.bytes.data(), static_cast<size_t>(bytes));
}

void write_safetensors(const std::filesystem::path& file, const SafetensorsFile& st) {
  const std::string prefix = "writing '" + file.string() + "'";

  // Data order, as in the reference writer: larger elements first, then by name. With the
  // data section 8-aligned this starts every tensor at a multiple of its element size, so
  // zero-copy readers can use the bytes in place; and equal checkpoints give equal files.
  std::vector<std::pair<const std::string*, const StTensor*>> order;
  for (const auto& [name, t] : st.tensors) order.emplace_back(&name, &t);
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return dtype_info(a.second->dtype).size > dtype_info(b.second->dtype).size;
  });

  // __metadata__ first, then the tensors in data order, fields in the reference order.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!st.metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : st.metadata) m[k] = v;
    header["__metadata__"] = std::move(m);
  }
  uint64_t offset = 0;
  for (const auto& [name_ptr, t_ptr] : order) {
    const std::string& name = *name_ptr;
    const StTensor& t = *t_ptr;
    if (name == "__metadata__") fail(prefix, "'__metadata__' is reserved and cannot name a tensor");
    const DtypeInfo& info = dtype_info(t.dtype);
    uint64_t bytes = 0;
    if (!byte_count(t.shape, info.size, &bytes))
      fail(prefix, "tensor '" + name + "' has shape " + shape_text(t.shape) +
                       "; expected non-negative dimensions whose byte size fits in 64 bits");
    if (bytes != t.bytes.size())
      fail(prefix, "tensor '" + name + "' holds " + std::to_string(t.bytes.size()) +
                       " bytes; shape " + shape_text(t.shape) + " of " + info.name + " needs " +
                       std::to_string(bytes));
    nlohmann::ordered_json e = nlohmann::ordered_json::object();
    e["dtype"] = info.name;
    e["shape"] = t.shape;
    e["data_offsets"] = {offset, offset + bytes};
    header[name] = std::move(e);
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::strict);
  } catch (const nlohmann::json::exception& e) {
    // Only invalid UTF-8 in a tensor name or metadata string gets here.
    fail(prefix, std::string("cannot encode the header: ") + e.what());
  }
  // Pad with spaces (valid JSON whitespace) so the data section starts 8-byte aligned.
  text.append((8 - text.size() % 8) % 8, ' ');

  uint8_t len_le[8];
  for (int i = 0; i < 8; ++i) len_le[i] = static_cast<uint8_t>(text.size() >> (8 * i));

  std::vector<std::string_view> pieces = {
      std::string_view(reinterpret_cast<const char*>(len_le), sizeof len_le), text};
  for (const auto& [name, t] : order)
    pieces.emplace_back(reinterpret_cast<const char*>(t->bytes.data()), t->bytes.size());
  write_file_atomic(file, pieces);
}

SafetensorsFile read_safetensors(const std::filesystem::path& file) {
  const std::string prefix = "reading '" + file.string() + "'";
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) fail(prefix, "cannot open: " + errno_text(errno));
  struct stat sb {};
  if (::fstat(fd.get(), &sb) != 0) fail(prefix, "cannot stat: " + errno_text(errno));
  if (!S_ISREG(sb.st_mode)) fail(prefix, "not a regular file");
  const uint64_t file_size = static_cast<uint64_t>(sb.st_size);
  if (file_size < 8)
    fail(prefix, "file is " + std::to_string(file_size) +
                     " bytes; a safetensors file needs at least the 8-byte header length");

  uint8_t len_le[8];
  read_at(fd.get(), 0, len_le, 8, prefix);
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= static_cast<uint64_t>(len_le[i]) << (8 * i);
  if (header_len > file_size - 8)
    fail(prefix, "header length " + std::to_string(header_len) + " exceeds file size " +
                     std::to_string(file_size));
  if (header_len > kMaxHeaderBytes)
    fail(prefix, "header length " + std::to_string(header_len) + " exceeds the " +
                     std::to_string(kMaxHeaderBytes) + "-byte limit");
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = file_size - data_start;

  std::string text(static_cast<size_t>(header_len), '\0');
  read_at(fd.get(), 8, text.data(), header_len, prefix);

  // nlohmann keeps only the last of duplicate keys; a duplicated tensor name would silently
  // hide one definition, so duplicates at the top level are rejected.
  std::set<std::string> seen;
  std::string duplicate;
  const auto on_event = [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& j) {
    if (depth == 1 && ev == nlohmann::json::parse_event_t::key && duplicate.empty() &&
        !seen.insert(j.get<std::string>()).second)
      duplicate = j.get<std::string>();
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text, on_event);
  } catch (const nlohmann::json::exception& e) {
    std::string msg = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " tag; the rest says what and where.
    if (!msg.empty() && msg[0] == '[' && msg.find("] ") != std::string::npos)
      msg = msg.substr(msg.find("] ") + 2);
    fail(prefix, "invalid JSON header: " + msg);
  }
  if (!header.is_object())
    fail(prefix, "JSON header is " + kind_text(header) + "; expected an object");
  if (!duplicate.empty()) fail(prefix, "JSON header names '" + duplicate + "' twice");

  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__")
      parse_metadata(v, prefix, &out.metadata);
    else
      entries.push_back(parse_entry(name, v, data_size, prefix));
  }

  // The format requires the data section to be fully indexed: sorted by (begin, end), each
  // tensor starts where the one before it ended, and the last ends at the end of the file.
  // No holes and no trailing bytes, so a file cannot smuggle a second payload (a polyglot),
  // and a checkpoint with bytes appended is refused like one with bytes cut off. This is the
  // reference implementation's rule (huggingface/safetensors validate()), empty tensors too.
  std::vector<const Entry*> by_begin;
  for (const Entry& e : entries) by_begin.push_back(&e);
  std::sort(by_begin.begin(), by_begin.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t indexed_end = 0;
  const Entry* last = nullptr;
  for (const Entry* e : by_begin) {
    if (e->begin < indexed_end)
      fail(prefix, "tensors '" + last->name + "' and '" + e->name + "' overlap");
    if (e->begin > indexed_end)
      fail(prefix, std::to_string(e->begin - indexed_end) + " bytes of the data section at offset " +
                       std::to_string(indexed_end) + " belong to no tensor (before tensor '" +
                       e->name + "'); the safetensors format allows no holes");
    indexed_end = e->end;
    last = e;
  }
  if (indexed_end != data_size)
    fail(prefix, "file has " + std::to_string(data_size - indexed_end) +
                     " bytes after its last tensor (the tensors end at data offset " +
                     std::to_string(indexed_end) + " of " + std::to_string(data_size) +
                     "); the safetensors format allows none");

  // Every range is now known to lie inside the file, so these allocations are bounded by it.
  for (const Entry& e : entries) {
    StTensor t;
    t.dtype = e.dtype;
    t.shape = e.shape;
    t.bytes.resize(static_cast<size_t>(e.end - e.begin));
    read_at(fd.get(), data_start + e.begin, t.bytes.data(), e.end - e.begin, prefix);
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

}  // namespace batchscope
