// `batchscope profile`: one (model, batch size) in depth. Times training steps with the step
// profiler and prints, per layer and phase (forward, backward-data, backward-weights) and for
// the step's own phases (data, loss, zero-grad, update): ms per step, FLOPs, compulsory bytes,
// GFLOP/s, GB/s, % of the measured peak and what bounds it on the roofline. It also measures
// what the profiler itself costs, and --trace writes a Chrome trace for Perfetto.
//   batchscope profile --batch-size 64 --trace step.json
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "batchscope/error.h"
#include "batchscope/model.h"
#include "batchscope/trainer.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "core/atomic_file.h"
#include "core/step_profiler.h"
#include "kernels/kernels.h"
#include "report/chrome_trace.h"
#include "report/profile_report.h"
#include "measure/peak_cache.h"
#include "measure/step_profile.h"
#include "analysis/step_work.h"

namespace batchscope::cli {

namespace {
using clock_type = std::chrono::steady_clock;
}  // namespace

int cmd_profile(int argc, char** argv) {
  Flags f("profile", "[flags]",
          "Profiles training steps of one model at one batch size: per layer and phase, time per step,\n"
          "FLOPs, bytes a kernel must move at least, GFLOP/s, GB/s, % of the measured peak, and what\n"
          "bounds it (compute, memory, or overhead when it reaches under half of its roofline).");
  add_data_flags(f, /*with_train=*/true);
  f.add("model", "mnist-cnn", "preset name (see 'batchscope models') or a layer spec string");
  f.add("batch-size", "64", "images per step");
  f.add("steps", "auto", "profiled steps; auto = max(20, ceil(4096/B)); as many again run unprofiled");
  f.add("warmup-steps", "auto", "untimed steps first; auto = max(3, ceil(256/B))");
  f.add("seed", "1", "seed for initialisation and shuffling");
  f.add("peak", "auto", "roofline: auto (cached if under a week old), measure, or GFLOPS:GBS");
  f.add("trace", "none", "write a Chrome trace-event JSON of the first --trace-steps steps (opens in Perfetto)");
  f.add("trace-steps", "10", "steps in the trace");
  add_compute_flags(f);
  f.add_bool("json", "print one JSON object with the results on stdout");
  f.add_bool("quiet", "no progress lines on stderr");
  if (!f.parse(argc, argv)) return 0;
  if (!f.positional().empty())
    throw UsageError("batchscope profile: unexpected argument '" + f.positional()[0] + "'");
  const int64_t B = f.i64("batch-size", 1, int64_t{1} << 30);
  const int64_t steps = f.str("steps") == "auto" ? std::max<int64_t>(20, (4096 + B - 1) / B)
                                                 : f.i64("steps", 1, int64_t{1} << 30);
  const int64_t warmup = f.str("warmup-steps") == "auto" ? std::max<int64_t>(3, (256 + B - 1) / B)
                                                         : f.i64("warmup-steps", 0, int64_t{1} << 30);
  const uint64_t seed = static_cast<uint64_t>(f.i64("seed", 0, INT64_MAX));
  const PeakChoice peak_choice = parse_peak_choice(f.str("peak"));
  const std::string trace_file = f.str("trace") == "none" ? "" : f.str("trace");
  const int64_t trace_steps = f.i64("trace-steps", 1, 100000);
  const Compute compute = apply_compute_flags(f);
  const int threads = compute.threads;
  const bool json = f.boolean("json"), quiet = f.boolean("quiet");

  const Dataset train = load_train_set(f);
  Model model(f.str("model"), Shape{1, train.images.h, train.images.w}, 10, *compute.ops, seed);
  TrainConfig tc;
  tc.batch_size = B;
  tc.optim.lr = default_learning_rate(tc.optim.kind, B);
  tc.seed = seed;
  Trainer trainer(model, tc, train);  // UsageError if B exceeds the data
  std::string command = "batchscope profile";
  for (int i = 0; i < argc; ++i) command += std::string(" ") + argv[i];
  const ReportContext ctx = report_context();
  if (!quiet) std::fprintf(stderr, "profile: roofline (%s)\n", peak_choice.policy == PeakPolicy::Measure ? "measuring" : "cached, given or measured");
  const RooflinePeak peak = peak_for_report(threads, peak_choice);

  // Rows in epoch order: warm-up, then rounds alternating unprofiled and profiled steps so
  // that drift on a noisy machine hits both alike; their ratio is the profiler's overhead.
  constexpr int kRounds = 5;
  const int64_t per_round = std::max<int64_t>(1, (steps + kRounds - 1) / kRounds);
  const std::vector<int64_t> perm = epoch_permutation(seed, 0, train.images.n);
  int64_t cursor = 0;
  auto next_rows = [&]() {
    if ((cursor + 1) * B > train.images.n) cursor = 0;
    return perm.data() + (cursor++) * B;
  };
  int64_t correct = 0;
  for (int64_t s = 0; s < warmup; ++s) trainer.train_step(next_rows(), &correct);
  StepProfiler prof;
  prof.reserve(static_cast<size_t>(kRounds * per_round * 64));
  std::vector<double> ratios;
  double plain_s = 0, profiled_s = 0;
  for (int round = 0; round < kRounds; ++round) {
    auto t0 = clock_type::now();
    for (int64_t s = 0; s < per_round; ++s) trainer.train_step(next_rows(), &correct);
    const double a = std::chrono::duration<double>(clock_type::now() - t0).count();
    t0 = clock_type::now();
    {
      ProfilerScope on(prof);
      for (int64_t s = 0; s < per_round; ++s) trainer.train_step(next_rows(), &correct);
    }
    const double b = std::chrono::duration<double>(clock_type::now() - t0).count();
    plain_s += a;
    profiled_s += b;
    ratios.push_back(b / a);
  }
  std::sort(ratios.begin(), ratios.end());
  const double overhead_measured = 100 * (ratios[ratios.size() / 2] - 1);
  const int64_t profiled_steps = kRounds * per_round;
  const double events_per_step = static_cast<double>(prof.events().size()) / static_cast<double>(profiled_steps);
  const double scope_ns = profiler_scope_cost_ns();
  const StepProfile p = summarize_profile(prof.events(), profiled_steps, model.layers().size());
  const double overhead_bound = 100 * events_per_step * scope_ns * 1e-6 / p.step_ms;
  const StepWork w = step_work(model, B, optimizer_state_slots(tc.optim));

  if (!trace_file.empty()) {
    // The events of the first trace_steps steps: everything up to the end of that many steps.
    std::vector<ProfileEvent> steps_ev;
    for (const ProfileEvent& e : prof.events())
      if (e.phase == Phase::Step) steps_ev.push_back(e);
    std::sort(steps_ev.begin(), steps_ev.end(), [](auto& a, auto& b) { return a.t0_ns < b.t0_ns; });
    const size_t keep = std::min<size_t>(static_cast<size_t>(trace_steps), steps_ev.size());
    const int64_t end = keep ? steps_ev[keep - 1].t1_ns : 0;
    std::vector<ProfileEvent> ev;
    for (const ProfileEvent& e : prof.events())
      if (e.t1_ns <= end) ev.push_back(e);
    std::vector<std::string> names;
    for (const auto& l : model.layers()) names.push_back(l->spec());
    const nlohmann::ordered_json meta = {{"command", command}, {"host", ctx.host}, {"date", ctx.date},
                                         {"model", model.spec()}, {"batch_size", B}, {"threads", threads}};
    write_file_atomic(trace_file, report::chrome_trace(ev, names, meta).dump() + "\n");
    if (!quiet) std::fprintf(stderr, "profile: wrote %s (%zu steps, %zu events)\n", trace_file.c_str(), keep, ev.size());
  }

  report::ProfileReport rep;
  rep.command = command;
  rep.ctx = ctx;
  rep.model_spec = model.spec();
  rep.backend = std::string(model.ops().name);
  rep.batch = B;
  rep.threads = threads;
  rep.warmup_steps = warmup;
  rep.profiled_steps = profiled_steps;
  rep.step_ms = p.step_ms;
  rep.unprofiled_step_ms = 1e3 * plain_s / static_cast<double>(profiled_steps);
  rep.rounds = kRounds;
  rep.overhead_measured_percent = overhead_measured;
  rep.overhead_bound_percent = overhead_bound;
  rep.events_per_step = events_per_step;
  rep.ns_per_event = scope_ns;
  rep.peak = peak;
  rep.rows = report::profile_rows(p, w, model);
  if (json) print_json(report::profile_json(rep));
  else std::fputs(report::profile_text(rep).c_str(), stdout);
  return 0;
}

}  // namespace batchscope::cli
