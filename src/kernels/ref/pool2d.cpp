// Reference max-pooling without padding: forward with the winner's position recorded, and
// backward that routes each output gradient to its winner (summing where windows overlap).
#include "batchscope/error.h"
#include "kernels/ref/plain_copy.h"
#include "kernels/ref/ref.h"

namespace batchscope::kernels::ref {

bool is_valid(const PoolShape& g) {
  return g.N > 0 && g.C > 0 && g.H > 0 && g.W > 0 && g.R > 0 && g.S > 0 && g.stride_h > 0 &&
         g.stride_w > 0 && g.H >= g.R && g.W >= g.S && g.x_block >= 0 &&
         (g.x_block == 0 || g.C % g.x_block == 0);
}

// y[n,c,p,q] = max_{r,s} x[n, c, p*stride_h + r, q*stride_w + s]; argmax holds the winner's
// h*W + w. The comparison is strict, so the first maximum in window order wins ties.
namespace {
void maxpool2d_fwd_plain(float* y, int32_t* argmax, const float* x, const PoolShape& g) {
  BS_CHECK(is_valid(g), "maxpool2d_fwd: bad geometry");
  const int64_t P = g.P(), Q = g.Q();
  for (int64_t plane = 0; plane < g.N * g.C; ++plane) {
    const float* xp = x + plane * g.H * g.W;
    for (int64_t p = 0; p < P; ++p)
      for (int64_t q = 0; q < Q; ++q) {
        int64_t best = (p * g.stride_h) * g.W + q * g.stride_w;
        for (int64_t r = 0; r < g.R; ++r)
          for (int64_t s = 0; s < g.S; ++s) {
            const int64_t at = (p * g.stride_h + r) * g.W + (q * g.stride_w + s);
            if (xp[at] > xp[best]) best = at;
          }
        const int64_t out = (plane * P + p) * Q + q;
        y[out] = xp[best];
        argmax[out] = static_cast<int32_t>(best);
      }
  }
}

// dx[n,c,h,w] = sum of dy[n,c,p,q] over the outputs (p,q) whose winner is (h,w); 0 elsewhere.
void maxpool2d_bwd_plain(float* dx, const float* dy, const int32_t* argmax, const float* relu_y,
                         const PoolShape& g) {
  BS_CHECK(is_valid(g), "maxpool2d_bwd: bad geometry");
  const int64_t P = g.P(), Q = g.Q(), plane_in = g.H * g.W;
  for (int64_t i = 0; i < g.N * g.C * plane_in; ++i) dx[i] = 0.0f;
  for (int64_t plane = 0; plane < g.N * g.C; ++plane)
    for (int64_t pq = 0; pq < P * Q; ++pq) {
      const int64_t out = plane * P * Q + pq;
      BS_DCHECK(argmax[out] >= 0 && argmax[out] < plane_in, "maxpool2d_bwd: argmax out of plane");
      if (relu_y && !(relu_y[out] > 0.0f)) continue;
      dx[plane * plane_in + argmax[out]] += dy[out];
    }
}

}  // namespace

// Blocked inputs run through the plain loops on a plain copy (argmax stays plane-relative).
void maxpool2d_fwd(float* y, int32_t* argmax, const float* x, const PoolShape& g) {
  PoolShape p = g;
  p.x_block = 0;
  const PlainCopy px(x, g.N, g.C, g.H * g.W, g.x_block, true);
  maxpool2d_fwd_plain(y, argmax, px.p, p);
}

void maxpool2d_bwd(float* dx, const float* dy, const int32_t* argmax, const float* relu_y,
                   const PoolShape& g) {
  PoolShape p = g;
  p.x_block = 0;
  PlainCopy pdx(dx, g.N, g.C, g.H * g.W, g.x_block, false);
  maxpool2d_bwd_plain(pdx.p, dy, argmax, relu_y, p);
  if (g.x_block) block_channels(dx, pdx.p, g.N, g.C, g.H * g.W, g.x_block);
}

}  // namespace batchscope::kernels::ref
