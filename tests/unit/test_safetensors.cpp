// Tests for the safetensors checkpoint layer: exact round trips, the exact byte layout of a
// tiny file, one DataError per kind of corruption (message names the file and the problem),
// and atomic writes (failed writes leave no temp file and never damage an existing target).
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "batchscope/error.h"
#include "formats/safetensors.h"

namespace batchscope {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards, so tests never see each other's files.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "batchscope_st_XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    if (!made) throw std::runtime_error("mkdtemp failed");
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path_))
      names.push_back(e.path().filename().string());
    return names;
  }

 private:
  fs::path path_;
};

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good());
}

// A raw file: 8-byte little-endian `header_len` (defaults to the header's size), header, data.
std::vector<uint8_t> raw_file(const std::string& header, const std::vector<uint8_t>& data,
                              uint64_t header_len = UINT64_MAX) {
  if (header_len == UINT64_MAX) header_len = header.size();
  std::vector<uint8_t> out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(header_len >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

template <typename T>
StTensor make_tensor(StDtype dtype, std::vector<int64_t> shape, const std::vector<T>& values) {
  StTensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

// Runs read_safetensors on `p`, expecting a DataError; returns its message.
std::string read_error(const fs::path& p) {
  try {
    read_safetensors(p);
  } catch (const DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no DataError reading " << p;
  return "";
}

// The message must be one line naming the file, and contain `phrase`.
void expect_read_error(const fs::path& p, const std::string& phrase) {
  const std::string msg = read_error(p);
  EXPECT_NE(msg.find("reading '" + p.string() + "'"), std::string::npos) << msg;
  EXPECT_NE(msg.find(phrase), std::string::npos) << "wanted '" << phrase << "' in: " << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

// Writes a raw file with the given header and data and expects reading it to fail.
void expect_corrupt(const TempDir& dir, const std::string& header, const std::vector<uint8_t>& data,
                    const std::string& phrase) {
  SCOPED_TRACE(header);
  const fs::path p = dir / "bad.safetensors";
  write_bytes(p, raw_file(header, data));
  expect_read_error(p, phrase);
}

SafetensorsFile sample_file() {
  SafetensorsFile st;
  st.metadata = {{"format", "pt"}, {"epoch", "3"}, {"note", "unicode \xc3\xa9 and \"quotes\"\n"}};
  const std::vector<float> w = {0.5f, -1.25f, 3.0e-8f, 1.0e30f, -0.0f, 7.0f};
  st.tensors["0.weight"] = st_from_floats(w.data(), {2, 1, 3});
  st.tensors["0.bias"] = make_tensor<float>(StDtype::F32, {2}, {0.125f, -9.0f});
  st.tensors["step"] = make_tensor<int64_t>(StDtype::I64, {}, {-1234567890123LL});
  st.tensors["seed"] = make_tensor<uint64_t>(StDtype::U64, {1}, {0xFEDCBA9876543210ULL});
  st.tensors["counts"] = make_tensor<int32_t>(StDtype::I32, {2, 2}, {1, -2, 3, -4});
  st.tensors["mask"] = make_tensor<uint8_t>(StDtype::U8, {5}, {0, 1, 255, 7, 9});
  st.tensors["empty"] = make_tensor<float>(StDtype::F32, {0, 4}, {});
  return st;
}

void expect_same(const SafetensorsFile& a, const SafetensorsFile& b) {
  EXPECT_EQ(a.metadata, b.metadata);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, t] : a.tensors) {
    SCOPED_TRACE(name);
    const auto it = b.tensors.find(name);
    ASSERT_NE(it, b.tensors.end());
    EXPECT_EQ(t.dtype, it->second.dtype);
    EXPECT_EQ(t.shape, it->second.shape);
    EXPECT_EQ(t.bytes, it->second.bytes);
  }
}

TEST(Safetensors, RoundTripKeepsEveryByte) {
  TempDir dir;
  const SafetensorsFile st = sample_file();
  const fs::path p = dir / "ckpt.safetensors";
  write_safetensors(p, st);
  const SafetensorsFile back = read_safetensors(p);
  expect_same(st, back);

  // Writing what was read gives the identical file: the layout is deterministic.
  const fs::path p2 = dir / "again.safetensors";
  write_safetensors(p2, back);
  EXPECT_EQ(read_bytes(p), read_bytes(p2));
  // Only the two targets remain: no temp files.
  EXPECT_EQ(dir.entries().size(), 2u);
}

TEST(Safetensors, DataSectionAndTensorsAreAligned) {
  TempDir dir;
  const fs::path p = dir / "ckpt.safetensors";
  write_safetensors(p, sample_file());
  const std::vector<uint8_t> bytes = read_bytes(p);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(bytes[static_cast<size_t>(i)]) << (8 * i);
  EXPECT_EQ(n % 8, 0u);
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<ptrdiff_t>(n));
  // 8-byte tensors come before 4-byte ones, which come before bytes.
  EXPECT_LT(header.find("\"seed\""), header.find("\"0.bias\""));
  EXPECT_LT(header.find("\"step\""), header.find("\"counts\""));
  EXPECT_LT(header.find("\"counts\""), header.find("\"mask\""));
}

TEST(Safetensors, TinyFileHasExactLayout) {
  TempDir dir;
  SafetensorsFile st;
  st.metadata["format"] = "pt";
  st.tensors["a"] = make_tensor<uint8_t>(StDtype::U8, {3}, {1, 2, 3});
  const std::vector<float> b = {1.0f, -2.0f};
  st.tensors["b"] = st_from_floats(b.data(), {2});
  const fs::path p = dir / "tiny.safetensors";
  write_safetensors(p, st);

  // 138 characters of JSON + 6 spaces = 144, a multiple of 8. "b" (F32) precedes "a" (U8).
  const std::string header = R"({"__metadata__":{"format":"pt"},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("a":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}})"
                             "      ";
  ASSERT_EQ(header.size(), 144u);
  std::vector<uint8_t> expected = {144, 0, 0, 0, 0, 0, 0, 0};
  expected.insert(expected.end(), header.begin(), header.end());
  const std::vector<uint8_t> data = {0x00, 0x00, 0x80, 0x3F,  // 1.0f
                                     0x00, 0x00, 0x00, 0xC0,  // -2.0f
                                     1,    2,    3};
  expected.insert(expected.end(), data.begin(), data.end());
  EXPECT_EQ(read_bytes(p), expected);
}

TEST(Safetensors, ReadsFileWithoutMetadataOrPadding) {
  TempDir dir;
  const fs::path p = dir / "plain.safetensors";
  write_bytes(
      p, raw_file(R"({"x":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})", {0x2A, 0, 0, 0}));
  const SafetensorsFile st = read_safetensors(p);
  EXPECT_TRUE(st.metadata.empty());
  ASSERT_EQ(st.tensors.count("x"), 1u);
  EXPECT_EQ(st.tensors.at("x").dtype, StDtype::I32);
  EXPECT_EQ(st.tensors.at("x").bytes, (std::vector<uint8_t>{0x2A, 0, 0, 0}));
}

TEST(Safetensors, TooShortFile) {
  TempDir dir;
  const fs::path p = dir / "short.safetensors";
  write_bytes(p, {1, 0, 0, 0, 0});
  expect_read_error(p, "file is 5 bytes");
}

TEST(Safetensors, TruncatedDataSection) {
  TempDir dir;
  const fs::path p = dir / "trunc.safetensors";
  write_safetensors(p, sample_file());
  std::vector<uint8_t> bytes = read_bytes(p);
  bytes.resize(bytes.size() - 3);
  write_bytes(p, bytes);
  expect_read_error(p, "lies outside the");
}

TEST(Safetensors, HeaderLengthBeyondFile) {
  TempDir dir;
  const fs::path p = dir / "len.safetensors";
  write_bytes(p, raw_file("{}", {}, 123456789));
  expect_read_error(p, "header length 123456789 exceeds file size 10");
}

TEST(Safetensors, HeaderLengthAboveLimit) {
  TempDir dir;
  const fs::path p = dir / "huge.safetensors";
  write_bytes(p, raw_file("{}", {}, 100'000'001));
  // Sparse: the size is real but costs no disk blocks.
  fs::resize_file(p, 100'000'100);
  expect_read_error(p, "header length 100000001 exceeds the 100000000-byte limit");
}

TEST(Safetensors, MissingFile) {
  TempDir dir;
  expect_read_error(dir / "nope.safetensors", "cannot open: No such file");
}

TEST(Safetensors, BadJson) {
  TempDir dir;
  expect_corrupt(dir, R"({"a":{"dtype":"F32",)", {}, "invalid JSON header: ");
  expect_corrupt(dir, "{} x", {}, "invalid JSON header: ");
  expect_corrupt(dir, "", {}, "invalid JSON header: ");
  expect_corrupt(dir, "{\"\xff\":1}", {}, "invalid JSON header: ");
  expect_corrupt(dir, "[1,2]", {}, "JSON header is an array; expected an object");
}

TEST(Safetensors, BadEntries) {
  TempDir dir;
  const std::vector<uint8_t> d8(8, 0);
  expect_corrupt(dir, R"({"a":[1]})", d8, "tensor 'a' is an array; expected an object");
  expect_corrupt(dir, R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", d8,
                 "tensor 'a' has no \"shape\" field");
  expect_corrupt(dir, R"({"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", d8,
                 "has a dtype that is a non-negative integer; expected a string");
  expect_corrupt(dir, R"({"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", d8,
                 "has a shape that is a non-negative integer; expected an array");
  expect_corrupt(dir, R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", d8,
                 "tensor 'a' has shape [-2]; expected non-negative integer dimensions");
  expect_corrupt(dir, R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", d8,
                 "expected non-negative integer dimensions");
  expect_corrupt(dir, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", d8,
                 "expected [begin, end] with non-negative integers");
  expect_corrupt(dir, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-1,7]}})", d8,
                 "expected [begin, end] with non-negative integers");
  expect_corrupt(dir, R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", d8,
                 "data_offsets [8,0] with begin > end");
}

