// IDX and PGM reading: round trips (plain and gzip), every kind of broken file from
// tests/data (made by tests/data/make_fixtures.py) or crafted here in a temp folder,
// and find_idx_file's spellings. Error messages are checked for the file name and wording.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "batchscope/error.h"
#include "batchscope/idx.h"

namespace batchscope {
namespace {

namespace fs = std::filesystem;

fs::path fixture(const std::string& name) { return fs::path(BATCHSCOPE_TEST_DATA) / name; }

// A fresh folder under the system temp dir, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("batchscope_test_idx_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

void write_bytes(const fs::path& file, const std::vector<uint8_t>& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << file;
}

void write_text(const fs::path& file, const std::string& text) {
  write_bytes(file, std::vector<uint8_t>(text.begin(), text.end()));
}

std::vector<uint8_t> read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Big-endian IDX header bytes.
std::vector<uint8_t> idx_header(uint32_t magic, std::vector<uint32_t> dims) {
  std::vector<uint8_t> out;
  auto put = [&](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
  };
  put(magic);
  for (uint32_t d : dims) put(d);
  return out;
}

// Runs f, which must throw DataError, and returns its message.
template <class F>
std::string data_error_of(F&& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no DataError was thrown";
  return "";
}

// 'path', built by appending: GCC 12 at -O3 warns falsely (-Wrestrict) on "'" + string.
std::string quoted(const fs::path& file) {
  std::string s(1, '\'');
  s += file.string();
  s += '\'';
  return s;
}

// The message names the file and contains the phrase.
::testing::AssertionResult names_file_and_says(const std::string& msg, const fs::path& file,
                                               const std::string& phrase) {
  if (msg.find(quoted(file)) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "message does not name '" << file.string() << "': " << msg;
  }
  if (msg.find(phrase) == std::string::npos) {
    return ::testing::AssertionFailure() << "message lacks \"" << phrase << "\": " << msg;
  }
  if (msg.find('\n') != std::string::npos) {
    return ::testing::AssertionFailure() << "message is not one line: " << msg;
  }
  return ::testing::AssertionSuccess();
}

IdxImages sample_images(int64_t n, int64_t h, int64_t w, uint32_t seed) {
  IdxImages img;
  img.n = n;
  img.h = h;
  img.w = w;
  img.pixels.resize(static_cast<size_t>(n * h * w));
  std::mt19937 rng(seed);
  for (uint8_t& p : img.pixels) p = static_cast<uint8_t>(rng() % 256);
  return img;
}

void expect_fixture_images(const IdxImages& img) {
  EXPECT_EQ(img.n, 3);
  EXPECT_EQ(img.h, 4);
  EXPECT_EQ(img.w, 5);
  ASSERT_EQ(img.pixels.size(), 60u);
  for (size_t i = 0; i < img.pixels.size(); ++i)
    EXPECT_EQ(img.pixels[i], (4 * i) % 256) << "pixel " << i;
}

// ---- round trips and good files ----

TEST(Idx, RoundTripPlainWritesBigEndianHeader) {
  TempDir dir;
  IdxImages img = sample_images(2, 3, 4, 1);
  write_idx_images(dir / "img", img);
  std::vector<uint8_t> bytes = read_bytes(dir / "img");
  std::vector<uint8_t> expected = idx_header(0x00000803, {2, 3, 4});
  expected.insert(expected.end(), img.pixels.begin(), img.pixels.end());
  EXPECT_EQ(bytes, expected);

  IdxImages back = read_idx_images(dir / "img");
  EXPECT_EQ(back.n, 2);
  EXPECT_EQ(back.h, 3);
  EXPECT_EQ(back.w, 4);
  EXPECT_EQ(back.pixels, img.pixels);

  IdxLabels lab{4, {3, 1, 4, 1}};
  write_idx_labels(dir / "lab", lab);
  std::vector<uint8_t> expected_lab = idx_header(0x00000801, {4});
  expected_lab.insert(expected_lab.end(), {3, 1, 4, 1});
  EXPECT_EQ(read_bytes(dir / "lab"), expected_lab);
  IdxLabels lab_back = read_idx_labels(dir / "lab");
  EXPECT_EQ(lab_back.n, 4);
  EXPECT_EQ(lab_back.labels, lab.labels);
}

TEST(Idx, RoundTripGzip) {
  TempDir dir;
  // Large enough to span many reads of the compressed input and many inflate calls.
  IdxImages img = sample_images(1000, 28, 28, 2);
  write_idx_images(dir / "img.gz", img, /*gzip=*/true);
  std::vector<uint8_t> raw = read_bytes(dir / "img.gz");
  ASSERT_GE(raw.size(), 2u);
  EXPECT_EQ(raw[0], 0x1f);
  EXPECT_EQ(raw[1], 0x8b);
  IdxImages back = read_idx_images(dir / "img.gz");
  EXPECT_EQ(back.n, 1000);
  EXPECT_EQ(back.h, 28);
  EXPECT_EQ(back.w, 28);
  EXPECT_TRUE(back.pixels == img.pixels);

  IdxLabels lab{5, {9, 8, 7, 6, 5}};
  write_idx_labels(dir / "lab.gz", lab, /*gzip=*/true);
  EXPECT_EQ(read_bytes(dir / "lab.gz")[0], 0x1f);
  EXPECT_EQ(read_idx_labels(dir / "lab.gz").labels, lab.labels);
}

TEST(Idx, GzipIsDetectedByContentNotName) {
  TempDir dir;
  IdxImages img = sample_images(2, 2, 2, 3);
  write_idx_images(dir / "plain.gz", img, false);    // a .gz name holding plain data
  write_idx_images(dir / "zipped-idx3", img, true);  // gzip data without the .gz name
  EXPECT_EQ(read_idx_images(dir / "plain.gz").pixels, img.pixels);
  EXPECT_EQ(read_idx_images(dir / "zipped-idx3").pixels, img.pixels);
}

TEST(Idx, ReadsFixtures) {
  expect_fixture_images(read_idx_images(fixture("images-ok-idx3-ubyte")));
  expect_fixture_images(read_idx_images(fixture("images-ok-idx3-ubyte.gz")));
  // `cat a.gz b.gz` output: two gzip members, one stream of bytes.
  expect_fixture_images(read_idx_images(fixture("images-multimember-idx3-ubyte.gz")));
  for (const char* name : {"labels-ok-idx1-ubyte", "labels-ok-idx1-ubyte.gz"}) {
    IdxLabels lab = read_idx_labels(fixture(name));
    EXPECT_EQ(lab.n, 3) << name;
    EXPECT_EQ(lab.labels, (std::vector<uint8_t>{7, 0, 9})) << name;
  }
}

TEST(Idx, LoadDatasetPairsFiles) {
  Dataset ds = load_dataset(fixture("images-ok-idx3-ubyte.gz"), fixture("labels-ok-idx1-ubyte"));
  expect_fixture_images(ds.images);
  EXPECT_EQ(ds.labels.labels, (std::vector<uint8_t>{7, 0, 9}));
  EXPECT_EQ(ds.name, fixture("images-ok-idx3-ubyte.gz").string());
}

// ---- broken headers ----

TEST(Idx, LabelsMagicInImageFile) {
  fs::path f = fixture("bad-magic-idx3-ubyte");
  std::string msg = data_error_of([&] { read_idx_images(f); });
  EXPECT_EQ(
      msg, "reading '" + f.string() + "': magic 0x00000801 (labels); expected 0x00000803 (images)");
}

TEST(Idx, ImagesAndLabelsSwapped) {
  fs::path labels = fixture("labels-ok-idx1-ubyte"), images = fixture("images-ok-idx3-ubyte");
  EXPECT_TRUE(names_file_and_says(data_error_of([&] { read_idx_images(labels); }), labels,
                                  "magic 0x00000801 (labels); expected 0x00000803 (images)"));
  EXPECT_TRUE(names_file_and_says(data_error_of([&] { read_idx_labels(images); }), images,
                                  "magic 0x00000803 (images); expected 0x00000801 (labels)"));
  EXPECT_TRUE(names_file_and_says(data_error_of([&] { load_dataset(labels, images); }), labels,
                                  "magic 0x00000801 (labels)"));
}

TEST(Idx, NotAnIdxFile) {
  fs::path f = fixture("not-idx.png");
  EXPECT_TRUE(
      names_file_and_says(data_error_of([&] { read_idx_images(f); }), f,
                          "magic 0x89504E47 (not an IDX file; looks like a PNG image); expected "
                          "0x00000803 (images)"));
}

TEST(Idx, NonByteTypeRefused) {
  fs::path f = fixture("float-idx3-ubyte");
  std::string msg = data_error_of([&] { read_idx_images(f); });
  EXPECT_TRUE(names_file_and_says(msg, f, "float32 data (type 0x0D)"));
  EXPECT_TRUE(names_file_and_says(msg, f, "only unsigned byte data"));
}

TEST(Idx, WrongRank) {
  fs::path f = fixture("rank2-idx3-ubyte");
  EXPECT_TRUE(names_file_and_says(
      data_error_of([&] { read_idx_images(f); }), f,
      "magic 0x00000802 (unsigned byte, rank 2); expected 0x00000803 (images)"));
}

TEST(Idx, ZeroDimension) {
  fs::path f = fixture("zero-dim-idx3-ubyte");
  EXPECT_TRUE(
      names_file_and_says(data_error_of([&] { read_idx_images(f); }), f,
                          "header declares 0×28×28 images; every dimension must be at least 1"));
}

TEST(Idx, TruncatedHeaderAndEmptyFile) {
  fs::path f = fixture("truncated-header-idx3-ubyte");
  EXPECT_TRUE(names_file_and_says(data_error_of([&] { read_idx_images(f); }), f,
                                  "file is truncated: the images header needs 16 bytes, found 6"));
  TempDir dir;
  write_bytes(dir / "empty", {});
  EXPECT_TRUE(names_file_and_says(data_error_of([&] { read_idx_labels(dir / "empty"); }),
                                  dir / "empty", "file is empty"));
  write_bytes(dir / "three", {0, 0, 8});
  EXPECT_TRUE(names_file_and_says(data_error_of([&] { read_idx_labels(dir / "three"); }),
                                  dir / "three", "file is truncated: 3 bytes"));
}

TEST(Idx, HugeDeclaredSizeRefusedBeforeReading) {
  fs::path f = fixture("huge-idx3-ubyte");
  // If the reader tried to allocate this, it would throw bad_alloc or length_error, not DataError.
  EXPECT_TRUE(
      names_file_and_says(data_error_of([&] { read_idx_images(f); }), f,
                          "header declares 4294967295×4294967295×1 = 18446744065119617025 bytes of "
                          "pixels, more than the limit of 4294967296 bytes"));
}

TEST(Idx, MaxBytesIsInclusive) {
  fs::path f = fixture("images-ok-idx3-ubyte");  // 60 bytes of pixels
  EXPECT_TRUE(names_file_and_says(data_error_of([&] { read_idx_images(f, 59); }), f,
                                  "more than the limit of 59 bytes"));
  EXPECT_EQ(read_idx_images(f, 60).pixels.size(), 60u);
}

TEST(Idx, LyingHeaderUnderLimitIsTruncationNotAllocation) {
  // 1e9 bytes is under the default limit; the reader must discover the truncation
  // without first allocating a gigabyte.
  TempDir dir;
  std::vector<uint8_t> bytes = idx_header(0x00000803, {1000, 1000, 1000});
  bytes.insert(bytes.end(), {1, 2, 3, 4});
  write_bytes(dir / "liar", bytes);
  EXPECT_TRUE(
      names_file_and_says(data_error_of([&] { read_idx_images(dir / "liar"); }), dir / "liar",
                          "file is truncated: header declares 1000×1000×1000 = 1000000000 bytes of "
                          "pixels, found 4"));
}

// ---- broken payloads ----

TEST(Idx, TruncatedPixels) {
  fs::path f = fixture("truncated-idx3-ubyte");
  std::string msg = data_error_of([&] { read_idx_images(f); });
  EXPECT_EQ(msg, "reading '" + f.string() +
                     "': file is truncated: header declares 3×4×5 = 60 bytes of pixels, found 10");
}

TEST(Idx, TrailingBytes) {
  for (const char* name : {"trailing-idx3-ubyte", "trailing-idx3-ubyte.gz"}) {
    fs::path f = fixture(name);
    EXPECT_TRUE(names_file_and_says(data_error_of([&] { read_idx_images(f); }), f,
                                    "12 trailing bytes after 60 bytes of pixels"));
  }
  TempDir dir;
  std::vector<uint8_t> bytes = idx_header(0x00000801, {2});
  bytes.insert(bytes.end(), {1, 2, 3});
  write_bytes(dir / "lab", bytes);
  EXPECT_TRUE(names_file_and_says(data_error_of([&] { read_idx_labels(dir / "lab"); }), dir / "lab",
                                  "1 trailing byte after 2 labels"));
}

TEST(Idx, TruncatedLabels) {
  TempDir dir;
  std::vector<uint8_t> bytes = idx_header(0x00000801, {60000});
  bytes.resize(bytes.size() + 1000);
  write_bytes(dir / "lab", bytes);
  EXPECT_TRUE(names_file_and_says(data_error_of([&] { read_idx_labels(dir / "lab"); }), dir / "lab",
                                  "file is truncated: header declares 60000 labels, found 1000"));
}

TEST(Idx, LabelOutOfRange) {
  fs::path f = fixture("labels-range-idx1-ubyte");
  EXPECT_EQ(data_error_of([&] { read_idx_labels(f); }),
            "reading '" + f.string() + "': label 11 at index 5 is out of range; expected 0..9");
  EXPECT_TRUE(names_file_and_says(data_error_of([&] { read_idx_labels(f, 4); }), f,
                                  "label 4 at index 4 is out of range; expected 0..3"));
  EXPECT_EQ(read_idx_labels(f, 12).labels[5], 11);
  EXPECT_EQ(read_idx_labels(f, 0).labels[5], 11);  // 0: no range check
}

TEST(Idx, CountMismatch) {
  fs::path images = fixture("images-ok-idx3-ubyte"), labels = fixture("labels-short-idx1-ubyte");
  EXPECT_EQ(data_error_of([&] { load_dataset(images, labels); }),
            quoted(images) + " has 3 images but " + quoted(labels) + " has 2 labels");
}

// ---- broken gzip, unreadable files ----

TEST(Idx, CorruptGzip) {
  fs::path f = fixture("corrupt-idx3-ubyte.gz");
  EXPECT_TRUE(names_file_and_says(data_error_of([&] { read_idx_images(f); }), f,
                                  "corrupt gzip data (invalid block type)"));
}

TEST(Idx, TruncatedGzip) {
  fs::path f = fixture("truncated-gzip-idx3-ubyte.gz");
  std::string msg = data_error_of([&] { read_idx_images(f); });
  EXPECT_TRUE(names_file_and_says(msg, f, "corrupt gzip data"));
  EXPECT_TRUE(names_file_and_says(msg, f, "truncated"));
}

TEST(Idx, GzipCrcMismatch) {
  TempDir dir;
  write_idx_labels(dir / "lab.gz", IdxLabels{3, {1, 2, 3}}, true);
  std::vector<uint8_t> bytes = read_bytes(dir / "lab.gz");
  bytes[bytes.size() - 8] ^= 0xFF;  // first byte of the CRC-32 in the trailer
  write_bytes(dir / "lab.gz", bytes);
  EXPECT_TRUE(names_file_and_says(data_error_of([&] { read_idx_labels(dir / "lab.gz"); }),
                                  dir / "lab.gz", "corrupt gzip data (incorrect data check)"));
}

TEST(Idx, GarbageAfterGzip) {
  fs::path f = fixture("garbage-after-gzip-idx3-ubyte.gz");
  EXPECT_TRUE(names_file_and_says(data_error_of([&] { read_idx_images(f); }), f,
                                  "6 bytes of garbage after the end of the gzip data"));
}

TEST(Idx, MissingFileAndDirectory) {
  fs::path f = fixture("no-such-file-idx3-ubyte");
  EXPECT_EQ(data_error_of([&] { read_idx_images(f); }),
            "reading '" + f.string() + "': cannot open: No such file or directory");
  TempDir dir;
  EXPECT_TRUE(names_file_and_says(data_error_of([&] { read_idx_labels(dir.path()); }), dir.path(),
                                  "cannot open: it is a directory"));
}

// ---- writers ----

TEST(Idx, WritersRefuseInconsistentData) {
  TempDir dir;
  IdxImages img = sample_images(2, 3, 4, 4);
  img.pixels.pop_back();
  EXPECT_TRUE(names_file_and_says(data_error_of([&] { write_idx_images(dir / "img", img); }),
                                  dir / "img", "2×3×4 images need 24 bytes of pixels, got 23"));
  EXPECT_FALSE(fs::exists(dir / "img"));
  IdxImages empty;
  EXPECT_TRUE(names_file_and_says(data_error_of([&] { write_idx_images(dir / "img", empty); }),
                                  dir / "img", "image count is 0"));
  EXPECT_TRUE(names_file_and_says(data_error_of([&] {
                                    write_idx_labels(dir / "lab", IdxLabels{3, {1, 2}});
                                  }),
                                  dir / "lab", "label count is 3 but 2 labels were given"));
  std::string msg = data_error_of([&] {
    write_idx_labels(dir / "no-dir" / "lab", IdxLabels{1, {1}}, true);
  });
  EXPECT_TRUE(names_file_and_says(msg, dir / "no-dir" / "lab", "writing"));
  EXPECT_TRUE(names_file_and_says(msg, dir / "no-dir" / "lab", "cannot open"));
}

// ---- find_idx_file ----

TEST(Idx, FindIdxFileSpellings) {
  TempDir dir;
  const std::string stem = "train-images-idx3-ubyte";
  IdxImages img = sample_images(1, 2, 2, 5);

  write_idx_images(dir / "train-images.idx3-ubyte.gz", img, true);
  EXPECT_EQ(find_idx_file(dir.path(), stem), dir / "train-images.idx3-ubyte.gz");
  write_idx_images(dir / "train-images.idx3-ubyte", img);
  EXPECT_EQ(find_idx_file(dir.path(), stem), dir / "train-images.idx3-ubyte");
  write_idx_images(dir / "train-images-idx3-ubyte.gz", img, true);
  EXPECT_EQ(find_idx_file(dir.path(), stem), dir / "train-images-idx3-ubyte.gz");
  write_idx_images(dir / "train-images-idx3-ubyte", img);
  EXPECT_EQ(find_idx_file(dir.path(), stem), dir / "train-images-idx3-ubyte");
  // Asked for in the dotted spelling, the dashed one is found too.
  fs::remove(dir / "train-images.idx3-ubyte");
  fs::remove(dir / "train-images.idx3-ubyte.gz");
  EXPECT_EQ(find_idx_file(dir.path(), "train-images.idx3-ubyte"), dir / "train-images-idx3-ubyte");
  // What is found reads back.
  EXPECT_EQ(read_idx_images(find_idx_file(dir.path(), stem)).pixels, img.pixels);
}

TEST(Idx, FindIdxFileListsWhatItTried) {
  TempDir dir;
  fs::create_directory(dir / "t10k-labels-idx1-ubyte");  // a directory is not a match
  std::string msg = data_error_of([&] { find_idx_file(dir.path(), "t10k-labels-idx1-ubyte"); });
  EXPECT_EQ(msg, "looking for 't10k-labels-idx1-ubyte' in '" + dir.path().string() +
                     "': no file named t10k-labels-idx1-ubyte, t10k-labels-idx1-ubyte.gz, "
                     "t10k-labels.idx1-ubyte or t10k-labels.idx1-ubyte.gz");
  msg = data_error_of([&] { find_idx_file(dir / "nope", "x"); });
  EXPECT_TRUE(names_file_and_says(msg, dir / "nope", "no such directory"));
}

// ---- PGM ----

TEST(Idx, PgmBinary) {
  IdxImages img = read_pgm(fixture("digit-p5.pgm"));
  EXPECT_EQ(img.n, 1);
  EXPECT_EQ(img.h, 3);
  EXPECT_EQ(img.w, 4);
  EXPECT_EQ(img.pixels, (std::vector<uint8_t>{0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 255}));
}

TEST(Idx, PgmAsciiScalesMaxval) {
  IdxImages img = read_pgm(fixture("digit-p2.pgm"));
  EXPECT_EQ(img.n, 1);
  EXPECT_EQ(img.h, 2);
  EXPECT_EQ(img.w, 3);
  // maxval 7: v * 255 / 7, rounded to nearest (2 -> 72.86 -> 73, 6 -> 218.57 -> 219).
  EXPECT_EQ(img.pixels, (std::vector<uint8_t>{0, 36, 73, 109, 219, 255}));
}

TEST(Idx, PgmBinaryRasterStartingWithWhitespaceByte) {
  // The raster's first byte is 0x0A ('\n'); only one whitespace byte follows maxval.
  TempDir dir;
  std::string text = "P5 2 1 255\n";
  text += '\n';
  text += '\x20';
  write_text(dir / "ws.pgm", text);
  EXPECT_EQ(read_pgm(dir / "ws.pgm").pixels, (std::vector<uint8_t>{10, 32}));
}

TEST(Idx, PgmErrors) {
  fs::path truncated = fixture("truncated-p5.pgm");
  EXPECT_EQ(data_error_of([&] { read_pgm(truncated); }),
            "reading '" + truncated.string() +
                "': file is truncated: header declares 4×3 = 12 bytes of pixels, found 5");
  fs::path wide = fixture("maxval16-p5.pgm");
  EXPECT_TRUE(names_file_and_says(data_error_of([&] { read_pgm(wide); }), wide,
                                  "maxval 65535; only 8-bit PGM (maxval 1..255) is supported"));

  TempDir dir;
  struct Case {
    const char* name;
    std::string text;
    const char* phrase;
  };
  const Case cases[] = {
      {"p6.ppm", "P6\n1 1\n255\nabc", "(a colour PPM image); expected 'P' '5'"},
      {"empty.pgm", "", "file is empty"},
      {"short-header.pgm", "P2\n3 # no height\n", "the PGM header ends before the height"},
      {"bad-width.pgm", "P2\nx 2\n255\n", "expected width (a decimal number), found 'x'"},
      {"zero.pgm", "P5\n0 3\n255\n", "header declares 0×3 pixels"},
      {"above-maxval.pgm", "P2\n2 1\n7\n3 8\n", "pixel value 8 at index 1 is above maxval 7"},
      {"p5-above-maxval.pgm", "P5\n2 1\n7\n\x01\x09", "pixel value 9 at index 1 is above maxval 7"},
      {"p2-short.pgm", "P2\n2 2\n255\n1 2 3\n",
       "file is truncated: header declares 2×2 = 4 pixels, found 3"},
      {"p2-extra.pgm", "P2\n1 1\n255\n1 2\n", "unexpected '2' after 1 pixel"},
      {"p5-extra.pgm", "P5\n1 1\n255\nab", "1 trailing byte after 1 byte of pixels"},
      {"huge.pgm", "P5\n100000 100000\n255\n", "more than the limit"},
  };
  for (const Case& c : cases) {
    write_text(dir / c.name, c.text);
    EXPECT_TRUE(
        names_file_and_says(data_error_of([&] { read_pgm(dir / c.name); }), dir / c.name, c.phrase))
        << c.name;
  }
  EXPECT_TRUE(names_file_and_says(data_error_of([&] { read_pgm(dir / "missing.pgm"); }),
                                  dir / "missing.pgm", "cannot open"));
}

}  // namespace
}  // namespace batchscope
