// Turning dataset rows into a model input batch: uint8 pixels → normalised float32
// ((p/255 − mean) / std, MNIST's mean and std by default), labels → int32.
#pragma once
#include <cstdint>

#include "batchscope/idx.h"

namespace batchscope {

struct Normalization {
  float mean = 0.1307f;  // MNIST training-set pixel mean (of p/255)
  float std = 0.3081f;   // and standard deviation
};

// x: [n, h*w] out; labels: [n] out (may be null); rows: [n] dataset indices.
void fill_batch(float* x, int32_t* labels, const Dataset& d, const int64_t* rows, int64_t n,
                const Normalization& norm);

}  // namespace batchscope
