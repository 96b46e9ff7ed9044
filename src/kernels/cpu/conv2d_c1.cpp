// The weight gradient of a convolution over a one-channel input (the first layer of an MNIST
// net), with the ReLU after it folded in:
//   dw[k,0,r,s] += Σ_{n,p,q} dy'[n,k,p,q] · x[n,0, p·sh - ph + r, q·sw - pw + s],  db[k] += Σ dy'
//   dy' = relu_y > 0 ? dy : 0
// oneDNN has no direct kernel for C = 1 backward-weights and falls back to a GEMM (4-5% of
// peak on AVX2: 2.5 ms of a 33 ms batch-64 step), and the ReLU's backward was a separate pass
// over the whole [N,32,26,26] gradient (38 GB/s, 3% of a batch-256 step). Here the K output
// channels of a block are one vector (dy is channel-blocked, nChw16c or nChw8c), each x value
// is broadcast against it, and RR x S taps are accumulated at once in registers.
#include <algorithm>
#include <cstring>
#include <vector>

#include <omp.h>

#include "batchscope/error.h"
#include "kernels/cpu/broadcast_pair.h"
#include "kernels/cpu/cpu.h"
#include "kernels/ref/ref.h"

namespace batchscope::kernels::cpu {

namespace {

// GCC drops a vector_size that depends on a template parameter, so each width is spelled out.
template <int L>
struct Vec;
template <>
struct Vec<8> {
  typedef float vf __attribute__((vector_size(32)));
};
template <>
struct Vec<16> {
  typedef float vf __attribute__((vector_size(64)));
};

// Accumulator registers a pass may use: 16 ymm (AVX2) or 32 zmm (AVX-512), less the masked dy
// vector and a broadcast, and some slack for the compiler.
#if defined(__AVX512F__)
constexpr int kMaxAcc = 26;
#else
constexpr int kMaxAcc = 12;
#endif

// One (image, channel block): rows r0 .. r0+RR-1 of the filter, all S columns, into acc.
// d: the masked dy of this block, [P][Q][L]; xp: the zero-padded image, [Hp][Wp].
// Pairs (AVX-512, 8-wide blocks, stride 1): a vector is 8 channels at two neighbouring
// pixels, interleaved (lane 2i: channel i at pixel 2q, lane 2i+1: at 2q+1), Q counts pixel
// pairs, and the x operand is the pair x[2q+s], x[2q+1+s] broadcast; out is then
// [R][S][16], each channel's two partial sums side by side.
template <int L, int RR, int S, bool Pairs = false>
void taps(float* out, const float* d, const float* xp, int64_t Wp, int64_t P, int64_t Q, int64_t sh,
          int64_t sw, int64_t r0) {
  using vf = typename Vec<L>::vf;
  vf acc[RR][S] = {};
  for (int64_t p = 0; p < P; ++p) {
    const float* xrow = xp + (p * sh + r0) * Wp;
    for (int64_t q = 0; q < Q; ++q) {
      vf dv;
      std::memcpy(&dv, d + (p * Q + q) * L, sizeof dv);
      if constexpr (Pairs) {
#if defined(__AVX512F__)  // (instantiated on AVX-512 builds only: kPairsBuilt)
        const float* xq = xrow + 2 * q;
        for (int r = 0; r < RR; ++r) {
          const float* xr = xq + r * Wp;
          for (int s = 0; s < S; ++s) acc[r][s] += dv * broadcast_pair(xr, s);
        }
#endif
      } else {
        const float* xq = xrow + q * sw;
        for (int r = 0; r < RR; ++r)
          for (int s = 0; s < S; ++s) acc[r][s] += dv * xq[r * Wp + s];
      }
    }
  }
  for (int r = 0; r < RR; ++r)
    for (int s = 0; s < S; ++s) {
      float* o = out + ((r0 + r) * S + s) * L;  // out: [R][S][L]
      for (int l = 0; l < L; ++l) o[l] += acc[r][s][l];
    }
}

// Filter rows in passes of as many as the accumulator registers hold (each pass reads d and x
// again, from L1); the pass size must be a compile-time constant to live in registers.
template <int L, int S, bool Pairs, int RR = 1>
void rows_pass(float* out, const float* d, const float* xp, int64_t Wp, int64_t rows, int64_t P,
               int64_t Q, int64_t sh, int64_t sw, int64_t r0) {
  if constexpr (RR < 7 && (RR + 1) * S <= kMaxAcc) {
    if (rows > RR) return rows_pass<L, S, Pairs, RR + 1>(out, d, xp, Wp, rows, P, Q, sh, sw, r0);
  }
  taps<L, RR, S, Pairs>(out, d, xp, Wp, P, Q, sh, sw, r0);
}

template <int L, int S, bool Pairs>
void all_taps(float* out, const float* d, const float* xp, int64_t Wp, int64_t R, int64_t P, int64_t Q,
              int64_t sh, int64_t sw) {
  constexpr int64_t kMaxRows = std::max(1, std::min(7, kMaxAcc / S));
  for (int64_t r0 = 0; r0 < R; r0 += kMaxRows)
    rows_pass<L, S, Pairs>(out, d, xp, Wp, std::min(kMaxRows, R - r0), P, Q, sh, sw, r0);
}

// The filter widths with a register-tiled path; others take the masked-copy fallback.
// Q: output pixels, or pixel pairs with Pairs.
template <int L, bool Pairs = false>
bool run_taps(float* out, const float* d, const float* xp, int64_t Wp, const ConvShape& g, int64_t Q) {
  const int64_t P = g.P();
  switch (g.S) {
    case 1: all_taps<L, 1, Pairs>(out, d, xp, Wp, g.R, P, Q, g.stride_h, g.stride_w); return true;
    case 2: all_taps<L, 2, Pairs>(out, d, xp, Wp, g.R, P, Q, g.stride_h, g.stride_w); return true;
    case 3: all_taps<L, 3, Pairs>(out, d, xp, Wp, g.R, P, Q, g.stride_h, g.stride_w); return true;
    case 4: all_taps<L, 4, Pairs>(out, d, xp, Wp, g.R, P, Q, g.stride_h, g.stride_w); return true;
    case 5: all_taps<L, 5, Pairs>(out, d, xp, Wp, g.R, P, Q, g.stride_h, g.stride_w); return true;
    case 7: all_taps<L, 7, Pairs>(out, d, xp, Wp, g.R, P, Q, g.stride_h, g.stride_w); return true;
    default: return false;
  }
}

// On AVX-512 an 8-wide block with stride 1 runs as pixel pairs in full-width vectors (taps).
#if defined(__AVX512F__)
constexpr bool kPairsBuilt = true;
#else
constexpr bool kPairsBuilt = false;
#endif

template <int L>
void c1_blocked(float* dw, float* db, const float* dy, const float* relu_y, const float* x,
                const ConvShape& g) {
  using vf = typename Vec<L>::vf;
  const int64_t P = g.P(), Q = g.Q(), PQ = P * Q, blocks = g.K / L, RS = g.R * g.S;
  // Pairs: d interleaved as taps describes, [P][Qp][16], and a spare zero column in xp for
  // the odd last pixel's partner (its dy is zero).
  const bool pairs = kPairsBuilt && L == 8 && g.stride_w == 1;
  const int64_t Qp = (Q + 1) / 2;
  const int64_t Hp = g.H + 2 * g.pad_h, Wp = g.W + 2 * g.pad_w + (pairs ? 1 : 0);
  const int64_t tasks = g.N * blocks;
  // Per thread: its partial sums [blocks][R][S][L] and [blocks][L], added in thread order at
  // the end, so a given thread count always gives the same bits.
  const int threads = tasks * PQ * L >= (int64_t{1} << 15) ? omp_get_max_threads() : 1;
  std::vector<float> part_w(static_cast<size_t>(threads * blocks * RS * L), 0.0f);
  std::vector<float> part_b(static_cast<size_t>(threads * blocks * L), 0.0f);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    std::vector<float> xp(static_cast<size_t>(Hp * Wp), 0.0f);
    std::vector<float> d(static_cast<size_t>(pairs ? P * Qp * 2 * L : PQ * L), 0.0f);
    std::vector<float> sums(static_cast<size_t>(pairs ? RS * 2 * L : 0));
    int64_t padded_n = -1;
    // Static over (image, block) in that order: a thread pads each of its images once.
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t n = task / blocks, kb = task % blocks;
      if (n != padded_n) {
        const float* xn = x + n * g.H * g.W;
        for (int64_t h = 0; h < g.H; ++h)
          std::memcpy(xp.data() + (h + g.pad_h) * Wp + g.pad_w, xn + h * g.W, static_cast<size_t>(g.W) * sizeof(float));
        padded_n = n;
      }
      // The ReLU's backward as a select (a branch mispredicts on a ReLU's runs of zeros).
      const float* dyb = dy + task * PQ * L;
      const float* yb = relu_y ? relu_y + task * PQ * L : nullptr;
      const vf zero{};
      vf bias{};
      // dv = pixel i's dy, with the ReLU's backward folded in (an out-parameter: a lambda
      // returning a 64-byte vector is an ABI warning on AVX2 builds).
      auto masked = [&](int64_t i, vf& dv) {
        std::memcpy(&dv, dyb + i * L, sizeof dv);
        if (relu_y) {
          vf yv;
          std::memcpy(&yv, yb + i * L, sizeof yv);
          dv = yv > zero ? dv : zero;
        }
        bias += dv;
      };
      // The copy keeps the taps' loads contiguous and hot, in the order they want.
      if constexpr (L == 8) {
        if (pairs) {
          for (int64_t p = 0; p < P; ++p)
            for (int64_t q = 0; q < Q; q += 2) {
              vf a, b = zero;
              masked(p * Q + q, a);
              if (q + 1 < Q) masked(p * Q + q + 1, b);
              const typename Vec<2 * L>::vf ab =
                  __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
              std::memcpy(d.data() + (p * Qp + q / 2) * 2 * L, &ab, sizeof ab);
            }
        }
      }
      if (!pairs)
        for (int64_t i = 0; i < PQ; ++i) {
          vf dv;
          masked(i, dv);
          std::memcpy(d.data() + i * L, &dv, sizeof dv);
        }
      float* pw = part_w.data() + (t * blocks + kb) * RS * L;
      float* pb = part_b.data() + (t * blocks + kb) * L;
      for (int l = 0; l < L; ++l) pb[l] += bias[l];
      if constexpr (L == 8 && kPairsBuilt) {
        if (pairs) {
          std::fill(sums.begin(), sums.end(), 0.0f);
          run_taps<2 * L, /*Pairs=*/true>(sums.data(), d.data(), xp.data(), Wp, g, Qp);
          for (int64_t rs = 0; rs < RS; ++rs)
            for (int l = 0; l < L; ++l) pw[rs * L + l] += sums[rs * 2 * L + 2 * l] + sums[rs * 2 * L + 2 * l + 1];
          continue;
        }
      }
      run_taps<L>(pw, d.data(), xp.data(), Wp, g, Q);
    }
  }
  for (int t = 0; t < threads; ++t)
    for (int64_t kb = 0; kb < blocks; ++kb) {
      const float* pw = part_w.data() + (t * blocks + kb) * RS * L;
      for (int64_t rs = 0; rs < RS; ++rs)
        for (int l = 0; l < L; ++l) dw[(kb * L + l) * RS + rs] += pw[rs * L + l];
      if (db)
        for (int l = 0; l < L; ++l) db[kb * L + l] += part_b[static_cast<size_t>((t * blocks + kb) * L + l)];
    }
}

}  // namespace

bool conv2d_bwd_weight_relu_c1(float* dw, float* db, const float* dy, const float* relu_y,
                               const float* x, const ConvShape& g) {
  BS_CHECK(ref::is_valid(g), "conv2d_bwd_weight_relu: bad geometry");
  if (g.C != 1 || g.x_block != 0 || (g.y_block != 8 && g.y_block != 16) || g.K % g.y_block != 0)
    return false;
  if (g.S != 1 && g.S != 2 && g.S != 3 && g.S != 4 && g.S != 5 && g.S != 7) return false;
  if (g.y_block == 16) c1_blocked<16>(dw, db, dy, relu_y, x, g);
  else c1_blocked<8>(dw, db, dy, relu_y, x, g);
  return true;
}

bool conv2d_bwd_weight_c1(float* dw, float* db, const float* dy, const float* x, const ConvShape& g) {
  return conv2d_bwd_weight_relu_c1(dw, db, dy, /*relu_y=*/nullptr, x, g);
}

}  // namespace batchscope::kernels::cpu
