// The op table: every compute op the layers call, as plain function pointers.
// One signature per op; `ref` implements all of them with plain loops (the specification),
// faster back-ends override some slots (see registry.cpp). Argument order: outputs, inputs,
// then sizes. Tensors are row-major; conv data is [N,C,H,W], filters [K,C,R,S] (PyTorch's).
// "accumulate" means the kernel adds into its output (parameter gradients); everything
// else is overwritten.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "batchscope/backend.h"

namespace batchscope::kernels {

// Activation layouts. Block 0: plain [N,C,H,W]. Block b > 0: channel-blocked
// [N, C/b, H, W, b] (oneDNN's nChw16c / nChw8c), for tensors between layers that all take it,
// so the fast back-end's convolutions skip the reorders at their edges; C % b == 0. Weights
// and every other tensor stay plain.
// Convolution geometry. Input [N,C,H,W], filter [K,C,R,S], output [N,K,P,Q] with
// P = (H + 2*pad_h - R) / stride_h + 1, Q likewise. x_block lays out x and dx, y_block y and
// dy.
struct ConvShape {
  int64_t N, C, H, W, K, R, S;
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  int64_t x_block = 0, y_block = 0;
  int64_t P() const { return (H + 2 * pad_h - R) / stride_h + 1; }
  int64_t Q() const { return (W + 2 * pad_w - S) / stride_w + 1; }
};

// Max-pool geometry: window R×S, stride, no padding; input [N,C,H,W], output [N,C,P,Q].
// x_block lays out x and dx (see ConvShape); y, dy and argmax are plain.
struct PoolShape {
  int64_t N, C, H, W, R, S, stride_h, stride_w;
  int64_t x_block = 0;
  int64_t P() const { return (H - R) / stride_h + 1; }
  int64_t Q() const { return (W - S) / stride_w + 1; }
};

// y: [N,K,P,Q] out, overwritten; x: [N,C,H,W]; w: [K,C,R,S]; b: [K] or nullptr.
// relu: apply max(0,·) after the bias (fused post-op).
using Conv2dFwd = void (*)(float* y, const float* x, const float* w, const float* b,
                           const ConvShape& s, bool relu);
// dx: [N,C,H,W] out, overwritten; dy: [N,K,P,Q]; w: [K,C,R,S].
using Conv2dBwdData = void (*)(float* dx, const float* dy, const float* w, const ConvShape& s);
// dw: [K,C,R,S] accumulate; db: [K] accumulate or nullptr; dy: [N,K,P,Q]; x: [N,C,H,W].
using Conv2dBwdWeight = void (*)(float* dw, float* db, const float* dy, const float* x,
                                 const ConvShape& s);
// As Conv2dBwdWeight for dy' = relu_y > 0 ? dy : 0: the backward of a ReLU after the
// convolution folded in, where the convolution's own input gradient is not needed (the first
// layer). relu_y: [N,K,P,Q], the convolution's output after its fused ReLU, laid out as dy.
using Conv2dBwdWeightRelu = void (*)(float* dw, float* db, const float* dy, const float* relu_y,
                                     const float* x, const ConvShape& s);

// Dense (fully connected), PyTorch's nn.Linear: y = x·wᵀ + b.
// y: [N,O] out, overwritten; x: [N,I]; w: [O,I]; b: [O] or nullptr. relu: fused post-op.
using DenseFwd = void (*)(float* y, const float* x, const float* w, const float* b, int64_t N,
                          int64_t I, int64_t O, bool relu);
// dx: [N,I] out, overwritten; dy: [N,O]; w: [O,I].
using DenseBwdData = void (*)(float* dx, const float* dy, const float* w, int64_t N, int64_t I,
                              int64_t O);
// dw: [O,I] accumulate; db: [O] accumulate or nullptr; dy: [N,O]; x: [N,I].
using DenseBwdWeight = void (*)(float* dw, float* db, const float* dy, const float* x, int64_t N,
                                int64_t I, int64_t O);

// y: [N,C,P,Q] out; argmax: [N,C,P,Q] out, index of the winner within its input plane (h*W+w).
using MaxPool2dFwd = void (*)(float* y, int32_t* argmax, const float* x, const PoolShape& s);
// dx: [N,C,H,W] out, overwritten; dy, argmax: [N,C,P,Q]. relu_y: nullptr, or the pooled
// output [N,C,P,Q] when the pool's input is a ReLU's output: a window whose maximum is not
// positive then routes no gradient, which is that ReLU's backward folded in (its mask at
// every argmax is y > 0, and it zeroes every position no window picked anyway).
using MaxPool2dBwd = void (*)(float* dx, const float* dy, const int32_t* argmax,
                              const float* relu_y, const PoolShape& s);

// y = max(x, 0), n elements; y may alias x.
using ReluFwd = void (*)(float* y, const float* x, int64_t n);
// dx = dy where y > 0 else 0; dx may alias dy.
using ReluBwd = void (*)(float* dx, const float* dy, const float* y, int64_t n);

// Fused, numerically stable softmax + cross-entropy, mean over the batch.
// probs: [N,L] out; logits: [N,L]; labels: [N] in [0,L). Returns the mean loss.
using SoftmaxXentFwd = double (*)(float* probs, const float* logits, const int32_t* labels,
                                  int64_t N, int64_t L);
// dlogits: [N,L] out = (probs - onehot(labels)) / N.
using SoftmaxXentBwd = void (*)(float* dlogits, const float* probs, const int32_t* labels,
                                int64_t N, int64_t L);

// Backend { Reference, OneDnn } is public: batchscope/backend.h.

// How the fast back-end computes 3x3 stride-1 convolutions: direct, or Winograd F(4x4,3x3)
// (fewer multiplies, slightly different rounding). The reference back-end is always direct.
enum class ConvAlgo { Direct, Winograd };
// Arithmetic of the fast back-end's convolutions: f32, or bf16 inputs (activations, weights,
// output gradients rounded to bfloat16 on the fly) with f32 accumulation, f32 outputs and f32
// master weights. The reference back-end is always f32.
enum class Precision { F32, Bf16 };

// One kernel variant: a back-end with its convolution algorithm and arithmetic. Each variant is
// its own table (its conv slots are separate functions), so a Model holds the one it uses and
// two models with different variants coexist in one process.
struct OpTable {
  std::string_view name;  // "reference", "onednn", "onednn-winograd", "onednn-bf16", ...
  Backend backend;
  ConvAlgo conv_algo;
  Precision precision;
  Conv2dFwd conv2d_fwd;
  Conv2dBwdData conv2d_bwd_data;
  Conv2dBwdWeight conv2d_bwd_weight;
  Conv2dBwdWeightRelu conv2d_bwd_weight_relu;
  DenseFwd dense_fwd;
  DenseBwdData dense_bwd_data;
  DenseBwdWeight dense_bwd_weight;
  MaxPool2dFwd maxpool2d_fwd;
  MaxPool2dBwd maxpool2d_bwd;
  ReluFwd relu_fwd;
  ReluBwd relu_bwd;
  SoftmaxXentFwd softmax_xent_fwd;
  SoftmaxXentBwd softmax_xent_bwd;
};

// A variant this build knows, and whether this CPU runs it. A fast variant is offered only
// where oneDNN builds all three of its convolution primitives with a JIT (not reference)
// implementation on this CPU, as capped by ONEDNN_MAX_CPU_ISA; found out once, on first use.
struct Variant {
  const OpTable* table;
  bool supported;
  std::string_view needs;  // the CPU feature it needs, e.g. "AVX-512 (avx512_core)"; "" if none
  std::string why_not;     // "" when supported, else one sentence naming what is missing
  int64_t activation_block = 0;  // the block its convolutions want activations in; 0: plain
};
// Every variant, supported or not, in a fixed order: reference, onednn, onednn-winograd,
// onednn-bf16, onednn-winograd-bf16.
const std::vector<Variant>& variants();
// The supported ones' tables, in the same order (tests loop over these).
std::vector<const OpTable*> supported_tables();
// variants()' activation_block of table t: what a model keeps its convolutions' inputs and
// outputs in between layers (0 for the reference back-end).
int64_t activation_block(const OpTable& t);

// Layout conversion: [N, C, HW] plain <-> [N, C/b, HW, b] blocked (b > 0, C % b == 0).
void block_channels(float* blocked, const float* plain, int64_t N, int64_t C, int64_t HW, int64_t b);
void unblock_channels(float* plain, const float* blocked, int64_t N, int64_t C, int64_t HW, int64_t b);

// The default table of a back-end: reference, or onednn (direct, f32). Always supported.
const OpTable& ops(Backend b);
// The table for a back-end, algorithm and precision. Throws UsageError naming --conv-algo or
// --precision, the CPU feature it needs and what to use instead, when this CPU lacks it; the
// reference back-end takes only direct f32.
const OpTable& select_table(Backend b, ConvAlgo a, Precision p);
// The fastest supported convolution algorithm for onednn at precision p: Winograd where this
// CPU runs it (1.3-1.5x on the MNIST convolutions, docs/performance.md), else direct.
ConvAlgo fastest_conv_algo(Precision p);
// The ISA oneDNN dispatches to here, e.g. "avx512_core" or "avx2", after ONEDNN_MAX_CPU_ISA.
std::string onednn_isa();

// "reference" / "onednn"; throws UsageError (option "backend") for anything else.
Backend parse_backend(std::string_view s);
// "direct" / "winograd"; throws UsageError (option "conv_algo") for anything else.
ConvAlgo parse_conv_algo(std::string_view s);
// "f32" / "bf16"; throws UsageError (option "precision") for anything else.
Precision parse_precision(std::string_view s);
std::string_view to_string(ConvAlgo a);
std::string_view to_string(Precision p);

}  // namespace batchscope::kernels
