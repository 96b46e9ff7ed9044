// The forward of a convolution over a one-channel input (the first layer of an MNIST net) into
// 8-wide channel blocks (nChw8c), stride 1, on AVX-512 builds:
//   y[n,k,p,q] = b[k] + Σ_{r,s} w[k,0,r,s] · x[n,0, p - ph + r, q - pw + s]   (then ReLU if asked)
// Why our own: a layer with K = 24 outputs keeps 8-wide blocks on a 16-wide table (16-wide ones
// would pad it to 32), and oneDNN then runs its 8-wide kernel on half-width ymm registers: the
// fast recipe's 1 -> 24 5x5 layer ran at 26% of the AVX-512 FMA peak.
//
// Full-width zmm vectors over 8 channels: one vector holds an output block's 8 channels at two
// neighbouring pixels, interleaved (lane 2i: channel i at pixel q, lane 2i+1: at q+1). Then the
// weights of a tap are 8 values each repeated twice (laid out so once per call), the inputs of a
// tap are the pair x[q+s], x[q+1+s] repeated 8 times (one 64-bit broadcast load), and a single
// permute per output vector restores nChw8c order, where pixels q and q+1 are 16 consecutive floats.
//
// Register tile: NB blocks (NB <= 3) by PP pixel pairs of one output row, NB·PP accumulators
// plus NB weight vectors and a broadcast within the 32 zmm registers. Threads split the
// (image, block group, row) items in order; each output is written by one thread and sums its
// taps in the same order whatever the thread count.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include <omp.h>

#include "kernels/cpu/broadcast_pair.h"
#include "kernels/cpu/cpu.h"
#include "kernels/ref/ref.h"

