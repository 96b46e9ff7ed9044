// Reference 2-D convolution (cross-correlation, PyTorch's Conv2d): forward, gradient with
// respect to the input, gradient with respect to filter and bias. Each output element is one
// double-precision sum written exactly as the formula; no im2col, no blocking, no threads.
#include <algorithm>
#include <vector>

#include "batchscope/error.h"
#include "kernels/ref/plain_copy.h"
#include "kernels/ref/ref.h"

namespace batchscope::kernels::ref {

bool is_valid(const ConvShape& g) {
  return g.N > 0 && g.C > 0 && g.H > 0 && g.W > 0 && g.K > 0 && g.R > 0 && g.S > 0 &&
         g.stride_h > 0 && g.stride_w > 0 && g.pad_h >= 0 && g.pad_w >= 0 &&
         g.H + 2 * g.pad_h >= g.R && g.W + 2 * g.pad_w >= g.S && g.x_block >= 0 &&
         g.y_block >= 0 && (g.x_block == 0 || g.C % g.x_block == 0) &&
         (g.y_block == 0 || g.K % g.y_block == 0);
}

namespace {

// Row-major offsets into x [N,C,H,W], w [K,C,R,S] and y / dy [N,K,P,Q]. P and Q are computed
// once here rather than in every offset (they cost a division each).
struct Index {
  const ConvShape& g;
  int64_t P = g.P(), Q = g.Q();
  int64_t x_at(int64_t n, int64_t c, int64_t h, int64_t w) const {
    return ((n * g.C + c) * g.H + h) * g.W + w;
  }
  int64_t w_at(int64_t k, int64_t c, int64_t r, int64_t s) const {
    return ((k * g.C + c) * g.R + r) * g.S + s;
  }
  int64_t y_at(int64_t n, int64_t k, int64_t p, int64_t q) const {
    return ((n * g.K + k) * P + p) * Q + q;
  }
};

}  // namespace

// y[n,k,p,q] = b[k] + sum_{c,r,s} x[n, c, p*stride_h - pad_h + r, q*stride_w - pad_w + s]
//                                 * w[k,c,r,s],   taps that fall in the padding contribute 0.
namespace {

// The plain-layout loops; the entry points below run blocked tensors through them.
void conv2d_fwd_plain(float* y, const float* x, const float* w, const float* b, const ConvShape& g,
                bool relu) {
  BS_CHECK(is_valid(g), "conv2d_fwd: bad geometry");
  const Index ix{g};
  const int64_t P = ix.P, Q = ix.Q;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t k = 0; k < g.K; ++k)
      for (int64_t p = 0; p < P; ++p)
        for (int64_t q = 0; q < Q; ++q) {
          double acc = b != nullptr ? b[k] : 0.0;
          for (int64_t c = 0; c < g.C; ++c)
            for (int64_t r = 0; r < g.R; ++r) {
              const int64_t h = p * g.stride_h - g.pad_h + r;
              if (h < 0 || h >= g.H) continue;
              for (int64_t s = 0; s < g.S; ++s) {
                const int64_t ww = q * g.stride_w - g.pad_w + s;
                if (ww < 0 || ww >= g.W) continue;
                acc += static_cast<double>(x[ix.x_at(n, c, h, ww)]) * w[ix.w_at(k, c, r, s)];
              }
            }
          const float v = static_cast<float>(acc);
          y[ix.y_at(n, k, p, q)] = relu ? std::max(v, 0.0f) : v;
        }
}

// The adjoint of the forward map: every input pixel gathers the output gradients of the
// windows that read it. dx[n,c,h,w] = sum over k,r,s with h + pad_h - r = p*stride_h and
// w + pad_w - s = q*stride_w for an output pixel (p,q) of dy[n,k,p,q] * w[k,c,r,s].
void conv2d_bwd_data_plain(float* dx, const float* dy, const float* w, const ConvShape& g) {
  BS_CHECK(is_valid(g), "conv2d_bwd_data: bad geometry");
  const Index ix{g};
  const int64_t P = ix.P, Q = ix.Q;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t h = 0; h < g.H; ++h)
        for (int64_t ww = 0; ww < g.W; ++ww) {
          double acc = 0.0;
          for (int64_t k = 0; k < g.K; ++k)
            for (int64_t r = 0; r < g.R; ++r) {
              const int64_t ph = h + g.pad_h - r;  // p * stride_h, if (h, r) is a real tap
              if (ph < 0 || ph % g.stride_h != 0 || ph / g.stride_h >= P) continue;
              const int64_t p = ph / g.stride_h;
              for (int64_t s = 0; s < g.S; ++s) {
                const int64_t qw = ww + g.pad_w - s;
                if (qw < 0 || qw % g.stride_w != 0 || qw / g.stride_w >= Q) continue;
                const int64_t q = qw / g.stride_w;
                acc += static_cast<double>(dy[ix.y_at(n, k, p, q)]) * w[ix.w_at(k, c, r, s)];
              }
            }
          dx[ix.x_at(n, c, h, ww)] = static_cast<float>(acc);
        }
}

