// Reference dense (fully connected) layer, PyTorch's nn.Linear: y = x·wᵀ + b, its gradient
// with respect to the input, and its gradients with respect to w and b. Plain triple loops
// with double-precision sums; no GEMM library, no blocking, no threads.
#include <algorithm>

#include "batchscope/error.h"
#include "kernels/ref/ref.h"

namespace batchscope::kernels::ref {

// y[n,o] = b[o] + sum_i x[n,i] * w[o,i]
void dense_fwd(float* y, const float* x, const float* w, const float* b, int64_t N, int64_t I,
               int64_t O, bool relu) {
  BS_CHECK(N > 0 && I > 0 && O > 0, "dense_fwd: sizes must be positive");
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      double acc = b != nullptr ? b[o] : 0.0;
      for (int64_t i = 0; i < I; ++i) acc += static_cast<double>(x[n * I + i]) * w[o * I + i];
      const float v = static_cast<float>(acc);
      y[n * O + o] = relu ? std::max(v, 0.0f) : v;
    }
}

// dx[n,i] = sum_o dy[n,o] * w[o,i]
void dense_bwd_data(float* dx, const float* dy, const float* w, int64_t N, int64_t I, int64_t O) {
  BS_CHECK(N > 0 && I > 0 && O > 0, "dense_bwd_data: sizes must be positive");
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < I; ++i) {
      double acc = 0.0;
      for (int64_t o = 0; o < O; ++o) acc += static_cast<double>(dy[n * O + o]) * w[o * I + i];
      dx[n * I + i] = static_cast<float>(acc);
    }
}

// dw[o,i] += sum_n dy[n,o] * x[n,i];   db[o] += sum_n dy[n,o]
void dense_bwd_weight(float* dw, float* db, const float* dy, const float* x, int64_t N, int64_t I,
                      int64_t O) {
  BS_CHECK(N > 0 && I > 0 && O > 0, "dense_bwd_weight: sizes must be positive");
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < I; ++i) {
      double acc = 0.0;
      for (int64_t n = 0; n < N; ++n) acc += static_cast<double>(dy[n * O + o]) * x[n * I + i];
      dw[o * I + i] = static_cast<float>(dw[o * I + i] + acc);
    }
  if (db == nullptr) return;
  for (int64_t o = 0; o < O; ++o) {
    double acc = 0.0;
    for (int64_t n = 0; n < N; ++n) acc += dy[n * O + o];
    db[o] = static_cast<float>(db[o] + acc);
  }
}

}  // namespace batchscope::kernels::ref