TEST(Safetensors, UnknownDtype) {
  TempDir dir;
  expect_corrupt(dir, R"({"0.weight":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})",
                 std::vector<uint8_t>(8, 0),
                 "tensor '0.weight' has dtype F16; expected one of F32, I64, U64, I32, U8");
}

TEST(Safetensors, ShapeOffsetMismatch) {
  TempDir dir;
  expect_corrupt(dir, R"({"0.weight":{"dtype":"F32","shape":[32,1,3,3],"data_offsets":[0,100]}})",
                 std::vector<uint8_t>(1152, 0),
                 "tensor '0.weight' data_offsets [0,100] do not match shape [32,1,3,3] of F32 "
                 "(1152 bytes)");
  // numel * 4 wraps around 2^64 to 0: must be caught as overflow, not matched to [0,0].
  expect_corrupt(dir,
                 R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}})",
                 {}, "byte size overflows");
}

TEST(Safetensors, RangeOutsideDataSection) {
  TempDir dir;
  expect_corrupt(dir, R"({"a":{"dtype":"U8","shape":[1990],"data_offsets":[10,2000]}})",
                 std::vector<uint8_t>(1000, 0),
                 "tensor 'a' byte range [10,2000] lies outside the 1000-byte data section");
}

TEST(Safetensors, OverlappingTensors) {
  TempDir dir;
  expect_corrupt(dir,
                 R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},)"
                 R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                 std::vector<uint8_t>(12, 0), "tensors 'a' and 'b' overlap");
  // Empty tensors occupy no bytes, so sitting between two others is fine.
  const fs::path p = dir / "ok.safetensors";
  write_bytes(p, raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("e":{"dtype":"F32","shape":[0],"data_offsets":[8,8]},)"
                          R"("c":{"dtype":"U8","shape":[1],"data_offsets":[8,9]}})",
                          std::vector<uint8_t>(9, 0)));
  EXPECT_EQ(read_safetensors(p).tensors.size(), 3u);
}

