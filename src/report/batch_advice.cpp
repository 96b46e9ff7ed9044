// The batch-size recommendation of `sweep --target-accuracy` (see batch_advice.h).
#include "report/batch_advice.h"

#include <algorithm>
#include <cmath>

#include "report/table.h"

namespace batchscope::report {

namespace {

long long ll(int64_t v) { return static_cast<long long>(v); }

bool has_interval(const TtaRun& run) {
  const NoiseScaleInterval& n = run.noise_repeated;
  return n.samples >= 2 && std::isfinite(n.b_simple) && n.b_simple > 0 && !std::isnan(n.lo) && !std::isnan(n.hi);
}

// Steps per second over the training time up to the target.
double steps_per_second(const TtaCheck& k) {
  return k.train_seconds > 0 ? static_cast<double>(k.steps) / k.train_seconds : 0;
}

void say_recommendation(BatchAdvice& a, const TtaResult& r, const TtaConfig& c) {
  const TtaRun& best = r.runs[static_cast<size_t>(a.recommended)];
  const ReachWindow w = reach_window(best);
  a.lines.push_back(fmt("recommended: batch %lld, %.1f s of training to %.2f%% (%.2f epochs, %lld steps); it got there "
                        "after %.1f s and by %.1f s, the resolution of checks every %lld images",
                        ll(best.batch), best.at_target.train_seconds, 100 * c.target, best.at_target.epochs,
                        ll(best.at_target.steps), w.from, w.to, ll(c.check_every_images)));
  std::string later, never;
  for (size_t i = 0; i < r.runs.size(); ++i) {
    const TtaRun& run = r.runs[i];
    if (static_cast<int>(i) == a.recommended) continue;
    if (!run.reached) {
      never += fmt("%sbatch %lld (best %.2f%% after %.2f epochs)", never.empty() ? "" : ", ", ll(run.batch),
                   100 * run.best_accuracy, run.checks.empty() ? 0.0 : run.checks.back().epochs);
      continue;
    }
    const ReachWindow v = reach_window(run);
    if (v.from < w.to) {
      a.tied.push_back(static_cast<int>(i));
    } else {
      later += fmt("%sbatch %lld (after %.1f s, by %.1f s)", later.empty() ? "" : ", ", ll(run.batch), v.from, v.to);
    }
  }
  if (!a.tied.empty()) {
    std::string t;
    for (int i : a.tied) {
      const ReachWindow v = reach_window(r.runs[static_cast<size_t>(i)]);
      t += fmt("%sbatch %lld (after %.1f s, by %.1f s)", t.empty() ? "" : ", ", ll(r.runs[static_cast<size_t>(i)].batch),
               v.from, v.to);
    }
    a.lines.push_back("tied within the check spacing: " + t +
                      "; this run cannot rank them against it (more frequent checks, --check-every, or more seeds would)");
  }
  if (!later.empty()) a.lines.push_back("slower beyond the check spacing: " + later);
  if (!never.empty()) a.lines.push_back("did not reach the target within the budget: " + never);
}

// Consecutive batch sizes that both reached the target: what the larger one gained in steps
// and lost in steps per second.
void say_pairs(BatchAdvice& a, const TtaResult& r, double b_star) {
  std::vector<const TtaRun*> reached;
  for (const TtaRun& run : r.runs)
    if (run.reached && run.at_target.steps > 0 && run.at_target.train_seconds > 0) reached.push_back(&run);
  std::sort(reached.begin(), reached.end(), [](const TtaRun* x, const TtaRun* y) { return x->batch < y->batch; });
  for (size_t i = 1; i < reached.size(); ++i) {
    const TtaRun& s = *reached[i - 1];
    const TtaRun& l = *reached[i];
    const double sps_s = steps_per_second(s.at_target), sps_l = steps_per_second(l.at_target);
    const double fewer_steps = static_cast<double>(s.at_target.steps) / static_cast<double>(l.at_target.steps);
    const double slower_steps = sps_s / sps_l;
    const ReachWindow ws = reach_window(s), wl = reach_window(l);
    const char* verdict = wl.to < ws.from   ? "the larger batch pays: fewer steps outweighed the slower steps"
                          : ws.to < wl.from ? "the larger batch stops paying: fewer steps per second no longer bought "
                                              "fewer seconds"
                                            : "no verdict beyond the check spacing";
    std::string line = fmt("batch %lld -> %lld: %.1f -> %.1f steps/s (%.2fx slower steps) against %lld -> %lld steps to "
                           "the target (%.2fx fewer), so %.1f -> %.1f s: %s",
                           ll(s.batch), ll(l.batch), sps_s, sps_l, slower_steps, ll(s.at_target.steps),
                           ll(l.at_target.steps), fewer_steps, s.at_target.train_seconds, l.at_target.train_seconds,
                           verdict);
    // McCandlish et al.: steps to a given loss S(B) = S_min (1 + B_noise / B).
    if (b_star > 0) {
      const double predicted = (1 + b_star / static_cast<double>(s.batch)) / (1 + b_star / static_cast<double>(l.batch));
      line += fmt(" (with B_simple %.0f the noise-scale model predicts %.2fx fewer steps)", b_star, predicted);
    }
    a.lines.push_back(line);
  }
}

// Step time against batch size over the runs: t(B) = a + b*B by weighted least squares (a the fixed
// cost of a step, b the cost of an image), and which of the two a step at batch `at` is made of.
void say_step_costs(BatchAdvice& a, const TtaResult& r, int at) {
  std::vector<std::pair<double, double>> pts;  // (batch, seconds per step)
  for (const TtaRun& run : r.runs)
    if (!run.checks.empty() && run.checks.back().steps > 0 && run.checks.back().train_seconds > 0)
      pts.push_back({static_cast<double>(run.batch),
                     run.checks.back().train_seconds / static_cast<double>(run.checks.back().steps)});
  if (pts.size() < 2) return;
  // Weighted by 1/t^2, so each batch size's relative error counts alike: unweighted, the
  // largest batches' steps (tens of ms) set the line and the fixed cost came out negative.
  double sw = 0, mb = 0, mt = 0;
  for (auto [b, t] : pts) {
    const double w = 1 / (t * t);
    sw += w, mb += w * b, mt += w * t;
  }
  mb /= sw;
  mt /= sw;
  double sbb = 0, sbt = 0;
  for (auto [b, t] : pts) {
    const double w = 1 / (t * t);
    sbb += w * (b - mb) * (b - mb), sbt += w * (b - mb) * (t - mt);
  }
  if (sbb <= 0) return;
  const double per_image = sbt / sbb, fixed = mt - per_image * mb;
  a.step_fixed_seconds = fixed;
  a.step_image_seconds = per_image;
  if (per_image <= 0) return;
  const TtaRun& ref = r.runs[static_cast<size_t>(at)];
  const double step = fixed + per_image * static_cast<double>(ref.batch);
  std::string line = fmt("step time over these runs: t(B) = a + b*B with a = %.3f ms per step and b = %.4f ms per image "
                         "(least squares in relative error over %zu batch sizes); at batch %lld a step is %.2f ms, ",
                         1e3 * fixed, 1e3 * per_image, pts.size(), ll(ref.batch), 1e3 * step);
  if (fixed <= 0.05 * step)
    line += fmt("%s the fixed part: the time is per-image work (the layers' arithmetic and memory traffic), not "
                "per-step overhead, so a larger batch saves almost nothing per image and pays only through fewer "
                "steps to the target",
                fixed <= 0 ? "none measurable of it" : fmt("%.1f%% of it", 100 * fixed / step).c_str());
  else if (fixed >= 0.5 * step)
    line += fmt("%.0f%% of it the fixed part: per-step overhead dominates, so a larger batch makes each image cheaper",
                100 * fixed / step);
  else
    line += fmt("%.0f%% of it the fixed part and %.0f%% per-image work", 100 * fixed / step, 100 - 100 * fixed / step);
  a.lines.push_back(line);
}

}  // namespace

std::string noise_interval_text(const NoiseScaleInterval& n, const char* unbounded) {
  return fmt("%.0f [%.0f, %s]", n.b_simple, n.lo, std::isfinite(n.hi) ? fmt("%.0f", n.hi).c_str() : unbounded);
}

ReachWindow reach_window(const TtaRun& run) {
  if (!run.reached) return {};
  double from = 0;
  for (const TtaCheck& k : run.checks) {
    if (k.steps >= run.at_target.steps) break;
    from = k.train_seconds;
  }
  return {from, run.at_target.train_seconds};
}

BatchAdvice advise_batch(const TtaResult& r, const TtaConfig& c) {
  BatchAdvice a;
  a.recommended = r.best;
  if (r.best < 0) {
    a.lines.push_back(fmt("no batch size reached %.2f%% within the budget, so there is nothing to recommend; a longer "
                          "budget (--max-epochs, --max-train-seconds) would tell",
                          100 * c.target));
  } else {
    say_recommendation(a, r, c);
  }

  // The noise scale at each run's end, and whether the runs agree on it.
  std::string each;
  std::vector<double> points;
  a.shared_lo = 0;
  a.shared_hi = INFINITY;
  const TtaRun* low = nullptr;
  const TtaRun* high = nullptr;
  std::string no_signal;
  for (const TtaRun& run : r.runs) {
    if (run.noise_repeated.samples >= 2 && !has_interval(run))
      no_signal += fmt("%sbatch %lld", no_signal.empty() ? "" : ", ", ll(run.batch));
    if (!has_interval(run)) continue;
    const NoiseScaleInterval& n = run.noise_repeated;
    ++a.noise_runs;
    points.push_back(n.b_simple);
    a.shared_lo = std::max(a.shared_lo, n.lo);
    a.shared_hi = std::min(a.shared_hi, n.hi);
    if (!low || n.hi < low->noise_repeated.hi) low = &run;
    if (!high || n.lo > high->noise_repeated.lo) high = &run;
    each += fmt("%sbatch %lld at %.2f%% (%.2f epochs): %s", each.empty() ? "" : "; ", ll(run.batch),
                100 * run.noise_check.test_accuracy, run.noise_check.epochs, noise_interval_text(n).c_str());
  }
  double b_star = 0;
  if (a.noise_runs > 0) {
    const int64_t repeats = r.runs.front().noise_repeated.samples;
    a.lines.push_back(fmt("B_simple at the first check at or above %.2f%% test accuracy, or at the run's end where it "
                          "never got there (%lld repeated probes of %lld x %lld images at the same parameters; point "
                          "estimate [16th, 84th percentile of 400 bootstrap resamples]): ",
                          100 * noise_accuracy(c), ll(repeats), ll(c.noise_micro_batches), ll(c.noise_b_small)) + each);
    std::sort(points.begin(), points.end());
    const double median = points[points.size() / 2];
    if (a.noise_runs >= 2 && a.shared_lo <= a.shared_hi && !std::isfinite(a.shared_hi)) {
      a.noise_consistent = true;
      a.lines.push_back(fmt("the intervals share %.0f and up: consistent with one critical batch size, but bounded only "
                            "from below (at least %.0f): at these parameters the mean gradient is within the probes' "
                            "own noise, so no model of steps against batch size is fitted to it",
                            a.shared_lo, a.shared_lo));
    } else if (a.noise_runs >= 2 && a.shared_lo <= a.shared_hi) {
      a.noise_consistent = true;
      b_star = median;
      a.lines.push_back(fmt("the intervals share %.0f-%.0f: the spread between batch sizes is within the estimator's own "
                            "noise, so one critical batch size, about %.0f (the median), describes these runs; batch "
                            "sizes well above it buy ever fewer saved steps per doubling",
                            a.shared_lo, a.shared_hi, median));
    } else if (a.noise_runs >= 2) {
      a.lines.push_back(fmt("batch %lld's interval %s and batch %lld's %s do not overlap: the runs had really "
                            "different gradient noise where they were probed (their trajectories differ: accuracy reached, learning rate, "
                            "point in the schedule), not estimator noise, so no single critical batch size is read "
                            "off this run and the recommendation rests on the measured times alone",
                            ll(low->batch), noise_interval_text(low->noise_repeated).c_str(), ll(high->batch),
                            noise_interval_text(high->noise_repeated).c_str()));
    }
  }
  if (!no_signal.empty())
    a.lines.push_back("no B_simple from the repeated probes of " + no_signal +
                      ": the mean of the probes' |G|^2 estimates was not positive (the gradient is lost in their noise)");
  if (!a.noise_consistent) a.shared_lo = a.shared_hi = 0;
  say_pairs(a, r, b_star);
  if (!r.runs.empty()) say_step_costs(a, r, a.recommended >= 0 ? a.recommended : 0);
  return a;
}

}  // namespace batchscope::report
