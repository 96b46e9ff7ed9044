// Threaded ReLU forward/backward: the ref loops, split into static OpenMP chunks for big
// tensors (a conv activation at batch 256 is ~9M floats). Small tensors take a plain loop:
// even a parallel region with if(false) costs ~20 us in libgomp, 5x a 36K-float ReLU.
#include "kernels/cpu/cpu.h"

namespace batchscope::kernels::cpu {

namespace {
// Below this many elements (256 KiB of floats) the OpenMP fork costs more than it saves.
constexpr int64_t kParallelMin = int64_t{1} << 16;
}  // namespace

void relu_fwd(float* y, const float* x, int64_t n) {
  if (n < kParallelMin) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    return;
  }
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void relu_bwd(float* dx, const float* dy, const float* y, int64_t n) {
  if (n < kParallelMin) {
    for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
    return;
  }
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

}  // namespace batchscope::kernels::cpu
