// Optimizer steps against hand-computed torch.optim numbers, and learning-rate schedules.
#include <gtest/gtest.h>

#include <cmath>

#include "batchscope/error.h"
#include "batchscope/optimizer.h"

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
    EXPECT_NE(std::string(e.what()).find("--schedule"), std::string::npos);
  }
  EXPECT_THROW(parse_optimizer("rmsprop"), UsageError);
}

}  // namespace
}  // namespace batchscope
