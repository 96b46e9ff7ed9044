// Channel-blocked layout conversion (kernels.h): [N, C, HW] <-> [N, C/b, HW, b]. The reference
// kernels use it to run blocked tensors through their plain loops, and the tests to build
// blocked inputs; the fast back-end never calls it (oneDNN reorders, or nothing does).
#include "batchscope/error.h"
#include "kernels/kernels.h"

namespace batchscope::kernels {

void block_channels(float* blocked, const float* plain, int64_t N, int64_t C, int64_t HW, int64_t b) {
  BS_CHECK(b > 0 && C % b == 0, "block_channels: channels not a multiple of the block");
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < HW; ++i)
        blocked[((n * (C / b) + c / b) * HW + i) * b + c % b] = plain[(n * C + c) * HW + i];
}

void unblock_channels(float* plain, const float* blocked, int64_t N, int64_t C, int64_t HW, int64_t b) {
  BS_CHECK(b > 0 && C % b == 0, "unblock_channels: channels not a multiple of the block");
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < HW; ++i)
        plain[(n * C + c) * HW + i] = blocked[((n * (C / b) + c / b) * HW + i) * b + c % b];
}

}  // namespace batchscope::kernels
