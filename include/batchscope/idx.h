// IDX files (LeCun's MNIST format), plain or gzip'd, read with strict validation.
// Images: magic 0x00000803, dims N×H×W, uint8. Labels: magic 0x00000801, dim N, uint8.
// Every error names the file and says what was found and what was expected.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace batchscope {

struct IdxImages {
  int64_t n = 0, h = 0, w = 0;
  std::vector<uint8_t> pixels;  // [n,h,w] row-major
};

struct IdxLabels {
  int64_t n = 0;
  std::vector<uint8_t> labels;  // [n]
};

// The rank an IDX file's magic declares: 3 for images (0x00000803), 1 for labels (0x00000801),
// read from its first bytes (gzip'd or not). DataError naming the file for anything else.
int idx_rank(const std::filesystem::path& file);
// Reads an image file; gzip is detected from the content (1f 8b), not the name.
// Throws DataError on: missing/unreadable file, bad magic (naming what it looks like),
// wrong rank, zero dimensions, declared size above max_bytes (checked before allocating),
// truncation, trailing bytes, corrupt gzip.
IdxImages read_idx_images(const std::filesystem::path& file, int64_t max_bytes = int64_t{1} << 32);
// Reads a label file; with num_classes > 0 every label must be < num_classes.
IdxLabels read_idx_labels(const std::filesystem::path& file, int num_classes = 10);

// Writers (plain, or gzip'd when gzip is true), used by tests and by tools that make data.
void write_idx_images(const std::filesystem::path& file, const IdxImages& img, bool gzip = false);
void write_idx_labels(const std::filesystem::path& file, const IdxLabels& lab, bool gzip = false);

// A train/test pair of image and label files.
struct Dataset {
  IdxImages images;
  IdxLabels labels;
  std::string name;  // for messages: the image file's path
  // Optional: samples given as float32 [images.n, channels, images.h, images.w] (arrays from
  // Python), used as they are: no normalisation. images.pixels is then empty.
  std::vector<float> samples;
  int64_t channels = 1;
};

// Loads an image file and its label file and checks that their counts match.
Dataset load_dataset(const std::filesystem::path& images, const std::filesystem::path& labels,
                     int num_classes = 10);

// In DIR, finds `<stem>` or `<stem>.gz` (e.g. "train-images-idx3-ubyte"); also accepts
// the "train-images.idx3-ubyte" spelling. Throws DataError listing the names it tried.
std::filesystem::path find_idx_file(const std::filesystem::path& dir, const std::string& stem);

// Reads a binary (P5) or ASCII (P2) PGM image with maxval ≤ 255 into pixels[h*w].
IdxImages read_pgm(const std::filesystem::path& file);

}  // namespace batchscope
