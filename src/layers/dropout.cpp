// Dropout layer: counter-based mask, so it needs no state between steps.
#include "layers/dropout.h"

#include <algorithm>
#include <cstdio>

#include "core/rng.h"

namespace batchscope {

Dropout::Dropout(const LayerArgs& a) {
  a.check_known(1, {"p"});
  p_ = a.get_double(0, "p", 0.5, /*lo=*/0.0, /*hi_exclusive=*/1.0);
}

std::string Dropout::spec() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "dropout:%g", p_);
  return buf;
}

void Dropout::forward(const Tensor& x, Tensor& y, const StepContext& ctx) {
  const int64_t n = x.numel();
  last_training_ = ctx.training;
  if (!ctx.training || p_ == 0.0) {
    std::copy_n(x.data(), n, y.data());
    return;
  }
  scale_.resize(static_cast<size_t>(n));
  const float keep_scale = static_cast<float>(1.0 / (1.0 - p_));
  const float p = static_cast<float>(p_);
  for (int64_t i = 0; i < n; ++i) {
    float u = bits_to_unit_float(mix64(ctx.seed + static_cast<uint64_t>(i)));
    scale_[static_cast<size_t>(i)] = u < p ? 0.f : keep_scale;
    y[i] = x[i] * scale_[static_cast<size_t>(i)];
  }
}

void Dropout::backward(const Tensor&, const Tensor&, const Tensor& dy, Tensor& dx) {
  if (dx.empty()) return;
  const int64_t n = dy.numel();
  if (!last_training_ || p_ == 0.0) {
    std::copy_n(dy.data(), n, dx.data());
    return;
  }
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * scale_[static_cast<size_t>(i)];
}

}  // namespace batchscope
