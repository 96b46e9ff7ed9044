// A possibly channel-blocked activation seen as a plain one, for the reference loops: the
// buffer itself when plain, else a plain copy (an input, converted in) or a plain scratch
// (an output, which the caller blocks back with block_channels afterwards).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/kernels.h"

namespace batchscope::kernels::ref {

struct PlainCopy {
  std::vector<float> buf;
  float* p;  // the plain [N, C, HW] data
  PlainCopy(const float* data, int64_t N, int64_t C, int64_t HW, int64_t block, bool convert_in)
      : p(const_cast<float*>(data)) {
    if (block == 0) return;
    buf.resize(static_cast<size_t>(N * C * HW));
    if (convert_in) unblock_channels(buf.data(), data, N, C, HW, block);
    p = buf.data();
  }
};

}  // namespace batchscope::kernels::ref
