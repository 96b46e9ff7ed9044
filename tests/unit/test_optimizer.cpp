// Optimizer steps against hand-computed torch.optim numbers, and learning-rate schedules.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "batchscope/error.h"
#include "batchscope/optimizer.h"
#include "core/rng.h"

namespace batchscope {
namespace {

TEST(Optimizer, SgdMomentumMatchesTorch) {
  // torch.optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.01), w = [1, -2],
  // grads g1 = [0.5, 0.25] then g2 = [-1, 2]:
  //  step 1: d = g1 + 0.01 w = [0.51, 0.23]; buf = d; w = [0.949, -2.023]
  //  step 2: d = g2 + 0.01 w = [-0.99051, 1.97977]; buf = 0.9 [0.51, 0.23] + d = [-0.53151, 2.18677]
  //          w = [0.949 + 0.053151, -2.023 - 0.218677] = [1.002151, -2.241677]
  OptimizerConfig c;
  c.lr = 0.1;
  c.momentum = 0.9;
  c.nesterov = false;
  c.weight_decay = 0.01;
  Optimizer opt(c, 2);
  float w[2] = {1.f, -2.f};
  const float g1[2] = {0.5f, 0.25f}, g2[2] = {-1.f, 2.f};
  opt.step(w, g1, c.lr);
  EXPECT_NEAR(w[0], 0.949, 1e-6);
  EXPECT_NEAR(w[1], -2.023, 1e-6);
  opt.step(w, g2, c.lr);
  EXPECT_NEAR(w[0], 1.002151, 1e-6);
  EXPECT_NEAR(w[1], -2.241677, 1e-6);
  EXPECT_EQ(opt.steps(), 2);
}

TEST(Optimizer, SgdNesterovMatchesTorch) {
  // torch: buf = mu buf + g; step = g + mu buf. lr 0.1, mu 0.5, w = 1, g = 1 then 1:
  //  step 1: buf = 1, w = 1 - 0.1 (1 + 0.5) = 0.85
  //  step 2: buf = 1.5, w = 0.85 - 0.1 (1 + 0.75) = 0.675
  OptimizerConfig c;
  c.lr = 0.1;
  c.momentum = 0.5;
  c.nesterov = true;
  Optimizer opt(c, 1);
  float w = 1.f;
  const float g = 1.f;
  opt.step(&w, &g, c.lr);
  EXPECT_NEAR(w, 0.85, 1e-6);
  opt.step(&w, &g, c.lr);
  EXPECT_NEAR(w, 0.675, 1e-6);
}

TEST(Optimizer, PlainSgdHasNoState) {
  OptimizerConfig c;
  c.momentum = 0;
  Optimizer opt(c, 3);
  EXPECT_TRUE(opt.state().empty());
  float w[3] = {1, 2, 3};
  const float g[3] = {1, 1, -1};
  opt.step(w, g, 0.5);
  EXPECT_FLOAT_EQ(w[0], 0.5f);
  EXPECT_FLOAT_EQ(w[2], 3.5f);
}

TEST(Optimizer, AdamMatchesTorch) {
  // torch.optim.Adam([w], lr=0.01), w = 1, g = 0.5 then -0.25:
  //  t=1: m = 0.05, v = 0.00025; m̂ = 0.5, v̂ = 0.25; w = 1 - 0.01 * 0.5 / (0.5 + 1e-8) = 0.99
  //  t=2: m = 0.045 - 0.025 = 0.02, v = 0.00024975 + 0.0000625 = 0.00031225
  //       m̂ = 0.02 / 0.19 = 0.105263, v̂ = 0.00031225 / 0.001999 = 0.156203
  //       w = 0.99 - 0.01 * 0.105263 / (0.395225 + 1e-8) = 0.987337
  OptimizerConfig c;
  c.kind = OptimizerKind::Adam;
  c.lr = 0.01;
  Optimizer opt(c, 1);
  float w = 1.f;
  float g = 0.5f;
  opt.step(&w, &g, c.lr);
  EXPECT_NEAR(w, 0.99, 1e-6);
  g = -0.25f;
  opt.step(&w, &g, c.lr);
  EXPECT_NEAR(w, 0.987337, 2e-6);
  ASSERT_EQ(opt.state().size(), 2u);
  EXPECT_EQ(opt.state()[0].first, "exp_avg");
}

// A step whose gradient comes as factors (LowRankGrad) against the same step on the
// materialised gradient, over a matrix wide enough for several panels and threads, with
// dense parameters before and after the low-rank range.
TEST(Optimizer, LowRankStepMatchesThePlainStepAcrossPanels) {
  constexpr int64_t kBefore = 37, kRows = 130, kCols = 9216 + 37, kAfter = 11;
  const int64_t n = kBefore + kRows * kCols + kAfter;
  for (int64_t batch : {1, 64, 300}) {
    for (auto kind : {OptimizerKind::Sgd, OptimizerKind::Adam}) {
      SCOPED_TRACE("batch " + std::to_string(batch) + " " + to_string(kind));
      Rng rng(derive_seed(3, static_cast<uint64_t>(batch), 0));
      std::vector<float> dy(static_cast<size_t>(batch * kRows)), x(static_cast<size_t>(batch * kCols));
      for (float& v : dy) v = rng.uniform(-1.0f, 1.0f);
      for (float& v : x) v = rng.uniform(-1.0f, 1.0f);
      std::vector<float> w(static_cast<size_t>(n)), g(static_cast<size_t>(n));
      for (float& v : w) v = rng.uniform(-1.0f, 1.0f);
      for (float& v : g) v = rng.uniform(-1.0f, 1.0f);
      // The materialised gradient of the low-rank range, in double.
      std::vector<float> g_plain = g;
      for (int64_t r = 0; r < kRows; ++r)
        for (int64_t j = 0; j < kCols; ++j) {
          double s = 0;
          for (int64_t b = 0; b < batch; ++b)
            s += static_cast<double>(dy[static_cast<size_t>(b * kRows + r)]) * x[static_cast<size_t>(b * kCols + j)];
          g_plain[static_cast<size_t>(kBefore + r * kCols + j)] = static_cast<float>(s);
        }
      OptimizerConfig c;
      c.kind = kind;
      c.lr = kind == OptimizerKind::Sgd ? 0.01 : 1e-3;
      c.weight_decay = 1e-3;
      Optimizer fused(c, n), plain(c, n);
      std::vector<float> w_fused = w, w_plain = w;
      const LowRankGrad f{kBefore, kRows, kCols, batch, dy.data(), x.data()};
      for (int step = 0; step < 2; ++step) {
        fused.step(w_fused.data(), g.data(), c.lr, {&f, 1});
        plain.step(w_plain.data(), g_plain.data(), c.lr);
      }
      // Adam's step is about ±lr wherever the gradient is near zero, whatever its rounding,
      // so its weights are ill-conditioned to compare; its moments are linear in the
      // gradient (and its square) and must agree, as SGD's weights and momentum must.
      // Each gradient element is a float sum of `batch` products of size <= 1: its rounding
      // error grows with the batch (the weights take it about 4x: two Nesterov steps of
      // g + mu·m); a wrong row or column would be off by O(1).
      const double tol = 2e-7 * static_cast<double>(batch);
      if (kind == OptimizerKind::Sgd) {
        for (int64_t i = 0; i < n; ++i)
          ASSERT_NEAR(w_fused[static_cast<size_t>(i)], w_plain[static_cast<size_t>(i)],
                      5 * c.lr * tol + 3e-7 * std::fabs(w_plain[static_cast<size_t>(i)]))
              << "parameter " << i;
      }
      const auto sf = fused.state(), sp = plain.state();
      ASSERT_EQ(sf.size(), sp.size());
      for (size_t k = 0; k < sf.size(); ++k)
        for (int64_t i = 0; i < n; ++i) {
          const float a = (*sf[k].second)[static_cast<size_t>(i)], b = (*sp[k].second)[static_cast<size_t>(i)];
          ASSERT_NEAR(a, b, k == 1 ? 20 * tol * (1 + std::fabs(b)) : tol) << sf[k].first << " " << i;
        }
    }
  }
}

TEST(Schedule, WarmupThenShapes) {
  ScheduleConfig s;
  s.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 1.0, 0, 100, 10), 0.25);
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 1.0, 3, 100, 10), 1.0);
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 1.0, 50, 100, 10), 1.0);
  s.kind = ScheduleKind::Step;
  s.step_epochs = 2;
  s.gamma = 0.5;
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 1.0, 19, 100, 10), 1.0);
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 1.0, 20, 100, 10), 0.5);
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 1.0, 45, 100, 10), 0.25);
  s.kind = ScheduleKind::Cosine;
  EXPECT_DOUBLE_EQ(scheduled_lr(s, 1.0, 4, 104, 10), 1.0);
  EXPECT_NEAR(scheduled_lr(s, 1.0, 54, 104, 10), 0.5, 1e-12);
  EXPECT_NEAR(scheduled_lr(s, 1.0, 104, 104, 10), 0.0, 1e-12);
  s.min_lr_ratio = 0.1;
  EXPECT_NEAR(scheduled_lr(s, 2.0, 104, 104, 10), 0.2, 1e-12);
}