// The data section must be fully indexed (the format's rule against polyglot files): a hole
// between tensors, or any byte after the last one, is refused with its count.
TEST(Safetensors, HolesAreRefused) {
  TempDir dir;
  expect_corrupt(dir,
                 R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                 R"("c":{"dtype":"U8","shape":[1],"data_offsets":[10,11]}})",
                 std::vector<uint8_t>(11, 0),
                 "2 bytes of the data section at offset 8 belong to no tensor (before tensor 'c')");
  expect_corrupt(dir, R"({"c":{"dtype":"U8","shape":[1],"data_offsets":[3,4]}})",
                 std::vector<uint8_t>(4, 0), "3 bytes of the data section at offset 0");
}

TEST(Safetensors, TrailingBytesAreRefusedNamingTheCount) {
  TempDir dir;
  const fs::path p = dir / "tail.safetensors";
  write_safetensors(p, sample_file());
  const std::vector<uint8_t> good = read_bytes(p);
  for (size_t extra : {1u, 7u, 8u, 63u, 4096u}) {
    std::vector<uint8_t> bytes = good;
    for (size_t i = 0; i < extra; ++i) bytes.push_back(static_cast<uint8_t>(i * 37 + 1));
    write_bytes(p, bytes);
    expect_read_error(p, "file has " + std::to_string(extra) + " bytes after its last tensor");
  }
  // No tensors at all: every data byte is trailing.
  expect_corrupt(dir, "{}", std::vector<uint8_t>(5, 0), "file has 5 bytes after its last tensor");
}

TEST(Safetensors, DuplicateTensorName) {
  TempDir dir;
  expect_corrupt(dir,
                 R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                 R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                 {0, 0}, "JSON header names 'a' twice");
}

TEST(Safetensors, BadMetadata) {
  TempDir dir;
  expect_corrupt(dir, R"({"__metadata__":{"format":"pt","epoch":3}})", {},
                 "__metadata__ value for key 'epoch' is a non-negative integer; expected a string");
  expect_corrupt(dir, R"({"__metadata__":["pt"]})", {},
                 "__metadata__ is an array; expected an object");
}

