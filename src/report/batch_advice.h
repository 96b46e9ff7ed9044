// Which batch size to use for a recipe, from one `sweep --target-accuracy` run, and why a larger
// one stops paying: every figure is read off the run (time to target, steps, steps per second,
// B_simple with its bootstrap interval), and a claim is made only where it holds beyond the
// run's own uncertainty:
//   - time to target is known only to the spacing of the accuracy checks: a run reached it
//     somewhere in (previous check, check], so two runs whose windows overlap are not ranked;
//   - B_simple at a common test accuracy comes with the 16th-84th percentile interval of its repeated
//     probes: runs whose intervals share a value are consistent with one noise scale (the spread
//     is estimator noise); runs whose intervals are disjoint ended with really different noise.
//   BatchAdvice a = advise_batch(result, config);  for (auto& l : a.lines) puts(l.c_str());
#pragma once
#include <string>
#include <vector>

#include "measure/time_to_accuracy.h"

namespace batchscope::report {

// When run i reached the target: after `from` and by `to` training seconds.
struct ReachWindow {
  double from = 0, to = 0;
};
ReachWindow reach_window(const TtaRun& run);  // {0, 0} for a run that did not reach it

struct BatchAdvice {
  int recommended = -1;   // index into TtaResult::runs; -1 when no run reached the target
  std::vector<int> tied;  // other runs whose reach window overlaps the recommended one's
  // B_simple from each run's repeated probes: compared only over runs with a finite estimate.
  int noise_runs = 0;             // how many runs have one
  bool noise_consistent = false;  // noise_runs >= 2 and every interval contains [shared_lo, shared_hi]
  double shared_lo = 0, shared_hi = 0;
  // Seconds per step against batch size over the runs, t(B) = a + b*B (least squares; both 0
  // with fewer than two batch sizes): the fixed cost of a step and the cost of an image.
  double step_fixed_seconds = 0, step_image_seconds = 0;
  std::vector<std::string> lines;  // the explanation in plain words, one sentence per line
};

// "537 [410, 690]": B_simple and its interval, `unbounded` standing for an infinite upper end.
std::string noise_interval_text(const NoiseScaleInterval& n, const char* unbounded = "unbounded");

// c: the run's settings (target, probe sizes), for the sentences.
BatchAdvice advise_batch(const TtaResult& r, const TtaConfig& c);

}  // namespace batchscope::report
