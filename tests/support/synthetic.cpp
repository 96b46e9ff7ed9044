// Synthetic dataset and temp-folder helpers for the tests.
#include "support/synthetic.h"

#include <unistd.h>

#include <atomic>

#include "core/rng.h"

namespace batchscope::testing {

Dataset make_synthetic(int64_t n, uint64_t seed, int64_t hw) {
  Dataset d;
  d.name = "synthetic";
  d.images.n = d.labels.n = n;
  d.images.h = d.images.w = hw;
  d.images.pixels.resize(static_cast<size_t>(n * hw * hw));
  d.labels.labels.resize(static_cast<size_t>(n));
  Rng rng(seed);
  for (int64_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(rng.below(10));
    d.labels.labels[static_cast<size_t>(i)] = static_cast<uint8_t>(c);
    uint8_t* img = d.images.pixels.data() + i * hw * hw;
    for (int64_t j = 0; j < hw * hw; ++j) img[j] = static_cast<uint8_t>(rng.below(90));
    // Ten block positions on a 5x2 grid scaled to the image.
    const int64_t by = (c / 5) * (hw - 4), bx = (c % 5) * (hw - 4) / 4;
    for (int64_t y = by; y < by + 4; ++y)
      for (int64_t x = bx; x < bx + 4; ++x) img[y * hw + x] = static_cast<uint8_t>(200 + rng.below(56));
  }
  return d;
}

void write_synthetic_mnist_dir(const std::filesystem::path& dir, int64_t n_train, int64_t n_test,
                               int64_t hw) {
  Dataset tr = make_synthetic(n_train, 1, hw), te = make_synthetic(n_test, 2, hw);
  write_idx_images(dir / "train-images-idx3-ubyte", tr.images);
  write_idx_labels(dir / "train-labels-idx1-ubyte", tr.labels);
  write_idx_images(dir / "t10k-images-idx3-ubyte", te.images);
  write_idx_labels(dir / "t10k-labels-idx1-ubyte", te.labels);
}

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  path_ = std::filesystem::temp_directory_path() /
          ("batchscope-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace batchscope::testing
