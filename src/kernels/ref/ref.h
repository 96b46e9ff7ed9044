// The reference back-end: every op of kernels.h as plain loops, written to be read as the
// specification (sums accumulate in double so this is the accurate side of every test).
// No intrinsics, no threads, no blocking: speed is the other back-ends' job.
// Argument conventions are kernels.h's; each comment gives shape, direction and whether an
// output is overwritten or accumulated into. Shapes are given plain; a channel-blocked
// activation (ConvShape::x_block / y_block, PoolShape::x_block) runs through the same loops
// on a plain copy.
#pragma once
#include <cstdint>

#include "kernels/kernels.h"

namespace batchscope::kernels::ref {

// Geometry sanity shared by every back-end: positive sizes and strides, non-negative padding,
// at least one output pixel. Kernels BS_CHECK this on entry.
bool is_valid(const ConvShape& g);
bool is_valid(const PoolShape& g);

// y: [N,K,P,Q] out, overwritten.  x: [N,C,H,W] in.  w: [K,C,R,S] in.  b: [K] in, or nullptr.
void conv2d_fwd(float* y, const float* x, const float* w, const float* b, const ConvShape& g,
                bool relu);
// dx: [N,C,H,W] out, overwritten.  dy: [N,K,P,Q] in.  w: [K,C,R,S] in.
void conv2d_bwd_data(float* dx, const float* dy, const float* w, const ConvShape& g);
// dw: [K,C,R,S] out, accumulate.  db: [K] out, accumulate, or nullptr.
// dy: [N,K,P,Q] in.  x: [N,C,H,W] in.
void conv2d_bwd_weight(float* dw, float* db, const float* dy, const float* x, const ConvShape& g);
// The definition of Conv2dBwdWeightRelu: dy masked by relu_y > 0, then conv2d_bwd_weight.
void conv2d_bwd_weight_relu(float* dw, float* db, const float* dy, const float* relu_y,
                            const float* x, const ConvShape& g);

// y: [N,O] out, overwritten.  x: [N,I] in.  w: [O,I] in.  b: [O] in, or nullptr.
void dense_fwd(float* y, const float* x, const float* w, const float* b, int64_t N, int64_t I,
               int64_t O, bool relu);
// dx: [N,I] out, overwritten.  dy: [N,O] in.  w: [O,I] in.
void dense_bwd_data(float* dx, const float* dy, const float* w, int64_t N, int64_t I, int64_t O);
// dw: [O,I] out, accumulate.  db: [O] out, accumulate, or nullptr.  dy: [N,O] in.  x: [N,I] in.
void dense_bwd_weight(float* dw, float* db, const float* dy, const float* x, int64_t N, int64_t I,
                      int64_t O);

// y: [N,C,P,Q] out, overwritten.  argmax: [N,C,P,Q] out, overwritten (h*W+w of the winner;
// the first maximum in row-major window order wins ties).  x: [N,C,H,W] in.
void maxpool2d_fwd(float* y, int32_t* argmax, const float* x, const PoolShape& g);
// dx: [N,C,H,W] out, overwritten.  dy: [N,C,P,Q] in.  argmax: [N,C,P,Q] in.
void maxpool2d_bwd(float* dx, const float* dy, const int32_t* argmax, const float* relu_y,
                   const PoolShape& g);

// y: [n] out, overwritten, may alias x.  x: [n] in.
void relu_fwd(float* y, const float* x, int64_t n);
// dx: [n] out, overwritten, may alias dy.  dy: [n] in.  y: [n] in (the forward output).
void relu_bwd(float* dx, const float* dy, const float* y, int64_t n);

// probs: [N,L] out, overwritten.  logits: [N,L] in.  labels: [N] in.  Returns the mean loss.
double softmax_xent_fwd(float* probs, const float* logits, const int32_t* labels, int64_t N,
                        int64_t L);
// dlogits: [N,L] out, overwritten.  probs: [N,L] in.  labels: [N] in.
void softmax_xent_bwd(float* dlogits, const float* probs, const int32_t* labels, int64_t N,
                      int64_t L);

}  // namespace batchscope::kernels::ref
