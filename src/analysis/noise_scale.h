// The simple gradient noise scale B_simple = tr(Sigma) / |G|^2 (McCandlish et al. 2018, "An
// Empirical Model of Large-Batch Training", Appendix A.1): the batch size around which larger
// batches stop paying off. Estimated from gradient norms at two batch sizes, each estimate
// smoothed on its own, and probed on a real model without touching its parameters.
// Usage: NoiseScaleEstimator e; e.add(probe_gradient_norms(m, d, norm, rows, 8, seed));
//        ... e.b_simple();
#pragma once
#include <cstdint>
#include <span>

#include "batchscope/model.h"
#include "train/batch.h"

namespace batchscope {

// Squared norms of batch-mean gradients at two batch sizes, measured at the same parameters.
struct GradNormSample {
  int64_t b_small = 0, b_big = 0;
  double norm2_small = 0, norm2_big = 0;  // |G_small|^2, |G_big|^2
};

// Since E|G_B|^2 = |G|^2 + tr(Sigma)/B, two batch sizes give two equations in two unknowns.
// Unbiased |G|^2 from one sample: (B_big*|G_big|^2 - B_small*|G_small|^2) / (B_big - B_small).
double estimate_g2(const GradNormSample& s);
// Unbiased tr(Sigma) from one sample: (|G_small|^2 - |G_big|^2) / (1/B_small - 1/B_big).
double estimate_trace_sigma(const GradNormSample& s);

// Smooths the two single-sample estimates separately and divides only at the end: each one is
// very noisy (often negative), and the ratio of two noisy numbers is biased and unbounded.
class NoiseScaleEstimator {
 public:
  // decay: the EMA weight of the history, in [0, 1); throws std::invalid_argument otherwise.
  explicit NoiseScaleEstimator(double decay = 0.9);
  // Throws std::invalid_argument if s.b_small < 1 or s.b_small >= s.b_big.
  void add(const GradNormSample& s);
  int64_t count() const { return count_; }
  double g2() const;           // bias-corrected EMA of estimate_g2; 0 before the first sample
  double trace_sigma() const;  // bias-corrected EMA of estimate_trace_sigma; 0 before it too
  // trace_sigma() / g2(); NaN before the first sample or while g2() <= 0 (no usable signal).
  double b_simple() const;

 private:
  // Divides an EMA started at 0 by 1 - decay^count, as Adam does, so that early values are
  // the weighted mean of the samples so far rather than pulled towards 0.
  double corrected(double ema) const;

  double decay_;
  double decay_pow_ = 1;  // decay^count
  double ema_g2_ = 0, ema_trace_ = 0;
  int64_t count_ = 0;
};

// B_simple over many samples taken at the same two batch sizes (one per training step, say,
// from the shards of data-parallel ranks): the ratio of the mean tr(Sigma) estimate to the
// mean |G|^2 estimate, with a bootstrap interval over the samples (resampled with
// replacement, 400 times, a fixed seed): the 16th and 84th percentiles, one standard error
// each side for a normal estimate. NaN where the mean |G|^2 is not positive.
struct NoiseScaleInterval {
  int64_t samples = 0;
  double b_simple = 0, lo = 0, hi = 0;
};
NoiseScaleInterval noise_scale_interval(std::span<const GradNormSample> samples, uint64_t seed = 1);

// Measures one sample on m at its current parameters, which it leaves bitwise unchanged.
// rows: [k*b_small] training-set row indices, k >= 2, split into k micro-batches of b_small.
// For micro-batch i it computes g_i, the gradient of the mean loss, as Trainer::train_step does
// (forward in training mode with dropout seed derive_seed(seed, kDropoutStream, i), fused
// softmax cross-entropy, backward) and returns
//   norm2_small = mean_i |g_i|^2, b_small;  norm2_big = |mean_i g_i|^2, b_big = k*b_small
// (the mean of the g_i is the gradient over all k*b_small rows). Low-rank weight-gradient
// deferral is switched off for its passes and restored after. Norms are summed in double.
// Overwrites m.grads() and reshapes m to b_small (the caller reshapes back).
// Throws std::invalid_argument if b_small < 1 or rows.size() is not k*b_small with k >= 2.
GradNormSample probe_gradient_norms(Model& m, const Dataset& d, const Normalization& norm,
                                    std::span<const int64_t> rows, int64_t b_small, uint64_t seed);

}  // namespace batchscope
