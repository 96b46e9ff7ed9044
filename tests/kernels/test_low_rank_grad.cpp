// The optimizer's fused dense weight gradient: packed register tiles against the plain twin,
// over shapes that hit every tile edge (rows and columns off the tile, batch 1 and odd).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/rng.h"
#include "optim/low_rank_grad.h"

namespace batchscope::optim {
namespace {

std::vector<float> randoms(int64_t n, uint64_t stream) {
  Rng rng(derive_seed(7, stream, static_cast<uint64_t>(n)));
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = rng.uniform(-1.0f, 1.0f);
  return v;
}

struct Case {
  int64_t rows, cols, batch;
};

TEST(LowRankGrad, PackedTilesMatchThePlainTwinOverTileEdges) {
  const std::vector<Case> cases = {
      {1, 1, 1},
      {kTileRows, kTileCols, 1},
      {kTileRows + 1, kTileCols - 1, 3},
      {2 * kTileRows - 1, 2 * kTileCols + 5, 17},
      {10, 16, 64},     // mnist-cnn's dense:10 after dense:128 is 10 x 128
      {128, 300, 33},
      {3, 7 * kTileCols, 256},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("rows " + std::to_string(c.rows) + " cols " + std::to_string(c.cols) +
                 " batch " + std::to_string(c.batch));
    const std::vector<float> dy = randoms(c.batch * c.rows, 1), x = randoms(c.batch * c.cols, 2);
    const LowRankGrad f{0, c.rows, c.cols, c.batch, dy.data(), x.data()};
    std::vector<float> want(static_cast<size_t>(c.rows * c.cols));
    low_rank_block_ref(want.data(), c.cols, f, 0, c.rows, 0, c.cols);

    const int64_t row_blocks = tiles_of(c.rows, kTileRows), tiles = tiles_of(c.cols, kTileCols);
    const int64_t ldg = tiles * kTileCols;
    std::vector<float> dyp(static_cast<size_t>(row_blocks * kTileRows * c.batch));
    std::vector<float> xp(static_cast<size_t>(tiles * kTileCols * c.batch));
    pack_dy(dyp.data(), f);
    pack_x(xp.data(), f, 0, c.cols);
    // NaN where the block must write, so a skipped element cannot pass as a zero.
    std::vector<float> g(static_cast<size_t>(kTileRows * ldg), std::nanf(""));
    for (int64_t rb = 0; rb < row_blocks; ++rb) {
      std::fill(g.begin(), g.end(), std::nanf(""));
      low_rank_block(g.data(), ldg, dyp.data() + rb * kTileRows * c.batch, xp.data(), c.batch, tiles);
      for (int64_t r = 0; r < kTileRows; ++r) {
        const int64_t row = rb * kTileRows + r;
        for (int64_t j = 0; j < ldg; ++j) {
          const float got = g[static_cast<size_t>(r * ldg + j)];
          if (row >= c.rows || j >= c.cols) {
            ASSERT_EQ(got, 0.0f) << "padding at row " << row << " col " << j;
            continue;
          }
          const float w = want[static_cast<size_t>(row * c.cols + j)];
          // A sum of `batch` products of magnitude <= 1, in the same order; only FMA
          // contraction can differ, an ulp or so per term.
          ASSERT_NEAR(got, w, 1e-6f * static_cast<float>(c.batch)) << "row " << row << " col " << j;
        }
      }
    }
  }
}

// A panel that starts inside the matrix (the optimizer packs panels of a row) takes the
// right columns.
TEST(LowRankGrad, PackingAPanelTakesItsColumns) {
  const int64_t rows = 5, cols = 3 * kTileCols + 7, batch = 4, j0 = kTileCols + 3, nc = kTileCols + 2;
  const std::vector<float> dy = randoms(batch * rows, 3), x = randoms(batch * cols, 4);
  const LowRankGrad f{0, rows, cols, batch, dy.data(), x.data()};
  std::vector<float> want(static_cast<size_t>(rows * nc));
  low_rank_block_ref(want.data(), nc, f, 0, rows, j0, nc);
  const int64_t tiles = tiles_of(nc, kTileCols), ldg = tiles * kTileCols;
  std::vector<float> dyp(static_cast<size_t>(tiles_of(rows, kTileRows) * kTileRows * batch));
  std::vector<float> xp(static_cast<size_t>(tiles * kTileCols * batch)), g(static_cast<size_t>(kTileRows * ldg));
  pack_dy(dyp.data(), f);
  pack_x(xp.data(), f, j0, nc);
  low_rank_block(g.data(), ldg, dyp.data(), xp.data(), batch, tiles);
  for (int64_t r = 0; r < std::min<int64_t>(rows, kTileRows); ++r)
    for (int64_t j = 0; j < nc; ++j)
      ASSERT_NEAR(g[static_cast<size_t>(r * ldg + j)], want[static_cast<size_t>(r * nc + j)], 1e-5f)
          << "row " << r << " col " << j;
}

}  // namespace
}  // namespace batchscope::optim
