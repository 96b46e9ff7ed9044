// The weight gradient of a convolution whose output gradient is in 8-wide channel blocks
// (nChw8c, the AVX2 table's layout between layers) and whose input is too or is plain NCHW
// (after a max-pool), with C and K multiples of 8:
//   dw[k,c,r,s] += Σ_{n,p,q} dy[n,k,p,q] · x[n,c, p·sh - ph + r, q·sw - pw + s],  db[k] += Σ dy
// Why our own: oneDNN 2.7's AVX2 backward-weights kernel ran mnist-cnn's conv2 (32 -> 64, 3x3,
// 26x26) at 56-59% of the FMA peak on Zen 3 while its forward and backward-data ran at 85-88%:
// it issues one broadcast per FMA and reloads its accumulators.
//
// Register tile (BLIS-style, the reduction over n, p, q innermost): for one filter row r, one
// input-channel block and OCT output channels of one output block, acc[j][s] holds the 8 input
// channels of dw[k0+j, c0..c0+7, r, s] for s < S. Per output pixel: S vector loads of x (8
// channels, contiguous in nChw8c), OCT broadcasts of dy, OCT·S FMAs; OCT·S <= 12 so the tile,
// the x vectors and a broadcast fit the 16 ymm registers. The reduction runs over a pass of
// images per tile (as many as fit L2), then the tile is added into its slot of a shared
// [tile][OCT][S][8] buffer, which only the tile's owning thread writes.
//
// Threads own disjoint tiles (the work is split over output blocks first, so a thread reads only
// its part of dy), every tile sums its images in order: the result does not depend on the
// thread count, and no reduction crosses threads.
#include <algorithm>
#include <cstring>
#include <vector>

#include <omp.h>

#include "batchscope/error.h"
#include "kernels/cpu/cpu.h"
#include "kernels/ref/ref.h"

