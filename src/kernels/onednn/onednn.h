// The oneDNN back-end: convolution and dense ops on oneDNN 2.6 primitives, plain layouts at
// the API (nchw / oihw / row-major matrices). Each distinct shape gets its primitives built
// once and cached; later calls only repoint memory handles and execute. Only these six slots
// are provided here; registry.cpp fills the rest from kernels::cpu and ref.
#pragma once
#include <cstdint>
#include <string>

#include "kernels/kernels.h"

namespace batchscope::kernels::onednn {

// The convolutions, one instance per variant (Winograd / direct x f32 / bf16), so each op table
// points at its own. Winograd applies to 3x3 stride-1 convolutions whose channel counts fill
// 16-wide blocks; bf16 to convolutions with 16+ input channels; every other shape of a variant
// runs the direct f32 path.
// y: [N,K,P,Q] out, overwritten.  x: [N,C,H,W] in.  w: [K,C,R,S] in.  b: [K] in, or nullptr.
template <ConvAlgo A, Precision P>
void conv2d_fwd(float* y, const float* x, const float* w, const float* b, const ConvShape& g,
                bool relu);
// dx: [N,C,H,W] out, overwritten.  dy: [N,K,P,Q] in.  w: [K,C,R,S] in.
template <ConvAlgo A, Precision P>
void conv2d_bwd_data(float* dx, const float* dy, const float* w, const ConvShape& g);
// dw: [K,C,R,S] out, accumulate.  db: [K] out, accumulate, or nullptr.
// dy: [N,K,P,Q] in.  x: [N,C,H,W] in.
template <ConvAlgo A, Precision P>
void conv2d_bwd_weight(float* dw, float* db, const float* dy, const float* x, const ConvShape& g);

// Whether oneDNN runs the variant's convolutions on this CPU: builds forward, backward-data and
// backward-weights primitives for a shape the variant applies to (16 -> 16 channels, 3x3,
// stride 1) and checks each got a JIT implementation. "" if so, else the rest of a sentence
// "oneDNN ...", e.g. "has no forward convolution for it".
std::string conv_variant_unsupported(ConvAlgo a, Precision p);
// The channel block (16, 8) in which the variant's convolutions take and give activations
// on this CPU, so that callers holding them so skip the reorders; 0 if plain or none.
int64_t preferred_block(ConvAlgo a, Precision p);
// The ISA oneDNN dispatches to, after ONEDNN_MAX_CPU_ISA: "avx512_core", "avx2", ...
std::string effective_isa();

// y: [N,O] out, overwritten.  x: [N,I] in.  w: [O,I] in.  b: [O] in, or nullptr.
void dense_fwd(float* y, const float* x, const float* w, const float* b, int64_t N, int64_t I,
               int64_t O, bool relu);
// dx: [N,I] out, overwritten.  dy: [N,O] in.  w: [O,I] in.
void dense_bwd_data(float* dx, const float* dy, const float* w, int64_t N, int64_t I, int64_t O);
// dw: [O,I] out, accumulate.  db: [O] out, accumulate, or nullptr.  dy: [N,O] in.  x: [N,I] in.
void dense_bwd_weight(float* dw, float* db, const float* dy, const float* x, int64_t N, int64_t I,
                      int64_t O);

}  // namespace batchscope::kernels::onednn