TEST(Schedule, ParsingNamesTheFlag) {
  EXPECT_EQ(parse_schedule("cosine"), ScheduleKind::Cosine);
  try {
    parse_schedule("linear");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_EQ(e.option(), "schedule");
    EXPECT_EQ(option_message(e, /*flag_style=*/true).rfind("--schedule: 'linear' is not a schedule", 0), 0u);
  }
  EXPECT_THROW(parse_optimizer("rmsprop"), UsageError);
}

}  // namespace
}  // namespace batchscope

namespace batchscope {
namespace {

// Golden values from torch 1.13's OneCycleLR (Debian's python3-torch): Adam(lr=0.01,
// betas=(0.7, 0.9)), OneCycleLR(max_lr=0.01, total_steps=20, pct_start=0.25), read from
// param_groups[0] before each optimizer step; see docs/training.md for the script.
TEST(Schedule, OneCycleMatchesTorchOneCycleLR) {
  ScheduleConfig s;
  s.kind = ScheduleKind::OneCycle;
  s.pct_start = 0.25;
  const struct { int64_t step; double lr; } lr[] = {
      {0, 0.00039999999999999931}, {3, 0.0085941125496954273}, {4, 0.01},
      {5, 0.0098907384407170146},  {12, 0.0044773797742309988}, {19, 4.0000000000000001e-08}};
  for (const auto& p : lr) EXPECT_NEAR(scheduled_lr(s, 0.01, p.step, 20, 20), p.lr, 1e-15) << "step " << p.step;
  const struct { int64_t step; double m; } mom[] = {
      {0, 0.94999999999999996}, {4, 0.84999999999999998}, {12, 0.90522642316338264}, {19, 0.94999999999999996}};
  for (const auto& p : mom) EXPECT_NEAR(scheduled_momentum(s, 0.7, p.step, 20), p.m, 1e-15) << "step " << p.step;
  // Without cycling, the configured momentum (Adam's beta1) stays.
  s.cycle_momentum = false;
  EXPECT_EQ(scheduled_momentum(s, 0.7, 4, 20), 0.7);
  // Past the horizon it stays at the floor rather than wrapping.
  EXPECT_NEAR(scheduled_lr(s, 0.01, 25, 20, 20), 4e-8, 1e-15);
  // Other schedules never touch the momentum.
  s.kind = ScheduleKind::Cosine;
  s.cycle_momentum = true;
  EXPECT_EQ(scheduled_momentum(s, 0.9, 4, 20), 0.9);
  EXPECT_EQ(parse_schedule("onecycle"), ScheduleKind::OneCycle);
  EXPECT_EQ(to_string(ScheduleKind::OneCycle), "onecycle");
}

TEST(Optimizer, SetMomentumChangesSgdMomentumAndAdamBeta1) {
  OptimizerConfig c;
  c.kind = OptimizerKind::Adam;
  Optimizer adam(c, 4);
  adam.set_momentum(0.8);
  EXPECT_EQ(adam.config().beta1, 0.8);
  c.kind = OptimizerKind::Sgd;
  Optimizer sgd(c, 4);
  sgd.set_momentum(0.85);
  EXPECT_EQ(sgd.config().momentum, 0.85);
  // The update follows it: one Adam step from zero state moves w by lr (bias-corrected m/sqrt(v))
  // whatever beta1 is, but the stored first moment is (1 - beta1) * g.
  std::vector<float> w(4, 0.f), g(4, 1.f);
  adam.step(w.data(), g.data(), 0.1);
  EXPECT_NEAR((*adam.state()[0].second)[0], 0.2f, 1e-6);
}

}  // namespace
}  // namespace batchscope
