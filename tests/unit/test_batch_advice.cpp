// The batch-size advice of `sweep --target-accuracy` on hand-made runs whose answer is known:
// what is ranked, what is called a tie, and when B_simple's spread is called estimator noise.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "report/batch_advice.h"

namespace batchscope::report {
namespace {

// A run that checks every `dt` seconds (steps_per_check steps each) and reaches the target at
// check `at` (1-based), or never when at == 0; its repeated probes (at its last check) read b
// in [lo, hi].
TtaRun run_of(int64_t batch, double dt, int64_t steps_per_check, int at, int checks, double b, double lo, double hi) {
  TtaRun r;
  r.batch = batch;
  for (int i = 1; i <= (at > 0 ? at : checks); ++i) {
    TtaCheck k;
    k.steps = i * steps_per_check;
    k.images = k.steps * batch;
    k.train_seconds = i * dt;
    k.epochs = static_cast<double>(k.images) / 60000.0;
    k.test_accuracy = at > 0 && i == at ? 0.991 : 0.98;
    r.checks.push_back(k);
  }
  r.best_accuracy = r.checks.back().test_accuracy;
  if (at > 0) {
    r.reached = true;
    r.at_target = r.checks.back();
    r.stopped_by = "target";
  } else {
    r.stopped_by = "epochs";
  }
  r.noise_repeated = {16, b, lo, hi};
  r.noise_check = r.checks.back();
  return r;
}

TtaResult result_of(std::vector<TtaRun> runs) {
  TtaResult r;
  r.runs = std::move(runs);
  for (size_t i = 0; i < r.runs.size(); ++i)
    if (r.runs[i].reached &&
        (r.best < 0 || r.runs[i].at_target.train_seconds < r.runs[static_cast<size_t>(r.best)].at_target.train_seconds))
      r.best = static_cast<int>(i);
  return r;
}

bool mentions(const BatchAdvice& a, const std::string& s) {
  for (const std::string& l : a.lines)
    if (l.find(s) != std::string::npos) return true;
  return false;
}

TEST(BatchAdvice, ReachWindowIsFromThePreviousCheckToTheOneAtTheTarget) {
  const TtaRun r = run_of(64, 2.0, 100, 3, 3, 100, 80, 120);
  const ReachWindow w = reach_window(r);
  EXPECT_DOUBLE_EQ(w.from, 4.0);
  EXPECT_DOUBLE_EQ(w.to, 6.0);
  const TtaRun first = run_of(64, 2.0, 100, 1, 1, 100, 80, 120);
  EXPECT_DOUBLE_EQ(reach_window(first).from, 0.0);
  EXPECT_DOUBLE_EQ(reach_window(run_of(64, 2.0, 100, 0, 4, 100, 80, 120)).to, 0.0);
}

TEST(BatchAdvice, RunsInsideTheWinnersWindowAreTiedAndLaterOnesAreNot) {
  // batch 64 reaches at 6.0 s (after 4.0); batch 128 at 6.6 s after 4.4 (overlaps: tied);
  // batch 32 at 12 s after 9 (slower beyond the spacing); batch 256 never.
  TtaConfig c;
  c.target = 0.99;
  const TtaResult r = result_of({run_of(32, 3.0, 400, 4, 4, 300, 200, 400), run_of(64, 2.0, 200, 3, 3, 310, 250, 380),
                                 run_of(128, 2.2, 100, 3, 3, 290, 220, 420), run_of(256, 2.0, 50, 0, 5, 330, 260, 500)});
  const BatchAdvice a = advise_batch(r, c);
  EXPECT_EQ(a.recommended, 1);
  ASSERT_EQ(a.tied.size(), 1u);
  EXPECT_EQ(a.tied[0], 2);
  EXPECT_TRUE(mentions(a, "recommended: batch 64, 6.0 s")) << a.lines[0];
  EXPECT_TRUE(mentions(a, "tied within the check spacing: batch 128 (after 4.4 s, by 6.6 s)"));
  EXPECT_TRUE(mentions(a, "slower beyond the check spacing: batch 32 (after 9.0 s, by 12.0 s)"));
  EXPECT_TRUE(mentions(a, "did not reach the target within the budget: batch 256"));
  // All four intervals contain 260-380: consistent, and the median of the point estimates.
  EXPECT_EQ(a.noise_runs, 4);
  EXPECT_TRUE(a.noise_consistent);
  EXPECT_DOUBLE_EQ(a.shared_lo, 260);
  EXPECT_DOUBLE_EQ(a.shared_hi, 380);
  EXPECT_TRUE(mentions(a, "the intervals share 260-380"));
  EXPECT_TRUE(mentions(a, "about 310 (the median)"));
}

TEST(BatchAdvice, DisjointNoiseIntervalsAreCalledRealDifferences) {
  TtaConfig c;
  const TtaResult r = result_of({run_of(64, 2.0, 200, 3, 3, 238, 200, 280), run_of(128, 2.0, 100, 4, 4, 1429, 1200, 1700)});
  const BatchAdvice a = advise_batch(r, c);
  EXPECT_FALSE(a.noise_consistent);
  EXPECT_TRUE(mentions(a, "batch 64's interval 238 [200, 280] and batch 128's 1429 [1200, 1700] do not overlap"));
  EXPECT_FALSE(mentions(a, "noise-scale model predicts"));  // no single B_simple to predict with
}

TEST(BatchAdvice, PairsSayWhetherTheLargerBatchPaysBeyondTheCheckSpacing) {
  TtaConfig c;
  // 64: 600 steps by 6 s (after 4); 128: 450 steps by 9 s (after 7.5): the larger batch ran 1.33x
  // fewer steps at 2x slower steps, and its window starts after 64's ends.
  const TtaResult r = result_of({run_of(64, 2.0, 200, 3, 3, 100, 80, 130), run_of(128, 1.5, 75, 6, 6, 110, 90, 140)});
  const BatchAdvice a = advise_batch(r, c);
  EXPECT_TRUE(mentions(a, "batch 64 -> 128: 100.0 -> 50.0 steps/s (2.00x slower steps) against 600 -> 450 steps to the "
                          "target (1.33x fewer), so 6.0 -> 9.0 s: the larger batch stops paying"));
  // The median of 100 and 110 with two points is the upper one: (1 + 110/64) / (1 + 110/128).
  EXPECT_TRUE(mentions(a, "with B_simple 110 the noise-scale model predicts 1.46x fewer steps"));
}

TEST(BatchAdvice, AnUnboundedIntervalGivesOnlyALowerBoundAndNoPrediction) {
  TtaConfig c;
  const TtaResult r = result_of({run_of(32, 2.0, 400, 3, 3, 34454, 7799, INFINITY),
                                 run_of(64, 2.0, 200, 3, 3, 16005, 3649, INFINITY)});
  const BatchAdvice a = advise_batch(r, c);
  EXPECT_TRUE(a.noise_consistent);
  EXPECT_TRUE(mentions(a, "34454 [7799, unbounded]"));
  EXPECT_TRUE(mentions(a, "the intervals share 7799 and up"));
  EXPECT_TRUE(mentions(a, "at least 7799"));
  EXPECT_FALSE(mentions(a, "noise-scale model predicts"));
}

TEST(BatchAdvice, ARunWithoutSignalIsNamedAndLeftOutOfTheComparison) {
  TtaConfig c;
  const TtaResult r = result_of({run_of(64, 2.0, 200, 3, 3, 300, 250, 380), run_of(128, 2.0, 100, 3, 3, NAN, 500, INFINITY)});
  const BatchAdvice a = advise_batch(r, c);
  EXPECT_EQ(a.noise_runs, 1);
  EXPECT_FALSE(a.noise_consistent);
  EXPECT_TRUE(mentions(a, "no B_simple from the repeated probes of batch 128"));
}

TEST(BatchAdvice, StepTimesSplitIntoAFixedAndAPerImageCost) {
  TtaConfig c;
  // t(B) = 0.2 ms + 0.05 ms * B exactly: 3.4, 6.6 and 13.0 ms per step, 100 steps per check.
  const TtaResult r = result_of({run_of(64, 0.34, 100, 3, 3, 300, 250, 380), run_of(128, 0.66, 100, 3, 3, 300, 250, 380),
                                 run_of(256, 1.30, 100, 3, 3, 300, 250, 380)});
  const BatchAdvice a = advise_batch(r, c);
  EXPECT_NEAR(a.step_fixed_seconds, 0.2e-3, 1e-9);
  EXPECT_NEAR(a.step_image_seconds, 0.05e-3, 1e-12);
  EXPECT_TRUE(mentions(a, "a = 0.200 ms per step and b = 0.0500 ms per image (least squares in relative error over 3 batch sizes); at "
                          "batch 64 a step is 3.40 ms, 6% of it the fixed part and 94% per-image work"));

  // 2 ms fixed, 1 us per image: overhead.
  const TtaResult o = result_of({run_of(4, 0.2004, 100, 3, 3, 300, 250, 380), run_of(16, 0.2016, 100, 3, 3, 300, 250, 380)});
  EXPECT_TRUE(mentions(advise_batch(o, c), "per-step overhead dominates"));
  // A step time that does not grow with the batch: nothing to split, no sentence.
  const TtaResult flat = result_of({run_of(4, 0.2, 100, 3, 3, 300, 250, 380), run_of(16, 0.1, 100, 3, 3, 300, 250, 380)});
  EXPECT_FALSE(mentions(advise_batch(flat, c), "step time over these runs"));
}

TEST(BatchAdvice, NoRunReachedMeansNoRecommendation) {
  TtaConfig c;
  c.target = 0.995;
  const TtaResult r = result_of({run_of(64, 2.0, 200, 0, 3, 100, 80, 130)});
  const BatchAdvice a = advise_batch(r, c);
  EXPECT_EQ(a.recommended, -1);
  EXPECT_TRUE(mentions(a, "no batch size reached 99.50%"));
  EXPECT_EQ(a.noise_runs, 1);
  EXPECT_FALSE(a.noise_consistent);  // one run: nothing to compare
}

}  // namespace
}  // namespace batchscope::report
