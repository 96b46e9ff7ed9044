// The sweep's cost model recovers a and b from synthetic epoch timings.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "analysis/cost_model.h"

namespace batchscope {
namespace {

TEST(CostModel, RecoversFixedAndPerImageCostsExactly) {
  // The seed's shape: 4 ms per iteration, 2.5 ms per image, 60k images.
  const double a = 4e-3, b = 2.5e-3;
  const int64_t N = 60000;
  const std::vector<int64_t> B = {1, 4, 8, 16, 32, 64, 128, 256};
  std::vector<double> t;
  for (int64_t bs : B) t.push_back(N * (a / bs + b));
  const CostModelFit f = fit_cost_model(B, t, N);
  EXPECT_NEAR(f.a, a, 1e-12);
  EXPECT_NEAR(f.b, b, 1e-12);
  EXPECT_NEAR(f.r2, 1.0, 1e-12);
  EXPECT_EQ(f.batch_within_10pct, 16);  // a / (0.1 b) = 16
}

TEST(CostModel, NoisyTimingsStillGiveCloseEstimates) {
  const double a = 1e-3, b = 3e-4;
  const int64_t N = 10000;
  const std::vector<int64_t> B = {1, 2, 4, 8, 16, 32, 64, 128, 256};
  std::vector<double> t;
  for (size_t i = 0; i < B.size(); ++i)  // ±3% alternating noise
    t.push_back(N * (a / B[i] + b) * (i % 2 ? 1.03 : 0.97));
  const CostModelFit f = fit_cost_model(B, t, N);
  EXPECT_NEAR(f.a, a, 0.1 * a);
  EXPECT_NEAR(f.b, b, 0.1 * b);
  EXPECT_GT(f.r2, 0.95);
  EXPECT_LT(f.r2, 1.0);
}

TEST(CostModel, OneBatchSizeIsNotIdentifiable) {
  const std::vector<int64_t> B = {64, 64};
  const std::vector<double> t = {10.0, 11.0};
  const CostModelFit f = fit_cost_model(B, t, 1000);
  EXPECT_EQ(f.a, 0);
  EXPECT_EQ(f.b, 0);
}

}  // namespace
}  // namespace batchscope
