// The time-to-accuracy loop (see time_to_accuracy.h).
#include "measure/time_to_accuracy.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "batchscope/error.h"
#include "batchscope/model.h"
#include "batchscope/trainer.h"

namespace batchscope {

namespace {
using clock_type = std::chrono::steady_clock;
double since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}
}  // namespace

LrScaling parse_lr_scaling(const std::string& s) {
  if (s == "linear") return LrScaling::Linear;
  if (s == "sqrt") return LrScaling::Sqrt;
  if (s == "none") return LrScaling::None;
  throw UsageError("lr_scaling", "'" + s + "' is not a rule; expected linear, sqrt or none");
}

std::string to_string(LrScaling s) {
  switch (s) {
    case LrScaling::Linear: return "linear";
    case LrScaling::Sqrt: return "sqrt";
    case LrScaling::None: return "none";
  }
  return "?";
}

double scaled_lr(const TtaConfig& c, int64_t batch) {
  const double r = static_cast<double>(batch) / static_cast<double>(c.base_batch);
  const double f = c.scaling == LrScaling::Linear ? r : c.scaling == LrScaling::Sqrt ? std::sqrt(r) : 1.0;
  return std::min(c.max_lr, c.base_lr * f);
}

double noise_accuracy(const TtaConfig& c) { return c.noise_accuracy >= 0 ? c.noise_accuracy : c.target - 0.005; }

TtaResult run_time_to_accuracy(const TtaConfig& c, const Dataset& train, const Dataset& test,
                               const TtaCheckFn& on_check) {
  TtaResult res;
  const Shape in_sample{1, train.images.h, train.images.w};
  const int64_t n = train.images.n;
  for (int64_t B : c.batches) {
    // The same seed: every batch size starts from the same weights.
    Model model(c.model, in_sample, 10, *c.ops, c.seed);
    TtaRun run;
    run.batch = B;
    run.lr = scaled_lr(c, B);
    TrainConfig tc;
    tc.batch_size = B;
    tc.seed = c.seed;
    tc.optim.kind = c.optimizer;
    tc.optim.lr = run.lr;
    const int64_t steps_per_epoch = n / B;
    const int64_t max_steps =
        std::max<int64_t>(1, static_cast<int64_t>(std::ceil(c.max_epochs * static_cast<double>(steps_per_epoch))));
    tc.schedule_steps = max_steps;  // the cosine reaches its floor where the budget ends
    tc.schedule = c.schedule;
    tc.optim.beta1 = c.beta1;
    tc.optim.beta2 = c.beta2;
    tc.recipe = c.recipe;
    run.warmup_steps = c.schedule.kind == ScheduleKind::OneCycle ? 0 : std::max<int64_t>(1, c.warmup_images / B);
    tc.schedule.warmup_steps = run.warmup_steps;
    Trainer trainer(model, tc, train);
    NoiseScaleEstimator noise;
    std::vector<int64_t> probe_rows(static_cast<size_t>(c.noise_b_small * c.noise_micro_batches));
    const int64_t check_steps = std::max<int64_t>(1, c.check_every_images / B);

    int64_t probe_count = 0;
    // One gradient-noise probe on rows no earlier probe of this run drew.
    auto probe_once = [&] {
      const std::vector<int64_t> pp = epoch_permutation(c.seed ^ 0x9E3779B97F4A7C15ull, ++probe_count, n);
      std::copy_n(pp.begin(), probe_rows.size(), probe_rows.begin());
      return probe_gradient_norms(model, train, tc.norm, probe_rows, c.noise_b_small,
                                  c.seed + static_cast<uint64_t>(probe_count));
    };
    // B_simple's uncertainty: c.noise_repeats probes on fresh rows at the parameters of check k.
    auto repeat_probes = [&](const TtaCheck& k) {
      if (c.noise_repeats <= 0) return;
      const auto tp = clock_type::now();
      std::vector<GradNormSample> samples;
      for (int64_t i = 0; i < c.noise_repeats; ++i) samples.push_back(probe_once());
      run.noise_repeated = noise_scale_interval(samples, c.seed);
      run.noise_check = k;
      run.probe_seconds += since(tp);
    };

    double train_seconds = 0;
    int64_t step = 0;
    std::vector<int64_t> perm;
    run.stopped_by = "epochs";
    while (step < max_steps) {
      const int64_t epoch = step / steps_per_epoch, in_epoch = step % steps_per_epoch;
      if (in_epoch == 0 || perm.empty()) perm = epoch_permutation(c.seed, epoch, n);
      const int64_t todo = std::min({check_steps - step % check_steps, steps_per_epoch - in_epoch, max_steps - step});
      int64_t correct = 0;
      const auto t0 = clock_type::now();
      try {
        for (int64_t s = 0; s < todo; ++s) trainer.train_step(perm.data() + (in_epoch + s) * B, &correct);
      } catch (const Error& e) {
        run.stopped_by = e.what();
        break;
      }
      train_seconds += since(t0);
      step += todo;
      if (step % check_steps != 0 && step < max_steps && train_seconds < c.max_seconds) continue;

      // A check: the noise probe on fresh rows, then the full test set.
      const auto tp = clock_type::now();
      noise.add(probe_once());
      run.probe_seconds += since(tp);
      const auto te = clock_type::now();
      const EvalResult ev = evaluate(model, test, tc.norm);
      run.eval_seconds += since(te);

      TtaCheck ck;
      ck.steps = step;
      ck.images = step * B;
      ck.epochs = static_cast<double>(step) / static_cast<double>(steps_per_epoch);
      ck.train_seconds = train_seconds;
      ck.test_accuracy = ev.accuracy;
      ck.test_loss = ev.loss;
      ck.b_simple = noise.b_simple();
      run.checks.push_back(ck);
      run.best_accuracy = std::max(run.best_accuracy, ev.accuracy);
      if (run.noise_repeated.samples == 0 && ev.accuracy >= noise_accuracy(c)) repeat_probes(ck);
      if (on_check) on_check(run, ck);
      if (ev.accuracy >= c.target) {
        run.reached = true;
        run.at_target = ck;
        run.stopped_by = "target";
        break;
      }
      if (train_seconds >= c.max_seconds) {
        run.stopped_by = "seconds";
        break;
      }
    }
    // Not at the reference accuracy: repeated probes at the final parameters instead (a
    // diverged model has none worth probing).
    const bool finite_end = run.stopped_by == "target" || run.stopped_by == "epochs" || run.stopped_by == "seconds";
    if (run.noise_repeated.samples == 0 && !run.checks.empty() && finite_end) repeat_probes(run.checks.back());
    res.runs.push_back(run);
  }
  for (size_t i = 0; i < res.runs.size(); ++i)
    if (res.runs[i].reached &&
        (res.best < 0 || res.runs[i].at_target.train_seconds < res.runs[static_cast<size_t>(res.best)].at_target.train_seconds))
      res.best = static_cast<int>(i);
  return res;
}

}  // namespace batchscope
