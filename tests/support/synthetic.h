// A small learnable dataset made on the fly: class c is a bright 4x4 block at one of ten
// fixed places plus uniform noise, so a tiny CNN separates the classes in a few hundred steps.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "batchscope/idx.h"

namespace batchscope::testing {

Dataset make_synthetic(int64_t n, uint64_t seed, int64_t hw = 12);

// Writes the four standard MNIST file names for a synthetic train/test pair into dir.
void write_synthetic_mnist_dir(const std::filesystem::path& dir, int64_t n_train, int64_t n_test,
                               int64_t hw = 12);

// A fresh empty folder under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace batchscope::testing
