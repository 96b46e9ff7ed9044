// The profiler's reduction to times per step, the sweep's per-piece fits, the roofline
// classification, and the step-work arithmetic, on hand-made inputs with known answers.
#include <gtest/gtest.h>

#include <cstdlib>

#include "batchscope/model.h"
#include "core/step_profiler.h"
#include "kernels/kernels.h"
#include "report/sweep_report.h"
#include "measure/step_profile.h"
#include "analysis/step_work.h"
#include "measure/sweep.h"

namespace batchscope {
namespace {

ProfileEvent ev(int64_t t0, int64_t t1, int32_t layer, Phase p, uint8_t depth) { return {t0, t1, layer, p, depth}; }

TEST(StepProfile, SummarisesMeanMillisecondsPerStepAndDerivesBackwardData) {
  // Two steps of 10 ms each: data 1, forward 3 (layer 0: 2), loss 0.5, backward 4 (layer 0:
  // 3 of which weights 1), update 1; times in ns.
  std::vector<ProfileEvent> e;
  for (int s = 0; s < 2; ++s) {
    const int64_t o = s * 20'000'000;
    e.push_back(ev(o + 0, o + 1'000'000, kNoLayer, Phase::Data, 1));
    e.push_back(ev(o + 1'000'000, o + 3'000'000, 0, Phase::Forward, 2));
    e.push_back(ev(o + 1'000'000, o + 4'000'000, kNoLayer, Phase::Forward, 1));
    e.push_back(ev(o + 4'000'000, o + 4'500'000, kNoLayer, Phase::Loss, 1));
    e.push_back(ev(o + 4'500'000, o + 5'500'000, 0, Phase::BackwardWeights, 3));
    e.push_back(ev(o + 4'500'000, o + 7'500'000, 0, Phase::Backward, 2));
    e.push_back(ev(o + 4'500'000, o + 8'500'000, kNoLayer, Phase::Backward, 1));
    e.push_back(ev(o + 8'500'000, o + 9'500'000, kNoLayer, Phase::Update, 1));
    e.push_back(ev(o + 0, o + 10'000'000, kNoLayer, Phase::Step, 0));
  }
  const StepProfile p = summarize_profile(e, 2, 1);
  EXPECT_DOUBLE_EQ(p.step_ms, 10);
  EXPECT_DOUBLE_EQ(p.data_ms, 1);
  EXPECT_DOUBLE_EQ(p.forward_ms, 3);
  EXPECT_DOUBLE_EQ(p.loss_ms, 0.5);
  EXPECT_DOUBLE_EQ(p.backward_ms, 4);
  EXPECT_DOUBLE_EQ(p.update_ms, 1);
  EXPECT_DOUBLE_EQ(p.other_ms(), 0.5);
  EXPECT_DOUBLE_EQ(p.layers[0].forward_ms, 2);
  EXPECT_DOUBLE_EQ(p.layers[0].backward_weights_ms, 1);
  EXPECT_DOUBLE_EQ(p.layers[0].backward_data_ms, 2);  // 3 of backward less 1 of weights
  const report::PhaseShares s = report::phase_shares(p);
  EXPECT_DOUBLE_EQ(s.data, 10);
  EXPECT_DOUBLE_EQ(s.forward, 35);  // forward and loss
  EXPECT_DOUBLE_EQ(s.backward, 40);
  EXPECT_DOUBLE_EQ(s.update, 10);
  EXPECT_NEAR(s.other, 5, 1e-12);
}

TEST(StepProfile, ScopesRecordOnlyWhileAProfilerIsActiveAndNest) {
  StepProfiler p;
  { TimedScope t(Phase::Step); }  // nothing active: nothing recorded anywhere
  {
    ProfilerScope on(p);
    TimedScope step(Phase::Step);
    p.current_layer = 3;
    {
      TimedScope w(Phase::BackwardWeights);  // takes the current layer
      TimedScope inner(Phase::Forward, 1);
    }
  }
  { TimedScope t(Phase::Step); }
  ASSERT_EQ(p.events().size(), 3u);
  EXPECT_EQ(p.events()[0].phase, Phase::Forward);  // children end first
  EXPECT_EQ(p.events()[0].depth, 2);
  EXPECT_EQ(p.events()[1].layer, 3);
  EXPECT_EQ(p.events()[1].depth, 1);
  EXPECT_EQ(p.events()[2].phase, Phase::Step);
  EXPECT_EQ(p.events()[2].depth, 0);
  EXPECT_LE(p.events()[2].t0_ns, p.events()[1].t0_ns);
  EXPECT_GE(p.events()[2].t1_ns, p.events()[1].t1_ns);
  EXPECT_EQ(active_profiler(), nullptr);
}

TEST(StepProfile, PieceFitsRecoverTheirLinesAndAddUpToTheWhole) {
  // Two pieces: 2 ms fixed + 0.1 ms per image, and 0.5 ms fixed + 0.3 ms per image, with
  // the noise of a real run (a few percent); the whole step is their sum.
  const std::vector<int64_t> b = {1, 4, 8, 16, 64, 256};
  std::vector<double> p1, p2, whole;
  for (size_t i = 0; i < b.size(); ++i) {
    const double x = static_cast<double>(b[i]), wobble = 1 + 0.03 * ((i % 2) ? 1 : -1);
    p1.push_back((2e-3 + 1e-4 * x) * wobble);
    p2.push_back((0.5e-3 + 3e-4 * x) / wobble);
    whole.push_back(p1.back() + p2.back());
  }
  const StepLine l1 = fit_step_line(b, p1), l2 = fit_step_line(b, p2), lw = fit_step_line(b, whole);
  EXPECT_NEAR(l1.fixed, 2e-3, 2e-4);
  EXPECT_NEAR(l1.per_image, 1e-4, 1e-5);
  EXPECT_NEAR(l2.per_image, 3e-4, 2e-5);
  EXPECT_NEAR(l1.fixed + l2.fixed, lw.fixed, 1e-15);
  EXPECT_NEAR(l1.per_image + l2.per_image, lw.per_image, 1e-15);
  // Exact lines come back exactly.
  std::vector<double> exact;
  for (int64_t x : b) exact.push_back(1e-3 + 2e-4 * static_cast<double>(x));
  const StepLine le = fit_step_line(b, exact);
  EXPECT_NEAR(le.fixed, 1e-3, 1e-12);
  EXPECT_NEAR(le.per_image, 2e-4, 1e-12);
  EXPECT_EQ(fit_step_line({8}, {1.0}).fixed, 0.0);  // one batch size: no line
}

TEST(StepProfile, RooflineBoundFollowsTheRidgeAndFlagsOverhead) {
  // Machine: 100 GFLOP/s, 10 GB/s; ridge at 10 FLOP/byte.
  const Work dense{1e9, 1e7};   // 100 FLOP/byte: compute limit 10 ms, memory 1 ms
  const Work stream{1e6, 1e8};  // 0.01 FLOP/byte: memory limit 10 ms
  EXPECT_EQ(roofline_bound(dense, 0.012, 100, 10), "compute");
  EXPECT_EQ(roofline_bound(stream, 0.015, 100, 10), "memory");
  EXPECT_EQ(roofline_bound(dense, 0.050, 100, 10), "overhead");  // under half its roofline
  EXPECT_EQ(roofline_bound(stream, 0.0, 100, 10), "-");
}

TEST(StepProfile, StepWorkCountsMnistCnnFlopsAndOptimizerBytes) {
  Model m("mnist-cnn", Shape{1, 28, 28}, 10, kernels::Backend::Reference, 1);
  const StepWork w = step_work(m, 32, 1);
  ASSERT_EQ(w.layers.size(), m.layers().size());
  double fwd = 0, total = 0;
  for (const LayerWork& l : w.layers) {
    fwd += l.forward.flops;
    total += l.forward.flops + l.backward_data.flops + l.backward_weights.flops;
  }
  const double macs = static_cast<double>(m.macs_per_sample());
  // Multiply-add layers dominate; the element-wise ones add under 1%.
  EXPECT_NEAR(fwd, 2 * 32 * macs, 0.01 * 2 * 32 * macs);
  EXPECT_EQ(w.layers[0].backward_data.flops, 0.0);  // the input's gradient is never computed
  EXPECT_TRUE(w.layers[1].fused);                   // ReLU after conv: done by the conv
  EXPECT_EQ(w.layers[1].forward.flops, 0.0);
  EXPECT_LT(total, 3 * 2 * 32 * macs * 1.01);
  // SGD with momentum: read w, g, m and write w, m: 20 bytes per parameter.
  EXPECT_DOUBLE_EQ(w.update.bytes, 20.0 * static_cast<double>(m.num_params()));
}

}  // namespace
}  // namespace batchscope
