// Threaded max-pooling: OpenMP over the N*C independent planes, with a dedicated path for
// the 2x2 stride-2 window every MNIST net uses. Tie-breaking matches ref exactly (first
// maximum in row-major window order wins), so argmax is bitwise equal to ref's.
#include "batchscope/error.h"
#include "kernels/cpu/cpu.h"
#include "kernels/ref/ref.h"

namespace batchscope::kernels::cpu {

namespace {

// Below this many input elements the OpenMP fork costs more than it saves (and even a
// parallel region with if(false) costs ~20 us in libgomp, so small inputs skip it entirely).
constexpr int64_t kParallelMin = int64_t{1} << 16;

// One plane, 2x2 window, stride 2: four candidates taken with strict '>' in ref's window order.
void pool_plane_2x2(float* y, int32_t* argmax, const float* x, int64_t W, int64_t P, int64_t Q) {
  for (int64_t p = 0; p < P; ++p) {
    const float* row0 = x + 2 * p * W;
    const float* row1 = row0 + W;
    const int32_t base = static_cast<int32_t>(2 * p * W);
    for (int64_t q = 0; q < Q; ++q) {
      float best = row0[2 * q];
      int32_t at = base + static_cast<int32_t>(2 * q);
      auto take = [&](float v, int64_t offset) {
        if (v > best) {
          best = v;
          at = base + static_cast<int32_t>(offset);
        }
      };
      take(row0[2 * q + 1], 2 * q + 1);
      take(row1[2 * q], W + 2 * q);
      take(row1[2 * q + 1], W + 2 * q + 1);
      y[p * Q + q] = best;
      argmax[p * Q + q] = at;
    }
  }
}

// One plane, any window and stride: ref's loop itself, on a one-plane geometry (its argmax
// is plane-relative too), so the two cannot drift apart.
void pool_plane_generic(float* y, int32_t* argmax, const float* x, const PoolShape& g) {
  PoolShape one = g;
  one.N = one.C = 1;
  one.x_block = 0;
  ref::maxpool2d_fwd(y, argmax, x, one);
}

// One channel block of a blocked input, [H, W, b] -> b plain output planes of [P, Q] (each
// `PQ` apart), any window: the b lanes of a pixel are contiguous, so the comparisons
// vectorise across channels. Strict '>' in ref's window order, per lane: ties resolve as ref.
template <int B>
void pool_block(float* y, int32_t* argmax, const float* x, const PoolShape& g, int64_t PQ) {
  const int64_t P = g.P(), Q = g.Q();
  for (int64_t p = 0; p < P; ++p)
    for (int64_t q = 0; q < Q; ++q) {
      float best[B];
      int32_t at[B];
      const int64_t first = (p * g.stride_h) * g.W + q * g.stride_w;
      for (int l = 0; l < B; ++l) {
        best[l] = x[first * B + l];
        at[l] = static_cast<int32_t>(first);
      }
      for (int64_t r = 0; r < g.R; ++r)
        for (int64_t s = 0; s < g.S; ++s) {
          const int64_t hw = (p * g.stride_h + r) * g.W + q * g.stride_w + s;
          const float* v = x + hw * B;
          for (int l = 0; l < B; ++l)
            if (v[l] > best[l]) {
              best[l] = v[l];
              at[l] = static_cast<int32_t>(hw);
            }
        }
      for (int l = 0; l < B; ++l) {
        y[l * PQ + p * Q + q] = best[l];
        argmax[l * PQ + p * Q + q] = at[l];
      }
    }
}

// The blocked input's forward: over (image, channel block) pairs.
void maxpool2d_fwd_blocked(float* y, int32_t* argmax, const float* x, const PoolShape& g) {
  const int64_t PQ = g.P() * g.Q(), HW = g.H * g.W, b = g.x_block, blocks = g.N * (g.C / b);
  auto one = [&](int64_t nb) {
    // Block nb holds channels (nb % (C/b)) * b ... + b - 1 of image nb / (C/b): plain planes
    // nb * b ... nb * b + b - 1, since both orders run images outermost.
    float* yp = y + nb * b * PQ;
    int32_t* ap = argmax + nb * b * PQ;
    const float* xp = x + nb * HW * b;
    if (b == 16) pool_block<16>(yp, ap, xp, g, PQ);
    else if (b == 8) pool_block<8>(yp, ap, xp, g, PQ);
    else BS_CHECK(false, "maxpool2d_fwd: channel block must be 8 or 16");
  };
  if (g.N * g.C * HW < kParallelMin) {
    for (int64_t nb = 0; nb < blocks; ++nb) one(nb);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t nb = 0; nb < blocks; ++nb) one(nb);
}

// The blocked input gradient: each block's [H, W, b] zeroed, then every plain output of its b
// channels routed to lane l of its winner, channels in ref's order within each plane.
void maxpool2d_bwd_blocked(float* dx, const float* dy, const int32_t* argmax, const float* relu_y,
                           const PoolShape& g) {
  const int64_t PQ = g.P() * g.Q(), HW = g.H * g.W, b = g.x_block, blocks = g.N * (g.C / b);
  auto one = [&](int64_t nb) {
    float* dxp = dx + nb * HW * b;
    for (int64_t i = 0; i < HW * b; ++i) dxp[i] = 0.0f;
    for (int64_t l = 0; l < b; ++l) {
      const int64_t plane = nb * b + l;
      const float* dyp = dy + plane * PQ;
      const int32_t* ap = argmax + plane * PQ;
      const float* yp = relu_y ? relu_y + plane * PQ : nullptr;
      for (int64_t i = 0; i < PQ; ++i)
        dxp[ap[i] * b + l] += yp ? (yp[i] > 0.0f ? dyp[i] : 0.0f) : dyp[i];
    }
  };
  if (g.N * g.C * HW < kParallelMin) {
    for (int64_t nb = 0; nb < blocks; ++nb) one(nb);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t nb = 0; nb < blocks; ++nb) one(nb);
}

}  // namespace

void maxpool2d_fwd(float* y, int32_t* argmax, const float* x, const PoolShape& g) {
  BS_CHECK(ref::is_valid(g), "maxpool2d_fwd: bad geometry");
  if (g.x_block) return maxpool2d_fwd_blocked(y, argmax, x, g);
  const int64_t P = g.P(), Q = g.Q(), planes = g.N * g.C;
  const bool is_2x2 = g.R == 2 && g.S == 2 && g.stride_h == 2 && g.stride_w == 2;
  auto pool_plane = [&](int64_t plane) {
    float* yp = y + plane * P * Q;
    int32_t* ap = argmax + plane * P * Q;
    const float* xp = x + plane * g.H * g.W;
    if (is_2x2)
      pool_plane_2x2(yp, ap, xp, g.W, P, Q);
    else
      pool_plane_generic(yp, ap, xp, g);
  };
  if (planes * g.H * g.W < kParallelMin) {
    for (int64_t plane = 0; plane < planes; ++plane) pool_plane(plane);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < planes; ++plane) pool_plane(plane);
}

void maxpool2d_bwd(float* dx, const float* dy, const int32_t* argmax, const float* relu_y,
                   const PoolShape& g) {
  BS_CHECK(ref::is_valid(g), "maxpool2d_bwd: bad geometry");
  if (g.x_block) return maxpool2d_bwd_blocked(dx, dy, argmax, relu_y, g);
  const int64_t PQ = g.P() * g.Q(), HW = g.H * g.W, planes = g.N * g.C;
  // Planes are disjoint, so threads never touch the same dx element; within a plane the
  // scatter runs in ref's order, which keeps overlapping windows' sums bitwise equal.
  auto route_plane = [&](int64_t plane) {
    float* dxp = dx + plane * HW;
    const float* dyp = dy + plane * PQ;
    const int32_t* ap = argmax + plane * PQ;
    for (int64_t i = 0; i < HW; ++i) dxp[i] = 0.0f;
    if (!relu_y) {
      for (int64_t i = 0; i < PQ; ++i) dxp[ap[i]] += dyp[i];
      return;
    }
    // A select, not a branch: windows of zeros are common after a ReLU and a mispredicted
    // branch per window made this slower than the plain scatter plus a ReLU pass. Adding +0
    // where the window is masked leaves dx bitwise as skipping would (dx is never -0 here).
    const float* yp = relu_y + plane * PQ;
    for (int64_t i = 0; i < PQ; ++i) dxp[ap[i]] += yp[i] > 0.0f ? dyp[i] : 0.0f;
  };
  if (planes * HW < kParallelMin) {
    for (int64_t plane = 0; plane < planes; ++plane) route_plane(plane);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < planes; ++plane) route_plane(plane);
}

}  // namespace batchscope::kernels::cpu
