// The forward of a dense layer for a batch of a few rows:
//   y[n,o] = b[o] + Σ_i x[n,i] · w[o,i]   (then ReLU if asked),  N <= kDenseSmallMaxRows
// At such batches the layer is a matrix-vector product, bound by reading w once (mnist-cnn's
// 9216 -> 128 layer: 4.7 MB, beyond the L2s). oneDNN's matmul ran it at 23 GB/s on a 2-core
// Xeon (AVX-512), where its backward-data, reading the same w, ran at 41 GB/s; this loop
// reads it at 55 GB/s at one row (cpu.h has the measured bound on N).
//
// Threads split the output features; each w row is streamed once, against every x row, with
// four independent accumulators in all to cover the FMA latency. Every output sums its
// terms in the same order whatever the thread count.
#include <cstring>

#include <omp.h>

#include "kernels/cpu/cpu.h"

namespace batchscope::kernels::cpu {

namespace {

#if defined(__AVX512F__)
constexpr int64_t kV = 16;
#else
constexpr int64_t kV = 8;
#endif
typedef float vf __attribute__((vector_size(kV * sizeof(float))));

inline vf load(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline float sum(vf v) {
  float s = 0.0f;
  for (int64_t l = 0; l < kV; ++l) s += v[l];
  return s;
}

// out[r] = Σ_i x[r·I + i] · wr[i] for r < NR; U independent accumulators per row.
template <int NR, int U = 4 / NR>
void dots(float* out, const float* wr, const float* x, int64_t I) {
  vf acc[NR][U] = {};
  int64_t i = 0;
  for (; i + U * kV <= I; i += U * kV)
    for (int u = 0; u < U; ++u) {
      const vf wv = load(wr + i + u * kV);
      for (int r = 0; r < NR; ++r) acc[r][u] += wv * load(x + r * I + i + u * kV);
    }
  for (int r = 0; r < NR; ++r) {
    vf a = acc[r][0];
    for (int u = 1; u < U; ++u) a += acc[r][u];
    float s = sum(a);
    for (int64_t j = i; j < I; ++j) s += x[r * I + j] * wr[j];
    out[r] = s;
  }
}

}  // namespace

bool dense_fwd_small(float* y, const float* x, const float* w, const float* b, int64_t N,
                     int64_t I, int64_t O, bool relu) {
  if (N < kDenseSmallMinRows || N > kDenseSmallMaxRows || I < 1 || O < 1) return false;
  // The fork pays from about 32 K weights on (a 128 -> 10 layer runs on one thread).
#pragma omp parallel for schedule(static) if (O * I >= (int64_t{1} << 15))
  for (int64_t o = 0; o < O; ++o) {
    float s[kDenseSmallMaxRows];
    const float* wr = w + o * I;
    if (N == 1) dots<1>(s, wr, x, I);
    else dots<2>(s, wr, x, I);
    for (int64_t n = 0; n < N; ++n) {
      const float v = s[n] + (b ? b[o] : 0.0f);
      y[n * O + o] = relu && !(v > 0.0f) ? 0.0f : v;
    }
  }
  return true;
}

}  // namespace batchscope::kernels::cpu