namespace batchscope::kernels::cpu {

namespace {

constexpr int64_t kL = 8;  // channels per block, floats per vector
typedef float vf __attribute__((vector_size(32)));

inline vf load(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Output channels per tile for filter width S: the most of 8, 4, 2, 1 with OCT·S <= 12.
constexpr int oc_tile(int S) { return 8 * S <= 12 ? 8 : 4 * S <= 12 ? 4 : 2 * S <= 12 ? 2 : 1; }

// Tile i in the order (output block kb, input block cb, filter row r, channel group grp).
struct TileIndex {
  int64_t kb, cb, r, grp;
  TileIndex(int64_t i, int64_t CB, int64_t R, int64_t groups)
      : kb(i / (CB * R * groups)), cb(i / (R * groups) % CB), r(i / groups % R), grp(i % groups) {}
};

struct Geometry {
  int64_t P, Q, Hp, Wp, sh, sw;  // Hp, Wp: the (padded) input plane x points at
};

// One tile over `images` consecutive images. out: [OCT][S][8], added to.
// d: dy of the tile's output block, [P][Q][8] at its first channel, the next image dy_step
// floats on; xp: x of the tile's input block, [Hp][Wp][8], the next image x_step on; r: the
// filter row.
template <int OCT, int S>
void tile(float* out, const float* d, const float* xp, int64_t images, int64_t dy_step,
          int64_t x_step, int64_t r, const Geometry& g) {
  vf acc[OCT][S] = {};
  for (int64_t n = 0; n < images; ++n, d += dy_step, xp += x_step)
    for (int64_t p = 0; p < g.P; ++p) {
      const float* xrow = xp + (p * g.sh + r) * g.Wp * kL;
      const float* drow = d + p * g.Q * kL;
      for (int64_t q = 0; q < g.Q; ++q) {
        const float* xq = xrow + q * g.sw * kL;
        vf xv[S];
        for (int s = 0; s < S; ++s) {
          xv[s] = load(xq + s * kL);
          // Opaque to the compiler: it must keep the vector in a register rather than fold the
          // load into each of the OCT FMAs that use it (OCT loads instead of one; measured 64%
          // of peak with the folded loads on Zen 3, where two 32-byte loads a cycle then bind).
          asm("" : "+x"(xv[s]));
        }
        for (int j = 0; j < OCT; ++j) {
          const float b = drow[q * kL + j];
          for (int s = 0; s < S; ++s) acc[j][s] += xv[s] * b;
        }
      }
    }
  for (int j = 0; j < OCT; ++j)
    for (int s = 0; s < S; ++s) {
      float* o = out + (j * S + s) * kL;
      const vf sum = load(o) + acc[j][s];
      std::memcpy(o, &sum, sizeof sum);
    }
}

template <int S>
void run(float* dw, float* db, const float* dy, const float* x, const ConvShape& g) {
  constexpr int OCT = oc_tile(S);
  constexpr int64_t kGroups = kL / OCT;  // tiles per output block and (input block, filter row)
  const int64_t P = g.P(), Q = g.Q(), KB = g.K / kL, CB = g.C / kL;
  const int64_t Hp = g.H + 2 * g.pad_h, Wp = g.W + 2 * g.pad_w;
  const Geometry geo{P, Q, Hp, Wp, g.stride_h, g.stride_w};
  const int64_t per_kb = CB * g.R * kGroups, tiles = KB * per_kb;
  constexpr int64_t kTileFloats = OCT * S * kL;
  const int64_t flops_per_image = 2 * g.K * g.C * g.R * g.S * P * Q;
  const int threads = g.N * flops_per_image >= (int64_t{1} << 22)
                          ? static_cast<int>(std::min<int64_t>(omp_get_max_threads(), tiles))
                          : 1;
  // Every tile's sums and every output block's bias sum, each written by one thread only, added
  // to dw / db at the end.
  std::vector<float> sums(static_cast<size_t>(tiles * kTileFloats), 0.0f);
  std::vector<float> bias(static_cast<size_t>(g.K), 0.0f);
  // x as the tiles read it: 8-wide blocks with a zero border. Blocked unpadded x is used as it
  // is; plain x (after a max-pool, which writes plain output) or padding takes a copy first,
  // each thread a share of the images.
  const bool copy_x = g.x_block == 0 || g.pad_h != 0 || g.pad_w != 0;
  const int64_t image_floats = CB * Hp * Wp * kL, dy_image = g.K * P * Q;
  // Images per pass over the tiles: as many as keep x and dy within ~256 KiB (L2), so a tile's
  // accumulators stay in registers over several small images (the fast recipe's 10x10 output)
  // and are stored once per pass; mnist-cnn's 26x26 conv2 takes one image a pass.
  const int64_t chunk = std::max<int64_t>(1, (int64_t{256} << 10) / (4 * (image_floats + dy_image)));
  thread_local std::vector<float> xcopy;
  if (copy_x) xcopy.resize(static_cast<size_t>(g.N * image_floats));
  float* const xc = copy_x ? xcopy.data() : nullptr;  // the calling thread's buffer, shared
  const float* xs = copy_x ? xc : x;
#pragma omp parallel num_threads(threads)
  {
    if (copy_x) {
#pragma omp for schedule(static)
      for (int64_t n = 0; n < g.N; ++n) {
        float* o = xc + n * image_floats;
        if (g.pad_h != 0 || g.pad_w != 0) std::fill(o, o + image_floats, 0.0f);
        for (int64_t cb = 0; cb < CB; ++cb)
          for (int64_t h = 0; h < g.H; ++h) {
            float* orow = o + ((cb * Hp + h + g.pad_h) * Wp + g.pad_w) * kL;
            if (g.x_block == kL) {
              std::memcpy(orow, x + ((n * CB + cb) * g.H + h) * g.W * kL,
                          static_cast<size_t>(g.W * kL) * sizeof(float));
            } else {
              for (int64_t l = 0; l < kL; ++l) {
                const float* xrow = x + ((n * g.C + cb * kL + l) * g.H + h) * g.W;
                for (int64_t w = 0; w < g.W; ++w) orow[w * kL + l] = xrow[w];
              }
            }
          }
      }  // implicit barrier: every image is copied before any tile reads one
    }
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t first = tiles * t / nt, last = tiles * (t + 1) / nt;
    for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
      const int64_t images = std::min(chunk, g.N - n0);
      const float* xn = xs + n0 * image_floats;
      const float* dyn = dy + n0 * dy_image;
      for (int64_t i = first; i < last; ++i) {
        const auto [kb, cb, r, grp] = TileIndex(i, CB, g.R, kGroups);
        // The bias sum of an output block, by the thread that holds its first tile (a
        // thread's tiles are contiguous, so exactly one thread does).
        if (db && i % per_kb == 0) {
          vf bsum{};
          for (int64_t n = 0; n < images; ++n)
            for (int64_t pq = 0; pq < P * Q; ++pq)
              bsum += load(dyn + n * dy_image + (kb * P * Q + pq) * kL);
          for (int64_t l = 0; l < kL; ++l) bias[static_cast<size_t>(kb * kL + l)] += bsum[l];
        }
        tile<OCT, S>(sums.data() + i * kTileFloats, dyn + kb * P * Q * kL + grp * OCT,
                     xn + cb * Hp * Wp * kL, images, dy_image, image_floats, r, geo);
      }
    }
  }
  for (int64_t i = 0; i < tiles; ++i) {
    const auto [kb, cb, r, grp] = TileIndex(i, CB, g.R, kGroups);
    const float* s0 = sums.data() + i * kTileFloats;
    for (int j = 0; j < OCT; ++j)
      for (int s = 0; s < S; ++s)
        for (int64_t l = 0; l < kL; ++l) {
          const int64_t k = kb * kL + grp * OCT + j, c = cb * kL + l;
          dw[((k * g.C + c) * g.R + r) * g.S + s] += s0[(j * S + s) * kL + l];
        }
  }
  if (db)
    for (int64_t k = 0; k < g.K; ++k) db[k] += bias[static_cast<size_t>(k)];
}

}  // namespace

bool conv2d_bwd_weight_b8(float* dw, float* db, const float* dy, const float* x, const ConvShape& g) {
  BS_CHECK(ref::is_valid(g), "conv2d_bwd_weight: bad geometry");
#if defined(__AVX512F__)
  // Measured only against oneDNN's AVX2 kernel; on AVX-512 oneDNN's own runs at 74-75%.
  return false;
#else
  if ((g.x_block != kL && g.x_block != 0) || g.y_block != kL || g.C % kL != 0 || g.K % kL != 0)
    return false;
  switch (g.S) {
    case 1: run<1>(dw, db, dy, x, g); return true;
    case 2: run<2>(dw, db, dy, x, g); return true;
    case 3: run<3>(dw, db, dy, x, g); return true;
    case 4: run<4>(dw, db, dy, x, g); return true;
    case 5: run<5>(dw, db, dy, x, g); return true;
    default: return false;
  }
#endif
}

}  // namespace batchscope::kernels::cpu
