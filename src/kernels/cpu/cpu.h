// Hand-written CPU kernels for the memory-bound ops that oneDNN is not used for: ReLU and
// max-pooling, threaded with OpenMP over independent elements / planes once the tensor is
// big enough to pay for the fork. Results are bitwise identical to ref for any thread count
// (no reductions cross threads). Softmax-xent is tiny ([N,10]) and stays on ref.
#pragma once
#include <cstdint>

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

}  // namespace batchscope::kernels::cpu
