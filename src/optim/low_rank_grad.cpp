// Dense weight-gradient blocks dyᵀ·x from their factors (low_rank_grad.h).
//
// The optimizer asks for one block of kTileRows rows x one panel of columns at a time and
// updates those weights at once, so the [O, I] gradient is never written to memory. What
// bounds this is the update's own streaming of w and its state; the block must cost less
// than that (docs/performance.md, bench/bench_update.cpp).
#include "optim/low_rank_grad.h"

#include <algorithm>
#include <cstring>

namespace batchscope::optim {

namespace {

using vfloat = float __attribute__((vector_size(kLanes * sizeof(float))));

inline vfloat load(const float* p) {
  vfloat v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, vfloat v) { std::memcpy(p, &v, sizeof v); }

// One tile: g[kTileRows][kTileCols] (row stride ldg) = Σ_b dyp[b][:]ᵀ · xp[b][:].
void tile(float* g, int64_t ldg, const float* dyp, const float* xp, int64_t batch) {
  vfloat acc[kTileRows][kTileVecs] = {};
  for (int64_t b = 0; b < batch; ++b, dyp += kTileRows, xp += kTileCols) {
    vfloat xv[kTileVecs];
    for (int64_t v = 0; v < kTileVecs; ++v) xv[v] = load(xp + v * kLanes);
    for (int64_t r = 0; r < kTileRows; ++r) {
      const float d = dyp[r];
      for (int64_t v = 0; v < kTileVecs; ++v) acc[r][v] += d * xv[v];
    }
  }
  for (int64_t r = 0; r < kTileRows; ++r)
    for (int64_t v = 0; v < kTileVecs; ++v) store(g + r * ldg + v * kLanes, acc[r][v]);
}

}  // namespace

void low_rank_block_ref(float* g, int64_t ldg, const LowRankGrad& f, int64_t r0, int64_t nr,
                        int64_t j0, int64_t nc) {
  for (int64_t r = 0; r < nr; ++r)
    for (int64_t j = 0; j < nc; ++j) {
      float s = 0.0f;
      for (int64_t b = 0; b < f.batch; ++b) s += f.dy[b * f.rows + r0 + r] * f.x[b * f.cols + j0 + j];
      g[r * ldg + j] = s;
    }
}

void pack_dy(float* dyp, const LowRankGrad& f) {
  for (int64_t t = 0; t < tiles_of(f.rows, kTileRows); ++t)
    for (int64_t b = 0; b < f.batch; ++b)
      for (int64_t r = 0; r < kTileRows; ++r) {
        const int64_t row = t * kTileRows + r;
        *dyp++ = row < f.rows ? f.dy[b * f.rows + row] : 0.0f;
      }
}

void pack_x(float* xp, const LowRankGrad& f, int64_t j0, int64_t nc) {
  for (int64_t t = 0; t < tiles_of(nc, kTileCols); ++t) {
    const int64_t c0 = t * kTileCols, n = std::min(kTileCols, nc - c0);
    for (int64_t b = 0; b < f.batch; ++b, xp += kTileCols) {
      std::memcpy(xp, f.x + b * f.cols + j0 + c0, static_cast<size_t>(n) * sizeof(float));
      std::fill(xp + n, xp + kTileCols, 0.0f);
    }
  }
}

void low_rank_block(float* g, int64_t ldg, const float* dyp_block, const float* xp, int64_t batch,
                    int64_t tiles) {
  for (int64_t t = 0; t < tiles; ++t) tile(g + t * kTileCols, ldg, dyp_block, xp + t * batch * kTileCols, batch);
}

}  // namespace batchscope::optim
