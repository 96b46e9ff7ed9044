// The gradient noise scale: the estimator recovers B_simple, |G|^2 and tr(Sigma) on linear
// regression, where all three are known in closed form; the single-sample formulas are exact
// on exact expectations; the probe measures a real model's gradients without changing it.
// Run: batchscope_tests --gtest_filter='NoiseScale.*'
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "core/rng.h"
#include "kernels/kernels.h"
#include "support/synthetic.h"
#include "analysis/noise_scale.h"

namespace batchscope {
namespace {

using testing::make_synthetic;

// ---- The estimator on linear regression ----------------------------------------------------
//
// x ~ N(0, I_D), y = w*·x + eps, eps ~ N(0, s^2), loss 1/2 (w·x - y)^2 at w0 = w* + delta.
// Per-sample gradient g = (delta·x - eps) x, so E[g] = delta and, by Isserlis' theorem,
// Cov[g] = |delta|^2 I + delta delta^T + s^2 I, whose trace is (D+1)|delta|^2 + D s^2.

constexpr int kDim = 20;

struct Regression {
  double delta_norm;  // |delta|
  double noise_std;   // s
  double g2() const { return delta_norm * delta_norm; }
  double trace_sigma() const { return (kDim + 1) * g2() + kDim * noise_std * noise_std; }
  double b_simple() const { return trace_sigma() / g2(); }
};

// mean: [kDim] out, overwritten with the mean of b per-sample gradients.
void regression_batch_mean(std::vector<double>& mean, std::mt19937_64& rng,
                           const std::vector<double>& delta, double noise_std, int b) {
  // std::normal_distribution differs between standard libraries; the checks below allow for
  // the estimator's spread, so any correct normal sampler passes them.
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> x(kDim);
  mean.assign(kDim, 0.0);
  for (int i = 0; i < b; ++i) {
    double residual = 0;  // delta·x - eps
    for (int j = 0; j < kDim; ++j) {
      x[static_cast<size_t>(j)] = normal(rng);
      residual += delta[static_cast<size_t>(j)] * x[static_cast<size_t>(j)];
    }
    residual -= noise_std * normal(rng);
    for (int j = 0; j < kDim; ++j)
      mean[static_cast<size_t>(j)] += residual * x[static_cast<size_t>(j)] / b;
  }
}

double norm2(const std::vector<double>& v) {
  return std::inner_product(v.begin(), v.end(), v.begin(), 0.0);
}

NoiseScaleEstimator estimate_regression(const Regression& r, double decay, int samples,
                                        uint64_t seed) {
  std::mt19937_64 rng(seed);
  // delta along an uneven direction: the closed forms depend on |delta| only.
  std::vector<double> delta(kDim);
  for (int j = 0; j < kDim; ++j) delta[static_cast<size_t>(j)] = 1.0 + 0.1 * j;
  const double scale = r.delta_norm / std::sqrt(norm2(delta));
  for (double& v : delta) v *= scale;
  NoiseScaleEstimator e(decay);
  std::vector<double> small, big;
  for (int t = 0; t < samples; ++t) {
    regression_batch_mean(small, rng, delta, r.noise_std, /*b=*/8);
    regression_batch_mean(big, rng, delta, r.noise_std, /*b=*/64);
    e.add(GradNormSample{/*b_small=*/8, /*b_big=*/64, norm2(small), norm2(big)});
  }
  return e;
}

TEST(NoiseScale, RecoversBSimpleOnLinearRegression) {
  // Two settings whose noise scales differ by a factor of four (26 and 101).
  for (const Regression r : {Regression{1.0, 0.5}, Regression{0.5, 1.0}}) {
    // decay 0.9997 over 8000 samples weights about 5500 of them effectively. Over 40 seeds,
    // the relative RMS error was 2.2% and 3.2% for B_simple (in these two settings), at most
    // 2.1% for |G|^2 and 1.5% for tr(Sigma); the tolerances are about three times those. A
    // single pair's estimates spread far wider: |G|^2 from one pair is often negative.
    const NoiseScaleEstimator e =
        estimate_regression(r, /*decay=*/0.9997, /*samples=*/8000, /*seed=*/2018);
    SCOPED_TRACE("|delta| = " + std::to_string(r.delta_norm) +
                 ", s = " + std::to_string(r.noise_std));
    EXPECT_EQ(e.count(), 8000);
    EXPECT_NEAR(e.b_simple(), r.b_simple(), 0.10 * r.b_simple());
    EXPECT_NEAR(e.g2(), r.g2(), 0.07 * r.g2());
    EXPECT_NEAR(e.trace_sigma(), r.trace_sigma(), 0.05 * r.trace_sigma());
    std::printf(
        "[          ] |delta| %.2f s %.2f: B_simple %.2f (expected %.2f), |G|^2 %.4f (%.4f), "
        "tr(Sigma) %.3f (%.3f)\n",
        r.delta_norm, r.noise_std, e.b_simple(), r.b_simple(), e.g2(), r.g2(), e.trace_sigma(),
        r.trace_sigma());
  }
}

// ---- Exact formulas ----------------------------------------------------------------------

TEST(NoiseScale, SingleSampleFormulasAreExactOnExpectations) {
  const double g2 = 0.37, tr = 12.5;
  for (auto [bs, bb] : {std::pair<int64_t, int64_t>{8, 64}, {1, 2}, {3, 1000}, {32, 33}}) {
    const GradNormSample s{bs, bb, g2 + tr / static_cast<double>(bs),
                           g2 + tr / static_cast<double>(bb)};
    SCOPED_TRACE("b_small " + std::to_string(bs) + ", b_big " + std::to_string(bb));
    EXPECT_NEAR(estimate_g2(s), g2, 1e-12 * g2);
    EXPECT_NEAR(estimate_trace_sigma(s), tr, 1e-12 * tr);
  }
}

TEST(NoiseScale, BiasCorrectionMakesTheFirstSampleExact) {
  // Without the correction the first EMA value would be (1 - decay) = 10% of the estimate.
  NoiseScaleEstimator e(/*decay=*/0.9);
  const double g2 = 2.0, tr = 48.0;
  e.add(GradNormSample{4, 32, g2 + tr / 4, g2 + tr / 32});
  EXPECT_EQ(e.count(), 1);
  EXPECT_NEAR(e.g2(), g2, 1e-12 * g2);
  EXPECT_NEAR(e.trace_sigma(), tr, 1e-12 * tr);
  EXPECT_NEAR(e.b_simple(), tr / g2, 1e-12 * tr / g2);
}

TEST(NoiseScale, MovingAverageWeightsRecentSamplesMore) {
  // decay 0.5, estimates a then b: (0.25 a + 0.5 b) / (1 - 0.25) = (a + 2b) / 3.
  NoiseScaleEstimator e(/*decay=*/0.5);
  const double g2_a = 1.0, tr_a = 10.0, g2_b = 4.0, tr_b = 40.0;
  e.add(GradNormSample{1, 2, g2_a + tr_a, g2_a + tr_a / 2});
  e.add(GradNormSample{1, 2, g2_b + tr_b, g2_b + tr_b / 2});
  EXPECT_NEAR(e.g2(), (g2_a + 2 * g2_b) / 3, 1e-12);
  EXPECT_NEAR(e.trace_sigma(), (tr_a + 2 * tr_b) / 3, 1e-12);
}

TEST(NoiseScale, RejectsBadInputAndIsNaNWithoutSignal) {
  NoiseScaleEstimator e;
  EXPECT_EQ(e.count(), 0);
  EXPECT_TRUE(std::isnan(e.b_simple()));
  EXPECT_THROW(e.add(GradNormSample{0, 8, 1, 1}), std::invalid_argument);
  EXPECT_THROW(e.add(GradNormSample{8, 8, 1, 1}), std::invalid_argument);
  EXPECT_THROW(e.add(GradNormSample{16, 8, 1, 1}), std::invalid_argument);
  EXPECT_EQ(e.count(), 0);
  EXPECT_THROW(NoiseScaleEstimator(1.0), std::invalid_argument);
  EXPECT_THROW(NoiseScaleEstimator(-0.1), std::invalid_argument);
  // The big batch's norm far below what the small one implies: |G|^2 estimate < 0.
  e.add(GradNormSample{8, 64, /*norm2_small=*/1.0, /*norm2_big=*/0.01});
  EXPECT_EQ(e.count(), 1);
  EXPECT_LT(e.g2(), 0);
  EXPECT_TRUE(std::isnan(e.b_simple()));
}

// ---- The probe on a real model -----------------------------------------------------------

const Shape kIn{1, 12, 12};
constexpr uint64_t kModelSeed = 7, kProbeSeed = 11;

std::vector<int64_t> probe_rows(int64_t n) {
  std::vector<int64_t> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    rows[static_cast<size_t>(i)] = (i * 7 + 3) % 64;  // a mixed subset
  return rows;
}

// The gradient of the mean loss over rows, by one plain training-mode pass (no deferral).
// Returns grads() as doubles: [num_params].
std::vector<double> gradient_over(Model& m, const Dataset& d, const int64_t* rows, int64_t n,
                                  uint64_t dropout_seed) {
  m.reshape(n);
  std::vector<int32_t> labels(static_cast<size_t>(n));
  fill_batch(m.input().data(), labels.data(), d, rows, n, Normalization{});
  m.zero_grad();
  const Tensor& logits = m.forward(StepContext{/*training=*/true, dropout_seed});
  Tensor probs(logits.shape()), dlogits(logits.shape());
  m.ops().softmax_xent_fwd(probs.data(), logits.data(), labels.data(), n, m.num_classes());
  m.ops().softmax_xent_bwd(dlogits.data(), probs.data(), labels.data(), n, m.num_classes());
  m.backward(dlogits);
  return {m.grads().data(), m.grads().data() + m.num_params()};
}

// What the probe should return, from k separate passes on a model with deferral off.
GradNormSample independent_norms(Model& m, const Dataset& d, const std::vector<int64_t>& rows,
                                 int64_t b_small) {
  const int64_t k = static_cast<int64_t>(rows.size()) / b_small;
  std::vector<double> mean(static_cast<size_t>(m.num_params()), 0.0);
  GradNormSample s{b_small, k * b_small, 0, 0};
  for (int64_t i = 0; i < k; ++i) {
    const auto g = gradient_over(m, d, rows.data() + i * b_small, b_small,
                                 derive_seed(kProbeSeed, kDropoutStream, static_cast<uint64_t>(i)));
    s.norm2_small += norm2(g) / static_cast<double>(k);
    for (size_t j = 0; j < g.size(); ++j) mean[j] += g[j] / static_cast<double>(k);
  }
  s.norm2_big = norm2(mean);
  return s;
}

TEST(NoiseScale, ProbeMatchesSeparatePassesWithDeferralOnAndLeavesTheModelAsItWas) {
  const Dataset d = make_synthetic(64, /*seed=*/5);
  // The trainer's deferral leaves dense weight gradients as factors at every batch; the probe
  // must switch it off for its own passes and restore it.
  for (int64_t b_small : {1, 4, 16}) {
    for (auto backend : {kernels::Backend::Reference, kernels::Backend::OneDnn}) {
      Model probed("tiny", kIn, 10, backend, kModelSeed),
          plain("tiny", kIn, 10, backend, kModelSeed);
      SCOPED_TRACE("b_small " + std::to_string(b_small) + ", " + std::string(probed.ops().name));
      const auto rows = probe_rows(4 * b_small);
      probed.set_defer_weight_grads(true);
      // Stale gradient ranges would carry these NaNs into the norms.
      probed.grads().fill(std::nanf(""));
      const std::vector<float> before(probed.params().data(),
                                      probed.params().data() + probed.num_params());
      const GradNormSample got =
          probe_gradient_norms(probed, d, Normalization{}, rows, b_small, kProbeSeed);
      const GradNormSample want = independent_norms(plain, d, rows, b_small);
      EXPECT_EQ(got.b_small, b_small);
      EXPECT_EQ(got.b_big, 4 * b_small);
      EXPECT_NEAR(got.norm2_small, want.norm2_small, 1e-12 * want.norm2_small);
      EXPECT_NEAR(got.norm2_big, want.norm2_big, 1e-12 * want.norm2_big);
      EXPECT_GT(got.norm2_small, got.norm2_big);  // averaging k gradients shrinks the noise
      EXPECT_EQ(std::memcmp(before.data(), probed.params().data(), before.size() * sizeof(float)),
                0);
      EXPECT_TRUE(probed.defer_weight_grads());
    }
  }
}

TEST(NoiseScale, ProbeBigNormIsTheFullBatchGradientsNorm) {
  // The mean of the micro-batch gradients of the mean loss is the gradient of the mean loss
  // over all rows: one pass at batch k*b_small gives it up to float rounding.
  const Dataset d = make_synthetic(64, /*seed=*/5);
  Model probed("tiny", kIn, 10, kernels::Backend::Reference, kModelSeed);
  Model full("tiny", kIn, 10, kernels::Backend::Reference, kModelSeed);
  const auto rows = probe_rows(32);
  const GradNormSample got =
      probe_gradient_norms(probed, d, Normalization{}, rows, /*b_small=*/4, kProbeSeed);
  const double want = norm2(gradient_over(full, d, rows.data(), 32, /*dropout_seed=*/0));
  EXPECT_NEAR(got.norm2_big, want, 1e-5 * want);
  EXPECT_FALSE(probed.defer_weight_grads());
}

TEST(NoiseScale, ProbeBackendsAgreeAtSmallBatches) {
  const Dataset d = make_synthetic(64, /*seed=*/5);
  for (int64_t b_small : {1, 4}) {
    Model ref("tiny", kIn, 10, kernels::Backend::Reference, kModelSeed);
    Model fast("tiny", kIn, 10, kernels::Backend::OneDnn, kModelSeed);
    ref.set_defer_weight_grads(true);
    fast.set_defer_weight_grads(true);
    const auto rows = probe_rows(8 * b_small);
    const GradNormSample a =
        probe_gradient_norms(ref, d, Normalization{}, rows, b_small, kProbeSeed);
    const GradNormSample b =
        probe_gradient_norms(fast, d, Normalization{}, rows, b_small, kProbeSeed);
    SCOPED_TRACE("b_small " + std::to_string(b_small));
    // Float sums in a different order: a few ulps per element, far below 1e-4.
    EXPECT_NEAR(a.norm2_small, b.norm2_small, 1e-4 * a.norm2_small);
    EXPECT_NEAR(a.norm2_big, b.norm2_big, 1e-4 * a.norm2_big);
  }
}

TEST(NoiseScale, ProbeRejectsRowCountsThatAreNotSeveralMicroBatches) {
  const Dataset d = make_synthetic(64, /*seed=*/5);
  Model m("tiny", kIn, 10, kernels::Backend::Reference, kModelSeed);
  const auto rows = probe_rows(8);
  const std::span<const int64_t> all(rows);
  EXPECT_THROW(probe_gradient_norms(m, d, Normalization{}, all, /*b_small=*/8, 0),
               std::invalid_argument);
  EXPECT_THROW(probe_gradient_norms(m, d, Normalization{}, all, /*b_small=*/3, 0),
               std::invalid_argument);
  EXPECT_THROW(probe_gradient_norms(m, d, Normalization{}, all, /*b_small=*/0, 0),
               std::invalid_argument);
  EXPECT_NO_THROW(probe_gradient_norms(m, d, Normalization{}, all, /*b_small=*/4, 0));
}

}  // namespace
}  // namespace batchscope
