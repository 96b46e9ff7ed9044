// The gradient noise scale: the two-batch-size estimators, their bias-corrected moving
// averages, and the probe that measures gradient norms on a model at its current parameters.
#include "analysis/noise_scale.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/rng.h"
#include "kernels/kernels.h"

namespace batchscope {

double estimate_g2(const GradNormSample& s) {
  const double bs = static_cast<double>(s.b_small), bb = static_cast<double>(s.b_big);
  return (bb * s.norm2_big - bs * s.norm2_small) / (bb - bs);
}

double estimate_trace_sigma(const GradNormSample& s) {
  const double bs = static_cast<double>(s.b_small), bb = static_cast<double>(s.b_big);
  return (s.norm2_small - s.norm2_big) / (1.0 / bs - 1.0 / bb);
}

NoiseScaleEstimator::NoiseScaleEstimator(double decay) : decay_(decay) {
  if (!(decay >= 0 && decay < 1))
    throw std::invalid_argument("noise scale: decay " + std::to_string(decay) +
                                " is out of range; expected 0 <= decay < 1");
}

void NoiseScaleEstimator::add(const GradNormSample& s) {
  if (s.b_small < 1 || s.b_small >= s.b_big)
    throw std::invalid_argument("noise scale: batch sizes " + std::to_string(s.b_small) + " and " +
                                std::to_string(s.b_big) + "; expected 1 <= b_small < b_big");
  ema_g2_ = decay_ * ema_g2_ + (1 - decay_) * estimate_g2(s);
  ema_trace_ = decay_ * ema_trace_ + (1 - decay_) * estimate_trace_sigma(s);
  decay_pow_ *= decay_;
  ++count_;
}

double NoiseScaleEstimator::corrected(double ema) const {
  return count_ ? ema / (1 - decay_pow_) : 0.0;
}

double NoiseScaleEstimator::g2() const { return corrected(ema_g2_); }

double NoiseScaleEstimator::trace_sigma() const { return corrected(ema_trace_); }

double NoiseScaleEstimator::b_simple() const {
  const double g = g2();
  if (count_ == 0 || !(g > 0)) return std::numeric_limits<double>::quiet_NaN();
  return trace_sigma() / g;
}

NoiseScaleInterval noise_scale_interval(std::span<const GradNormSample> samples, uint64_t seed) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  NoiseScaleInterval r{static_cast<int64_t>(samples.size()), kNaN, kNaN, kNaN};
  if (samples.empty()) return r;
  std::vector<double> g2, tr;
  for (const GradNormSample& s : samples) {
    g2.push_back(estimate_g2(s));
    tr.push_back(estimate_trace_sigma(s));
  }
  auto ratio = [&](const std::vector<size_t>* pick) {
    double sg = 0, st = 0;
    const size_t n = g2.size();
    for (size_t i = 0; i < n; ++i) {
      const size_t j = pick ? (*pick)[i] : i;
      sg += g2[j];
      st += tr[j];
    }
    return sg > 0 ? st / sg : kNaN;
  };
  r.b_simple = ratio(nullptr);
  if (samples.size() < 2) return r;
  Rng rng(seed);
  std::vector<double> boot;
  std::vector<size_t> pick(samples.size());
  for (int b = 0; b < 400; ++b) {
    for (size_t& p : pick) p = rng.below(samples.size());
    // A resample whose mean |G|^2 is not positive has no finite ratio: it counts as
    // unbounded, on the high side.
    const double v = ratio(&pick);
    boot.push_back(std::isnan(v) ? std::numeric_limits<double>::infinity() : v);
  }
  std::sort(boot.begin(), boot.end());
  r.lo = boot[static_cast<size_t>(0.16 * (boot.size() - 1))];
  r.hi = boot[static_cast<size_t>(0.84 * (boot.size() - 1))];
  return r;
}

namespace {
// Puts the model's deferral setting back however the probe ends.
class DeferralGuard {
 public:
  explicit DeferralGuard(Model& m) : m_(m), saved_(m.defer_weight_grads()) {
    // Deferred ranges of grads() hold stale values, and the norms need every element.
    m_.set_defer_weight_grads(false);
  }
  ~DeferralGuard() { m_.set_defer_weight_grads(saved_); }
  DeferralGuard(const DeferralGuard&) = delete;
  DeferralGuard& operator=(const DeferralGuard&) = delete;

 private:
  Model& m_;
  bool saved_;
};
}  // namespace

GradNormSample probe_gradient_norms(Model& m, const Dataset& d, const Normalization& norm,
                                    std::span<const int64_t> rows, int64_t b_small, uint64_t seed) {
  const int64_t n = static_cast<int64_t>(rows.size());
  if (b_small < 1 || n % b_small != 0 || n / b_small < 2)
    throw std::invalid_argument("noise scale probe: " + std::to_string(n) + " rows at b_small " +
                                std::to_string(b_small) +
                                "; expected k*b_small rows with k >= 2 and b_small >= 1");
  const int64_t k = n / b_small, L = m.num_classes(), P = m.num_params();
  DeferralGuard guard(m);
  m.reshape(b_small);
  // Allocated per call: one probe costs k forward and backward passes, next to which these
  // buffers are small, and keeping none makes the probe safe to call on several models.
  std::vector<int32_t> labels(static_cast<size_t>(b_small));
  std::vector<double> sum(static_cast<size_t>(P), 0.0);  // sum: [P], running sum of the g_i
  Tensor probs, dlogits;
  double norm2_small_sum = 0;
  for (int64_t i = 0; i < k; ++i) {
    fill_batch(m.input().data(), labels.data(), d, rows.data() + i * b_small, b_small, norm);
    m.zero_grad();
    const uint64_t step_seed = derive_seed(seed, kDropoutStream, static_cast<uint64_t>(i));
    const Tensor& logits = m.forward(StepContext{/*training=*/true, step_seed});
    probs.resize(logits.shape());
    dlogits.resize(logits.shape());
    m.ops().softmax_xent_fwd(probs.data(), logits.data(), labels.data(), b_small, L);
    m.ops().softmax_xent_bwd(dlogits.data(), probs.data(), labels.data(), b_small, L);
    m.backward(dlogits);
    const float* g = m.grads().data();
    double n2 = 0;
    for (int64_t j = 0; j < P; ++j) {
      const double gj = g[j];
      n2 += gj * gj;
      sum[static_cast<size_t>(j)] += gj;
    }
    norm2_small_sum += n2;
  }
  double norm2_big = 0;
  for (double s : sum) {
    const double mean = s / static_cast<double>(k);
    norm2_big += mean * mean;
  }
  GradNormSample r;
  r.b_small = b_small;
  r.b_big = k * b_small;
  r.norm2_small = norm2_small_sum / static_cast<double>(k);
  r.norm2_big = norm2_big;
  return r;
}

}  // namespace batchscope
