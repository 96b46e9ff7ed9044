// The allreduce cost fit (t = alpha + beta * bytes) and the noise scale's interval over
// per-step samples: recovered from synthetic points whose answer is known.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "analysis/comm_cost.h"
#include "analysis/noise_scale.h"

namespace batchscope {
namespace {

TEST(AllreduceFit, RecoversLatencyAndBandwidthFromExactPoints) {
  // 3 us and 5 GB/s, at the probe's sizes.
  std::vector<AllreducePoint> p;
  for (int64_t b : {4, 64, 1024, 16384, 262144, 4194304, 16777216}) p.push_back({b, 3e-6 + b / 5e9, 7});
  const AllreduceFit f = fit_allreduce(p);
  ASSERT_TRUE(f.ok);
  EXPECT_NEAR(f.alpha, 3e-6, 1e-9);
  EXPECT_NEAR(f.gigabytes_per_second(), 5.0, 1e-6);
  EXPECT_LT(f.max_relative_error, 1e-9);
  EXPECT_NEAR(f.seconds(4799528), 3e-6 + 4799528 / 5e9, 1e-9);
}

TEST(AllreduceFit, WeighsSmallMessagesByTheirRelativeError) {
  // Unweighted least squares would let the megabyte points set alpha (their microseconds of
  // noise swamp a microsecond latency); weighted by 1/t^2, a 10% error at 4 bytes counts as
  // much as one at 16 MiB.
  std::vector<AllreducePoint> p = {{4, 1e-6, 1}, {64, 1.1e-6, 1}, {1 << 20, 1.05e-6 + (1 << 20) / 4e9, 1},
                                   {16 << 20, 0.95 * (1e-6 + (16 << 20) / 4e9), 1}};
  const AllreduceFit f = fit_allreduce(p);
  ASSERT_TRUE(f.ok);
  EXPECT_NEAR(f.alpha, 1e-6, 0.2e-6);
  EXPECT_GT(f.gigabytes_per_second(), 3.5);
  EXPECT_LT(f.gigabytes_per_second(), 4.5);
}

TEST(AllreduceFit, ClampsANegativeInterceptAndNeedsTwoSizes) {
  // Pure bandwidth with noise that would put alpha below zero.
  const std::vector<AllreducePoint> p = {{1000, 0.9e-6, 1}, {1000000, 1e-3, 1}};
  const AllreduceFit f = fit_allreduce(p);
  ASSERT_TRUE(f.ok);
  EXPECT_GE(f.alpha, 0.0);
  EXPECT_GT(f.beta, 0.0);
  const std::vector<AllreducePoint> one = {{1000, 1e-6, 1}, {1000, 1.1e-6, 1}};
  EXPECT_FALSE(fit_allreduce(one).ok);
  EXPECT_FALSE(fit_allreduce({}).ok);
}

TEST(NoiseScaleInterval, IsTheRatioOfMeansWithABootstrapAroundIt) {
  // Samples generated from |G|^2 = 2 and tr(Sigma) = 64 (B_simple 32) at batches 8 and 16,
  // with alternating noise on the norms.
  std::vector<GradNormSample> s;
  for (int i = 0; i < 40; ++i) {
    const double e = (i % 2 ? 1 : -1) * 0.3 * (1 + i % 3);
    s.push_back({8, 16, 2 + 64.0 / 8 + e, 2 + 64.0 / 16 + 0.5 * e});
  }
  const NoiseScaleInterval n = noise_scale_interval(s);
  double g2 = 0, tr = 0;
  for (const auto& x : s) g2 += estimate_g2(x), tr += estimate_trace_sigma(x);
  EXPECT_EQ(n.samples, 40);
  EXPECT_DOUBLE_EQ(n.b_simple, tr / g2);
  EXPECT_NEAR(n.b_simple, 32, 3);
  EXPECT_LT(n.lo, n.b_simple);
  EXPECT_GT(n.hi, n.b_simple);
  // Deterministic: the same seed, the same interval.
  const NoiseScaleInterval again = noise_scale_interval(s);
  EXPECT_EQ(again.lo, n.lo);
  EXPECT_EQ(again.hi, n.hi);
}

TEST(NoiseScaleInterval, NoSignalIsNaNNotAHugeNumber) {
  // |G_big|^2 far below |G_small|^2, more than noise of tr(Sigma)/B could explain: the |G|^2
  // estimate (16 * 1 - 8 * 3) / 8 is negative.
  const std::vector<GradNormSample> s = {{8, 16, 3.0, 1.0}, {8, 16, 3.5, 1.0}};
  EXPECT_TRUE(std::isnan(noise_scale_interval(s).b_simple));
  EXPECT_TRUE(std::isnan(noise_scale_interval({}).b_simple));
  EXPECT_EQ(noise_scale_interval({}).samples, 0);
}

}  // namespace
}  // namespace batchscope
