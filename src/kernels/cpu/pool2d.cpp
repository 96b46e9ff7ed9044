// Threaded max-pooling: OpenMP over the N*C independent planes, with a dedicated path for
// the 2x2 stride-2 window every MNIST net uses. Tie-breaking matches ref exactly (first
// maximum in row-major window order wins), so argmax is bitwise equal to ref's.
// A channel-blocked input (PoolShape::x_block = b) is the same planes read with an element
// stride of b: plane (n, c) starts at block (n, c / b), lane c % b. The 2x2 stride-2 window
// reads a blocked input a whole block at a time, its b planes as the lanes of one vector; other
// windows read it plane by plane, strided. y and argmax are plain either way.
#include <cstring>
#include <vector>

#include "batchscope/error.h"
#include "kernels/cpu/cpu.h"
#include "kernels/ref/ref.h"

namespace batchscope::kernels::cpu {

namespace {

// Below this many input elements the OpenMP fork costs more than it saves (and even a
// parallel region with if(false) costs ~20 us in libgomp, so small inputs skip it entirely).
constexpr int64_t kParallelMin = int64_t{1} << 16;

// Where plane `plane` (n * C + c) of x or dx starts, and the distance between its elements.
struct PlaneAt {
  int64_t offset, stride;
};
PlaneAt plane_at(const PoolShape& g, int64_t plane) {
  const int64_t HW = g.H * g.W, b = g.x_block;
  if (b == 0) return {plane * HW, 1};
  const int64_t n = plane / g.C, c = plane % g.C;
  return {((n * (g.C / b) + c / b) * HW) * b + c % b, b};
}

// One plane, 2x2 window, stride 2: four candidates taken with strict '>' in ref's window order.
// x's element i of the plane is x[i * st].
void pool_plane_2x2(float* y, int32_t* argmax, const float* x, int64_t st, int64_t W, int64_t P,
                    int64_t Q) {
  for (int64_t p = 0; p < P; ++p) {
    const int32_t base = static_cast<int32_t>(2 * p * W);
    for (int64_t q = 0; q < Q; ++q) {
      const int64_t i00 = base + 2 * q;
      float best = x[i00 * st];
      int32_t at = static_cast<int32_t>(i00);
      auto take = [&](int64_t i) {
        const float v = x[i * st];
        if (v > best) {
          best = v;
          at = static_cast<int32_t>(i);
        }
      };
      take(i00 + 1);
      take(i00 + W);
      take(i00 + W + 1);
      y[p * Q + q] = best;
      argmax[p * Q + q] = at;
    }
  }
}

// GCC drops a vector_size that depends on a template parameter, so each width is spelled out.
template <int L>
struct Lanes;
template <>
struct Lanes<8> {
  typedef float vf __attribute__((vector_size(32)));
  typedef int32_t vi __attribute__((vector_size(32)));
};
template <>
struct Lanes<16> {
  typedef float vf __attribute__((vector_size(64)));
  typedef int32_t vi __attribute__((vector_size(64)));
};

// One channel block of a blocked input ([H][W][L], L channels interleaved), 2x2 window,
// stride 2: the L planes at once, one vector per candidate, with the same strict '>' in ref's
// window order per lane, so y and argmax are bitwise ref's. y and argmax are plain: lane l
// goes to plane l, PQ apart. Reading the block plane by plane instead (strided, 4 loads per
// output per plane) made the fast recipe's first pool (256x24x24x24 on AVX2) 5.5-6 ms of a
// 35 ms step.
template <int L>
void pool_block_2x2(float* y, int32_t* argmax, const float* xb, int64_t W, int64_t P, int64_t Q) {
  using vf = typename Lanes<L>::vf;
  using vi = typename Lanes<L>::vi;
  const int64_t PQ = P * Q;
  // The block's outputs go to an L1-resident [PQ][L] buffer first and then out plane by plane:
  // storing each lane straight to its plane interleaved L output streams (2L with argmax), and
  // mnist-cnn's pool (64 channels, 24x24, batch 64, AVX-512) took 0.90 ms forward against
  // 0.63 ms backward; through the buffer 0.59 ms against 0.63.
  thread_local std::vector<float> ybuf;
  thread_local std::vector<int32_t> abuf;
  ybuf.resize(static_cast<size_t>(PQ * L));
  abuf.resize(static_cast<size_t>(PQ * L));
  for (int64_t p = 0; p < P; ++p)
    for (int64_t q = 0; q < Q; ++q) {
      const int64_t i00 = 2 * p * W + 2 * q;
      vf best;
      std::memcpy(&best, xb + i00 * L, sizeof best);
      vi at = vi{} + static_cast<int32_t>(i00);
      for (const int64_t i : {i00 + 1, i00 + W, i00 + W + 1}) {
        vf v;
        std::memcpy(&v, xb + i * L, sizeof v);
        const vi gt = v > best;
        best = gt ? v : best;
        at = gt ? vi{} + static_cast<int32_t>(i) : at;
      }
      std::memcpy(ybuf.data() + (p * Q + q) * L, &best, sizeof best);
      std::memcpy(abuf.data() + (p * Q + q) * L, &at, sizeof at);
    }
  for (int l = 0; l < L; ++l) {
    float* yl = y + l * PQ;
    int32_t* al = argmax + l * PQ;
    const float* yb = ybuf.data() + l;
    const int32_t* ab = abuf.data() + l;
    for (int64_t i = 0; i < PQ; ++i) {
      yl[i] = yb[i * L];
      al[i] = ab[i * L];
    }
  }
}

// One plane, any window and stride, plain: ref's loop itself, on a one-plane geometry (its
// argmax is plane-relative too), so the two cannot drift apart.
void pool_plane_generic(float* y, int32_t* argmax, const float* x, const PoolShape& g) {
  PoolShape one = g;
  one.N = one.C = 1;
  one.x_block = 0;
  ref::maxpool2d_fwd(y, argmax, x, one);
}

}  // namespace

void maxpool2d_fwd(float* y, int32_t* argmax, const float* x, const PoolShape& g) {
  BS_CHECK(ref::is_valid(g), "maxpool2d_fwd: bad geometry");
  const int64_t P = g.P(), Q = g.Q(), HW = g.H * g.W, planes = g.N * g.C;
  const bool is_2x2 = g.R == 2 && g.S == 2 && g.stride_h == 2 && g.stride_w == 2;
  if (is_2x2 && (g.x_block == 8 || g.x_block == 16)) {
    // A block of L planes per task: plane (n, kb*L + l) is lane l of block n*C/L + kb.
    const int64_t L = g.x_block, blocks = planes / L;
    auto pool_block = [&](int64_t blk) {
      float* yb = y + blk * L * P * Q;
      int32_t* ab = argmax + blk * L * P * Q;
      if (L == 8) pool_block_2x2<8>(yb, ab, x + blk * HW * L, g.W, P, Q);
      else pool_block_2x2<16>(yb, ab, x + blk * HW * L, g.W, P, Q);
    };
    if (planes * HW < kParallelMin) {
      for (int64_t blk = 0; blk < blocks; ++blk) pool_block(blk);
      return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < blocks; ++blk) pool_block(blk);
    return;
  }
  auto pool_plane = [&](int64_t plane) {
    float* yp = y + plane * P * Q;
    int32_t* ap = argmax + plane * P * Q;
    const PlaneAt at = plane_at(g, plane);
    if (is_2x2) {
      pool_plane_2x2(yp, ap, x + at.offset, at.stride, g.W, P, Q);
    } else if (at.stride == 1) {
      pool_plane_generic(yp, ap, x + at.offset, g);
    } else {
      // A blocked plane in another window: gathered to a plain one first (rare: MNIST nets
      // pool 2x2), so ref's loop still decides.
      thread_local std::vector<float> plane_copy;
      plane_copy.resize(static_cast<size_t>(HW));
      for (int64_t i = 0; i < HW; ++i) plane_copy[static_cast<size_t>(i)] = x[at.offset + i * at.stride];
      pool_plane_generic(yp, ap, plane_copy.data(), g);
    }
  };
  if (planes * HW < kParallelMin) {
    for (int64_t plane = 0; plane < planes; ++plane) pool_plane(plane);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < planes; ++plane) pool_plane(plane);
}

void maxpool2d_bwd(float* dx, const float* dy, const int32_t* argmax, const float* relu_y,
                   const PoolShape& g) {
  BS_CHECK(ref::is_valid(g), "maxpool2d_bwd: bad geometry");
  const int64_t PQ = g.P() * g.Q(), HW = g.H * g.W, planes = g.N * g.C;
  // Planes are disjoint, so threads never touch the same dx element; within a plane the
  // scatter runs in ref's order, which keeps overlapping windows' sums bitwise equal.
  // A blocked dx is zeroed a whole block at a time (contiguous), then its b planes scattered;
  // a task is then a block, so no two threads share one.
  const int64_t b = g.x_block == 0 ? 1 : g.x_block;
  auto route_plane = [&](int64_t plane) {
    const PlaneAt at = plane_at(g, plane);
    float* dxp = dx + at.offset;
    const int64_t st = at.stride;
    const float* dyp = dy + plane * PQ;
    const int32_t* ap = argmax + plane * PQ;
    if (st == 1) {
      for (int64_t i = 0; i < HW; ++i) dxp[i] = 0.0f;
    }
    if (!relu_y) {
      for (int64_t i = 0; i < PQ; ++i) dxp[ap[i] * st] += dyp[i];
      return;
    }
    // A select, not a branch: windows of zeros are common after a ReLU and a mispredicted
    // branch per window made this slower than the plain scatter plus a ReLU pass. Adding +0
    // where the window is masked leaves dx bitwise as skipping would (dx is never -0 here).
    const float* yp = relu_y + plane * PQ;
    for (int64_t i = 0; i < PQ; ++i) dxp[ap[i] * st] += yp[i] > 0.0f ? dyp[i] : 0.0f;
  };
  auto route_block = [&](int64_t block) {
    if (b > 1) {
      float* dxb = dx + block * HW * b;
      for (int64_t i = 0; i < HW * b; ++i) dxb[i] = 0.0f;
    }
    for (int64_t plane = block * b; plane < (block + 1) * b; ++plane) route_plane(plane);
  };
  const int64_t blocks = planes / b;
  if (planes * HW < kParallelMin) {
    for (int64_t block = 0; block < blocks; ++block) route_block(block);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t block = 0; block < blocks; ++block) route_block(block);
}

}  // namespace batchscope::kernels::cpu
