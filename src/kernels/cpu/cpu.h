// Hand-written CPU kernels for the memory-bound ops that oneDNN is not used for: ReLU and
// max-pooling, threaded with OpenMP over independent elements / planes once the tensor is
// big enough to pay for the fork. Results are bitwise identical to ref for any thread count
// (no reductions cross threads). Softmax-xent is tiny ([N,10]) and stays on ref.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/kernels.h"

namespace batchscope::kernels::cpu {

// y: [n] out, overwritten, may alias x.  x: [n] in.
void relu_fwd(float* y, const float* x, int64_t n);
// dx: [n] out, overwritten, may alias dy.  dy: [n] in.  y: [n] in (the forward output).
void relu_bwd(float* dx, const float* dy, const float* y, int64_t n);

// y: [N,C,P,Q] out, overwritten.  argmax: [N,C,P,Q] out, overwritten.  x: [N,C,H,W] in.
void maxpool2d_fwd(float* y, int32_t* argmax, const float* x, const PoolShape& g);
// dx: [N,C,H,W] out, overwritten.  dy: [N,C,P,Q] in.  argmax: [N,C,P,Q] in.
void maxpool2d_bwd(float* dx, const float* dy, const int32_t* argmax, const float* relu_y,
                   const PoolShape& g);

// The weight gradient of a convolution over a one-channel input with the ReLU after it
// folded in (kernels.h: Conv2dBwdWeightRelu), for channel-blocked dy (y_block 8 or 16) and
// filter widths 1-5 and 7. Returns false, touching nothing, where it does not apply. relu_y
// null: no ReLU, dy used as it is.
bool conv2d_bwd_weight_relu_c1(float* dw, float* db, const float* dy, const float* relu_y,
                               const float* x, const ConvShape& g);

// The same without a ReLU (a max-pool or nothing after the convolution): dy as it is.
bool conv2d_bwd_weight_c1(float* dw, float* db, const float* dy, const float* x, const ConvShape& g);

// The weight gradient for dy in 8-wide channel blocks (y_block = 8), x blocked alike or plain
// (x_block 8 or 0), C and K multiples of 8 and filter widths 1-5, on AVX2 builds. Returns
// false, touching nothing, where it does not apply.
bool conv2d_bwd_weight_b8(float* dw, float* db, const float* dy, const float* x, const ConvShape& g);

// The forward of a convolution over a one-channel plain input into 8-wide channel blocks
// (y_block = 8, K a multiple of 8), stride 1, on AVX-512 builds: full-width vectors where
// oneDNN's 8-wide kernel runs half-width ones. Returns false, touching nothing, where it does
// not apply.
bool conv2d_fwd_c1(float* y, const float* x, const float* w, const float* b, const ConvShape& g,
                   bool relu);

// Conv2dFwd for a fast table: the kernel above where it applies, else `Fallback`.
template <Conv2dFwd Fallback>
void conv2d_fwd(float* y, const float* x, const float* w, const float* b, const ConvShape& g,
                bool relu) {
  if (conv2d_fwd_c1(y, x, w, b, g, relu)) return;
  Fallback(y, x, w, b, g, relu);
}

// The forward of a dense layer for a batch of kDenseSmallMinRows to kDenseSmallMaxRows rows
// (a matrix-vector product, bound by reading w once). Returns false, touching nothing, for
// other batches. Measured with mnist-cnn's 9216 -> 128 layer, w in cache, against oneDNN's
// matmul on a 2-core Xeon: on AVX-512 1.6-1.7x at one row and 1.2-1.3x at two, slower from
// three (the x loads then bound it); with AVX2 (-march=x86-64-v3, oneDNN capped to AVX2)
// 0.8-1.0x at one row and 1.2-1.3x at two.
#if defined(__AVX512F__)
constexpr int64_t kDenseSmallMinRows = 1;
#else
constexpr int64_t kDenseSmallMinRows = 2;
#endif
constexpr int64_t kDenseSmallMaxRows = 2;
bool dense_fwd_small(float* y, const float* x, const float* w, const float* b, int64_t N,
                     int64_t I, int64_t O, bool relu);

// DenseFwd for a fast table: the kernel above where it applies, else `Fallback`.
template <DenseFwd Fallback>
void dense_fwd(float* y, const float* x, const float* w, const float* b, int64_t N, int64_t I,
               int64_t O, bool relu) {
  if (dense_fwd_small(y, x, w, b, N, I, O, relu)) return;
  Fallback(y, x, w, b, N, I, O, relu);
}

// Conv2dBwdWeight for a fast table: the kernels above where they apply, else `Fallback`.
template <Conv2dBwdWeight Fallback>
void conv2d_bwd_weight(float* dw, float* db, const float* dy, const float* x, const ConvShape& g) {
  if (conv2d_bwd_weight_c1(dw, db, dy, x, g)) return;
  if (conv2d_bwd_weight_b8(dw, db, dy, x, g)) return;
  Fallback(dw, db, dy, x, g);
}

// Conv2dBwdWeightRelu for a fast table: the kernel above where it applies, else dy masked into
// a scratch buffer and the table's own weight gradient `Fallback`.
template <Conv2dBwdWeight Fallback>
void conv2d_bwd_weight_relu(float* dw, float* db, const float* dy, const float* relu_y,
                            const float* x, const ConvShape& g) {
  if (conv2d_bwd_weight_relu_c1(dw, db, dy, relu_y, x, g)) return;
  thread_local std::vector<float> masked;
  const int64_t n = g.N * g.K * g.P() * g.Q();
  masked.resize(static_cast<size_t>(n));
  relu_bwd(masked.data(), dy, relu_y, n);
  conv2d_bwd_weight<Fallback>(dw, db, masked.data(), x, g);
}

}  // namespace batchscope::kernels::cpu
