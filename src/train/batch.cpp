// Batch assembly: one table lookup per pixel (256 precomputed normalised values).
#include "train/batch.h"

#include <algorithm>
#include <array>

namespace batchscope {

void fill_batch(float* x, int32_t* labels, const Dataset& d, const int64_t* rows, int64_t n,
                const Normalization& norm) {
  if (!d.samples.empty()) {
    const int64_t chw = d.channels * d.images.h * d.images.w;
    for (int64_t i = 0; i < n; ++i) {
      std::copy_n(d.samples.data() + rows[i] * chw, chw, x + i * chw);
      if (labels) labels[i] = d.labels.labels[static_cast<size_t>(rows[i])];
    }
    return;
  }
  std::array<float, 256> lut;
  for (int v = 0; v < 256; ++v) lut[static_cast<size_t>(v)] = (static_cast<float>(v) / 255.f - norm.mean) / norm.std;
  const int64_t hw = d.images.h * d.images.w;
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* src = d.images.pixels.data() + rows[i] * hw;
    float* dst = x + i * hw;
    for (int64_t j = 0; j < hw; ++j) dst[j] = lut[src[j]];
    if (labels) labels[i] = d.labels.labels[static_cast<size_t>(rows[i])];
  }
}

}  // namespace batchscope
