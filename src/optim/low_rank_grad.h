// Blocks of a dense layer's weight gradient built from its factors, for the optimizer to use
// in place while they are still in L1 (see LowRankGrad in batchscope/optimizer.h).
#pragma once
#include <cstdint>

#include "batchscope/optimizer.h"

namespace batchscope::optim {

// Register tile of the fast kernel: rows x columns of the gradient held in accumulators
// while the batch is summed. AVX-512: 4 rows x 4 zmm = 16 of 32 registers, each x vector
// feeding 4 FMAs. AVX2: 4 rows x 3 ymm = 12 of 16 (plus 3 loads and a broadcast).
#if defined(__AVX512F__)
inline constexpr int64_t kLanes = 16, kTileVecs = 2, kTileRows = 8;
#else
inline constexpr int64_t kLanes = 8, kTileVecs = 2, kTileRows = 6;
#endif

inline constexpr int64_t kTileCols = kLanes * kTileVecs;

inline int64_t tiles_of(int64_t n, int64_t tile) { return (n + tile - 1) / tile; }

// The plain twin: g[rr * ldg + jj] = Σ_b f.dy[b, r0 + rr] · f.x[b, j0 + jj] for rr < nr,
// jj < nc, one element at a time, b in order.
void low_rank_block_ref(float* g, int64_t ldg, const LowRankGrad& f, int64_t r0, int64_t nr,
                        int64_t j0, int64_t nc);

// Packing, as BLIS packs its panels: x's rows are cols floats apart (36 KiB for mnist-cnn,
// 9 x 4 KiB), so a tile's batch of rows all fall into one L1 set and evict each other; packed,
// a tile's x is one contiguous run.
// dyp: [tiles_of(rows, kTileRows)][batch][kTileRows], zero past the last row.
void pack_dy(float* dyp, const LowRankGrad& f);
// xp: [tiles_of(nc, kTileCols)][batch][kTileCols] for columns j0..j0+nc-1, zero past nc.
void pack_x(float* xp, const LowRankGrad& f, int64_t j0, int64_t nc);

// g[rr * ldg + jj] for rr < kTileRows, jj < tiles * kTileCols: row block `dyp_block` (one
// [batch][kTileRows] block of pack_dy) times a packed x panel of `tiles` tiles. ldg must be
// at least tiles * kTileCols; rows and columns past the real ones come out zero.
void low_rank_block(float* g, int64_t ldg, const float* dyp_block, const float* xp, int64_t batch,
                    int64_t tiles);

}  // namespace batchscope::optim