TEST(Safetensors, ToFloats) {
  SafetensorsFile st;
  const std::vector<float> w = {1, 2, 3, 4, 5, 6};
  st.tensors["0.weight"] = st_from_floats(w.data(), {2, 3});
  st.tensors["step"] = make_tensor<int64_t>(StDtype::I64, {1}, {5});

  std::vector<float> out(6, 0.0f);
  st_to_floats(st, "0.weight", {2, 3}, out.data(), "ckpt.safetensors");
  EXPECT_EQ(out, w);

  const auto message = [&](const std::string& name, const std::vector<int64_t>& shape) {
    try {
      st_to_floats(st, name, shape, out.data(), "ckpt.safetensors");
    } catch (const DataError& e) {
      return std::string(e.what());
    }
    return std::string("no DataError");
  };
  EXPECT_EQ(message("0.weight", {3, 2}),
            "reading 'ckpt.safetensors': tensor '0.weight' has shape [2,3]; expected [3,2]");
  EXPECT_EQ(message("step", {1}),
            "reading 'ckpt.safetensors': tensor 'step' has dtype I64; expected F32");
  EXPECT_EQ(message("1.weight", {2, 3}), "reading 'ckpt.safetensors': no tensor named '1.weight'");
}

TEST(Safetensors, WriteIntoMissingDirectoryLeavesNothing) {
  TempDir dir;
  const fs::path p = dir / "missing" / "ckpt.safetensors";
  try {
    write_safetensors(p, sample_file());
    ADD_FAILURE() << "no DataError";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("writing '" + p.string() + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
  }
  EXPECT_TRUE(dir.entries().empty());
}

TEST(Safetensors, WriteRejectsInconsistentTensor) {
  TempDir dir;
  SafetensorsFile st;
  st.tensors["a"] = make_tensor<float>(StDtype::F32, {2, 2}, {1, 2, 3});
  const fs::path p = dir / "ckpt.safetensors";
  try {
    write_safetensors(p, st);
    ADD_FAILURE() << "no DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'a' holds 12 bytes; shape [2,2] of F32 needs 16"),
              std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(dir.entries().empty());
}

TEST(Safetensors, OverwriteReplacesCompletely) {
  TempDir dir;
  const fs::path p = dir / "ckpt.safetensors";
  SafetensorsFile big;
  std::vector<float> many(10000, 1.5f);
  big.tensors["w"] = st_from_floats(many.data(), {10000});
  big.metadata["run"] = "first";
  write_safetensors(p, big);

  SafetensorsFile small;
  const float one = 2.0f;
  small.tensors["x"] = st_from_floats(&one, {1});
  write_safetensors(p, small);

  const SafetensorsFile back = read_safetensors(p);
  expect_same(small, back);
  // Nothing of the larger file survives past the new end.
  const TempDir other;
  write_safetensors(other / "fresh.safetensors", small);
  EXPECT_EQ(read_bytes(p), read_bytes(other / "fresh.safetensors"));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"ckpt.safetensors"});
}

TEST(Safetensors, FailedWriteKeepsOldFile) {
  TempDir dir;
  const fs::path p = dir / "ckpt.safetensors";
  const SafetensorsFile old_file = sample_file();
  write_safetensors(p, old_file);
  const std::vector<uint8_t> old_bytes = read_bytes(p);

  // A file-size limit makes write() fail with EFBIG part-way, like a full disk would.
  SafetensorsFile big;
  std::vector<float> many(1 << 16, 3.0f);
  big.tensors["w"] = st_from_floats(many.data(), {1 << 16});
  struct rlimit saved {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  const auto saved_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit lim = saved;
  lim.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &lim), 0);
  std::string msg = "no DataError";
  try {
    write_safetensors(p, big);
  } catch (const DataError& e) {
    msg = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::signal(SIGXFSZ, saved_handler);

  EXPECT_NE(msg.find("writing '" + p.string() + "'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("File too large"), std::string::npos) << msg;
  EXPECT_EQ(read_bytes(p), old_bytes);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"ckpt.safetensors"});
}

TEST(Safetensors, TargetIsDirectory) {
  TempDir dir;
  const fs::path p = dir / "ckpt.safetensors";
  fs::create_directory(p);
  try {
    write_safetensors(p, sample_file());
    ADD_FAILURE() << "no DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("rename from"), std::string::npos) << e.what();
  }
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"ckpt.safetensors"});
  EXPECT_TRUE(fs::is_directory(p));
  expect_read_error(p, "not a regular file");
}

}  // namespace
}  // namespace batchscope
