// Reference ReLU forward and backward. These loops are already what a fast back-end would
// write (the compiler vectorises them), so kernels::cpu only adds threading for big tensors.
#include "kernels/ref/ref.h"

namespace batchscope::kernels::ref {

// y[i] = max(x[i], 0). Written as a select so that it also vectorises; y may alias x.
void relu_fwd(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

// dx[i] = dy[i] where the forward output was positive, else 0; dx may alias dy.
void relu_bwd(float* dx, const float* dy, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

}  // namespace batchscope::kernels::ref