// dw[k,c,r,s] += sum_{n,p,q} dy[n,k,p,q] * x[n, c, p*stride_h - pad_h + r, q*stride_w - pad_w + s]
// db[k]       += sum_{n,p,q} dy[n,k,p,q]
void conv2d_bwd_weight_plain(float* dw, float* db, const float* dy, const float* x, const ConvShape& g) {
  BS_CHECK(is_valid(g), "conv2d_bwd_weight: bad geometry");
  const Index ix{g};
  const int64_t P = ix.P, Q = ix.Q;
  for (int64_t k = 0; k < g.K; ++k)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t r = 0; r < g.R; ++r)
        for (int64_t s = 0; s < g.S; ++s) {
          double acc = 0.0;
          for (int64_t n = 0; n < g.N; ++n)
            for (int64_t p = 0; p < P; ++p) {
              const int64_t h = p * g.stride_h - g.pad_h + r;
              if (h < 0 || h >= g.H) continue;
              for (int64_t q = 0; q < Q; ++q) {
                const int64_t ww = q * g.stride_w - g.pad_w + s;
                if (ww < 0 || ww >= g.W) continue;
                acc += static_cast<double>(dy[ix.y_at(n, k, p, q)]) * x[ix.x_at(n, c, h, ww)];
              }
            }
          float& out = dw[ix.w_at(k, c, r, s)];
          out = static_cast<float>(out + acc);  // one rounding for the whole update
        }
  if (db == nullptr) return;
  for (int64_t k = 0; k < g.K; ++k) {
    double acc = 0.0;
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t p = 0; p < P; ++p)
        for (int64_t q = 0; q < Q; ++q) acc += dy[ix.y_at(n, k, p, q)];
    db[k] = static_cast<float>(db[k] + acc);
  }
}

ConvShape plain(const ConvShape& g) {
  ConvShape p = g;
  p.x_block = p.y_block = 0;
  return p;
}

}  // namespace

void conv2d_fwd(float* y, const float* x, const float* w, const float* b, const ConvShape& g,
                bool relu) {
  const PlainCopy px(x, g.N, g.C, g.H * g.W, g.x_block, true);
  PlainCopy py(y, g.N, g.K, g.P() * g.Q(), g.y_block, false);
  conv2d_fwd_plain(py.p, px.p, w, b, plain(g), relu);
  if (g.y_block) block_channels(y, py.p, g.N, g.K, g.P() * g.Q(), g.y_block);
}

void conv2d_bwd_data(float* dx, const float* dy, const float* w, const ConvShape& g) {
  const PlainCopy pdy(dy, g.N, g.K, g.P() * g.Q(), g.y_block, true);
  PlainCopy pdx(dx, g.N, g.C, g.H * g.W, g.x_block, false);
  conv2d_bwd_data_plain(pdx.p, pdy.p, w, plain(g));
  if (g.x_block) block_channels(dx, pdx.p, g.N, g.C, g.H * g.W, g.x_block);
}

void conv2d_bwd_weight(float* dw, float* db, const float* dy, const float* x, const ConvShape& g) {
  const PlainCopy pdy(dy, g.N, g.K, g.P() * g.Q(), g.y_block, true);
  const PlainCopy px(x, g.N, g.C, g.H * g.W, g.x_block, true);
  conv2d_bwd_weight_plain(dw, db, pdy.p, px.p, plain(g));
}

void conv2d_bwd_weight_relu(float* dw, float* db, const float* dy, const float* relu_y,
                            const float* x, const ConvShape& g) {
  const int64_t n = g.N * g.K * g.P() * g.Q();
  std::vector<float> masked(static_cast<size_t>(n));
  relu_bwd(masked.data(), dy, relu_y, n);
  conv2d_bwd_weight(dw, db, masked.data(), x, g);
}

}  // namespace batchscope::kernels::ref
