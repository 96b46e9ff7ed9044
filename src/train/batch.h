// Turning dataset rows into a model input batch: uint8 pixels → normalised float32
// ((p/255 − mean) / std, MNIST's mean and std by default), labels → int32.
#pragma once
#include <cstdint>

#include "batchscope/idx.h"
#include "batchscope/normalization.h"

namespace batchscope {

// x: [n, h*w] out (d.samples set: [n, channels*h*w], copied as they are); labels: [n] out (may
// be null); rows: [n] dataset indices.
void fill_batch(float* x, int32_t* labels, const Dataset& d, const int64_t* rows, int64_t n,
                const Normalization& norm);

}  // namespace batchscope