namespace batchscope::kernels::cpu {

#if defined(__AVX512F__)
namespace {

constexpr int64_t kL = 8;  // channels per block
typedef float vf __attribute__((vector_size(64)));
constexpr int kMaxNB = 3;
constexpr int kMaxPP = 8;  // 3 x 8 accumulators + 3 weights + 1 broadcast

struct Geometry {
  int64_t R, S, P, Q, Wp;  // Wp: the row length of the padded image the tile reads
  const float* wd;         // [K/8][R][S][16]: each channel's weight twice
  const float* bd;         // [K/8][16] or null
  bool relu;
};

// Output blocks kb0 .. kb0+NB-1, row p, pixels q0 .. q0+2·PP-1 (the last one past Q is not
// stored). xp: the padded image, [Hp][Wp], with a zero column to spare on the right.
template <int NB, int PP, int FS>
void tile(float* y, const float* xp, const Geometry& g, int64_t kb0, int64_t p, int64_t q0) {
  const int64_t S = FS ? FS : g.S;
  // GCC vector types, not __m512: those may alias anything, and GCC then keeps the
  // accumulators in memory across the filter rows.
  vf acc[NB][PP];
  for (int j = 0; j < NB; ++j) {
    vf b = {};
    if (g.bd) std::memcpy(&b, g.bd + (kb0 + j) * 2 * kL, sizeof b);
    for (int i = 0; i < PP; ++i) acc[j][i] = b;
  }
  // One loop over the R·S taps (a nest of two made GCC spill the accumulators at every row).
  const float* xr = xp + p * g.Wp + q0;  // the tap's row of x, at its column s
  const float* wt = g.wd + kb0 * g.R * S * 2 * kL;
  const int64_t taps = g.R * S, kb_step = g.R * S * 2 * kL;
  for (int64_t t = 0, s = 0; t < taps; ++t) {
    vf wv[NB];
    for (int j = 0; j < NB; ++j) std::memcpy(&wv[j], wt + j * kb_step + t * 2 * kL, sizeof(vf));
    for (int i = 0; i < PP; ++i) {
      const vf xb = broadcast_pair(xr, 2 * i);  // x[q0 + 2i + s], x[q0 + 2i + 1 + s]
      for (int j = 0; j < NB; ++j) acc[j][i] += wv[j] * xb;
    }
    if (++s < S) {
      xr += 1;
    } else {
      s = 0;
      xr += g.Wp - (S - 1);
    }
  }
  const vf zero = {};
  for (int j = 0; j < NB; ++j)
    for (int i = 0; i < PP; ++i) {
      // Back to nChw8c order: pixel q's 8 channels, then pixel q+1's.
      vf v = __builtin_shufflevector(acc[j][i], acc[j][i], 0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7,
                                     9, 11, 13, 15);
      if (g.relu) v = v > zero ? v : zero;
      const int64_t q = q0 + 2 * i;
      float* dst = y + (((kb0 + j) * g.P + p) * g.Q + q) * kL;
      if (q + 1 < g.Q) std::memcpy(dst, &v, sizeof v);
      else std::memcpy(dst, &v, sizeof v / 2);  // an odd last pixel: its partner is not stored
    }
}

using TileFn = void (*)(float*, const float*, const Geometry&, int64_t, int64_t, int64_t);
template <int NB, int FS, size_t... Ps>
constexpr std::array<TileFn, sizeof...(Ps)> tiles_for(std::index_sequence<Ps...>) {
  return {&tile<NB, static_cast<int>(Ps) + 1, FS>...};
}
template <int FS>
struct Tiles {  // Tiles<FS>::fn[NB-1][PP-1]; FS = 0: any filter width
  static constexpr std::array<TileFn, kMaxPP> fn[kMaxNB] = {
      tiles_for<1, FS>(std::make_index_sequence<kMaxPP>()),
      tiles_for<2, FS>(std::make_index_sequence<kMaxPP>()),
      tiles_for<3, FS>(std::make_index_sequence<kMaxPP>())};
};

// One output row of blocks kb0 .. kb0+nb-1, in tiles of (nearly) equal numbers of pairs.
void row(float* y, const float* xp, const Geometry& g, int64_t kb0, int nb, int64_t p) {
  const int64_t pairs = (g.Q + 1) / 2, tiles = (pairs + kMaxPP - 1) / kMaxPP;
  const int64_t per = (pairs + tiles - 1) / tiles;
  // The widths of the MNIST nets' first layers get their taps unrolled.
  const auto& fn = g.S == 5 ? Tiles<5>::fn : g.S == 3 ? Tiles<3>::fn : Tiles<0>::fn;
  for (int64_t i0 = 0; i0 < pairs; i0 += per)
    fn[nb - 1][std::min(per, pairs - i0) - 1](y, xp, g, kb0, p, 2 * i0);
}

}  // namespace

bool conv2d_fwd_c1(float* y, const float* x, const float* w, const float* b, const ConvShape& g,
                   bool relu) {
  if (g.C != 1 || g.x_block != 0 || g.y_block != kL || g.K % kL != 0 || g.stride_h != 1 ||
      g.stride_w != 1 || !ref::is_valid(g))
    return false;
  const int64_t KB = g.K / kL, RS = g.R * g.S, P = g.P(), Q = g.Q();
  const int64_t Hp = g.H + 2 * g.pad_h, Wp = g.W + 2 * g.pad_w + 1;  // + 1: the spare column
  // The weight and bias vectors start on cache lines (a vector load across two lines costs two).
  thread_local std::vector<float> buffer;
  buffer.resize(static_cast<size_t>((KB * RS + KB) * 2 * kL + 16));
  float* wd = buffer.data() + (16 - reinterpret_cast<uintptr_t>(buffer.data()) / sizeof(float) % 16) % 16;
  float* bd = wd + KB * RS * 2 * kL;
  for (int64_t k = 0; k < g.K; ++k)
    for (int64_t rs = 0; rs < RS; ++rs)
      for (int64_t twice = 0; twice < 2; ++twice)
        wd[((k / kL) * RS + rs) * 2 * kL + (k % kL) * 2 + twice] = w[k * RS + rs];
  if (b)
    for (int64_t k = 0; k < g.K; ++k) bd[k * 2] = bd[k * 2 + 1] = b[k];
  const Geometry geo{g.R, g.S, P, Q, Wp, wd, b ? bd : nullptr, relu};
  const int64_t groups = (KB + kMaxNB - 1) / kMaxNB, items = g.N * groups * P;
  const int64_t y_image = g.K * P * Q;
#pragma omp parallel
  {
    const int64_t nt = omp_get_num_threads(), it = omp_get_thread_num();
    const int64_t first = items * it / nt, last = items * (it + 1) / nt;
    std::vector<float> xp(static_cast<size_t>(Hp * Wp), 0.0f);  // borders stay zero
    int64_t have = -1;  // the image xp holds
    for (int64_t i = first; i < last; ++i) {
      const int64_t n = i / (groups * P), grp = i / P % groups, p = i % P;
      if (n != have) {
        for (int64_t h = 0; h < g.H; ++h)
          std::memcpy(xp.data() + (h + g.pad_h) * Wp + g.pad_w, x + (n * g.H + h) * g.W,
                      static_cast<size_t>(g.W) * sizeof(float));
        have = n;
      }
      const int nb = static_cast<int>(std::min<int64_t>(kMaxNB, KB - grp * kMaxNB));
      row(y + n * y_image, xp.data(), geo, grp * kMaxNB, nb, p);
    }
  }
  return true;
}

#else  // AVX2 builds: oneDNN's 8-wide kernel is full width there.

bool conv2d_fwd_c1(float*, const float*, const float*, const float*, const ConvShape&, bool) {
  return false;
}

#endif

}  // namespace batchscope::kernels::cpu
