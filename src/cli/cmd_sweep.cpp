// `batchscope sweep`: training speed per batch size, and why it flattens. For each size a fresh
// model and trainer run a warm-up, then full training steps over a fixed image budget (or whole
// epochs) with the step profiler on; the report gives the seed's table with phase shares and
// % of peak, the fitted cost model with its explanation, optionally the NumPy and PyTorch peers
// side by side, and with --out the Markdown, CSV, JSON and SVG files. --target-accuracy trains
// every size to an accuracy instead (sweep_tta.cpp).
// --ranks 1,2 also times data-parallel steps at 2 ranks (launching mpirun), and run under
// mpirun -np R the sweep measures R ranks itself (rank 0 reports).
//   batchscope sweep --batch-sizes 1,8,64 --images 4096 --out report [--compare numpy,torch]
//   batchscope sweep --ranks 1,2 --batch-sizes 16,64,256
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "batchscope/error.h"
#include "batchscope/recipe.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/peers.h"
#include "cli/sweep_ranks.h"
#include "cli/sweep_tta.h"
#include "dist/allreduce_probe.h"
#include "dist/comm.h"
#include "kernels/kernels.h"
#include "report/sweep_report.h"
#include "measure/peak_cache.h"
#include "measure/sweep.h"
#include "measure/sync_cost.h"

namespace batchscope::cli {

namespace {

// "1,4,8" → {1, 4, 8}: positive integers, no duplicates, kept in the order given.
std::vector<int64_t> parse_batch_sizes(const std::string& s) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (true) {
    const size_t comma = s.find(',', start);
    const std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || ptr != item.data() + item.size())
      throw UsageError("--batch-sizes: '" + item + "' in '" + s +
                       "' is not a positive integer; expected a comma-separated list like 1,8,64");
    if (v < 1)
      throw UsageError("--batch-sizes: " + item + " is out of range; batch sizes are at least 1");
    if (std::find(out.begin(), out.end(), v) != out.end())
      throw UsageError("--batch-sizes: " + item + " is listed twice");
    out.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

int cmd_sweep(int argc, char** argv) {
  Flags f("sweep", "[flags]",
          "Times training steps per batch size: for each size a fresh model and trainer, a warm-up,\n"
          "then --images images of full steps (batch fill, forward, loss, backward, SGD update) with\n"
          "the step profiler on; no evaluation. An epoch is the training set with its last partial\n"
          "batch dropped. Fits t_epoch(B) = N*(a/B + b) and explains it from the measured pieces.\n"
          "With --target-accuracy, trains every batch size to that test accuracy instead.");
  add_data_flags(f, /*with_train=*/true);
  f.add("model", "mnist-cnn", "preset name (see 'batchscope models') or a layer spec string");
  f.add("batch-sizes", "1,4,8,16,32,64,128,256", "comma-separated batch sizes");
  f.add("images", "8192", "images timed per batch size (at least one step); epoch times are extrapolated");
  f.add("epochs", "0", "time this many whole epochs per batch size instead of --images (0: use --images)");
  f.add("warmup-steps", "auto", "untimed steps first; auto = max(3, ceil(256/B))");
  f.add("seed", "1", "seed for initialisation and shuffling");
  f.add("out", "none", "folder for sweep.md, sweep.csv, sweep.json, epoch_time.svg, phase_shares.svg");
  f.add("peak", "auto", "roofline: auto (cached by 'batchscope peak' or an earlier run, if under a week old), measure, or GFLOPS:GBS");
  f.add("compare", "none", "also time these peers over the same batch sizes: numpy, torch or numpy,torch");
  f.add("compare-images", "1024", "images timed per batch size for each peer");
  f.add("peers-dir", "auto", "folder with numpy_cnn.py and torch_cnn.py (auto: python/ beside the build folder)");
  f.add("python", "auto", "Python interpreter for the peers (auto: the system python3)");
  f.add("ranks", "auto", "rank counts to time, e.g. 1,2: more than one launches mpirun -np R for each, "
                         "splitting --threads over the ranks (auto: this process's MPI world, 1 without mpirun)");
  f.add("mpirun", "auto", "the MPI launcher for --ranks (auto: the one this build found)");
  f.add("mpirun-args", "--bind-to none", "extra launcher flags for --ranks, split at spaces (e.g. '--hostfile hosts')");
  add_tta_flags(f);
  f.add("recipe", "none", "a recipe (batchscope models): its model and batch size, and with --target-accuracy its "
                          "optimizer, learning rate (as --base-lr at its batch), schedule and epochs (as --max-epochs), "
                          "become the defaults; flags given override each");
  add_compute_flags(f, "direct when timing steps (the FLOPs the report counts); with "
                       "--target-accuracy the fastest this CPU runs (winograd on AVX-512: fewer "
                       "multiplications, same accuracy, faster wall time)");
  f.add_bool("json", "print one JSON object with the results on stdout");
  f.add_bool("quiet", "no progress lines on stderr");
  if (!f.parse(argc, argv)) return 0;
  if (!f.positional().empty())
    throw UsageError("batchscope sweep: unexpected argument '" + f.positional()[0] + "'");

  // A recipe's batch size is the sweep's single batch, its learning rate the one at that batch,
  // its epochs the budget (and so the schedule's horizon).
  if (f.str("recipe") != "none" && !f.given("base-batch")) f.set_default("base-batch", find_recipe(f.str("recipe")).get("batch_size"));
  const std::string recipe = apply_recipe(f, {{"batch_size", "batch-sizes"}, {"lr", "base-lr"}, {"epochs", "max-epochs"}});
  SweepConfig cfg;
  cfg.model = f.str("model");
  cfg.batches = parse_batch_sizes(f.str("batch-sizes"));
  cfg.images = f.i64("images", 1, int64_t{1} << 40);
  cfg.epochs = f.i64("epochs", 0, 1000);
  cfg.warmup_steps = f.str("warmup-steps") == "auto" ? -1 : f.i64("warmup-steps", 0, int64_t{1} << 40);
  cfg.seed = static_cast<uint64_t>(f.i64("seed", 0, INT64_MAX));
  const PeakChoice peak_choice = parse_peak_choice(f.str("peak"));
  const std::vector<std::string> peers =
      f.str("compare") == "none" ? std::vector<std::string>{} : parse_peer_list(f.str("compare"));
  const int64_t compare_images = f.i64("compare-images", 1, int64_t{1} << 30);
  const std::string out_dir = f.str("out") == "none" ? "" : f.str("out");
  TtaOptions tta = parse_tta_flags(f);
  tta.config.recipe = recipe;
  const Compute compute = apply_compute_flags(f, tta.target > 0 ? "fastest" : "direct");
  const int threads = compute.threads;
  cfg.ops = compute.ops;
  const std::string conv_algo(kernels::to_string(compute.ops->conv_algo));
  const dist::World& world = dist::world();
  const bool lead = world.rank == 0;
  // Ranks other than 0 measure alongside it and stay silent.
  const bool json = f.boolean("json") && lead, quiet = f.boolean("quiet") || !lead;
  const std::vector<int> ranks = f.str("ranks") == "auto" ? std::vector<int>{world.size} : parse_rank_counts(f.str("ranks"));
  const bool launch = !world.parallel() && ranks != std::vector<int>{1};
  if (world.parallel()) {
    if (ranks != std::vector<int>{world.size})
      throw UsageError("--ranks: under mpirun -np " + std::to_string(world.size) + " this sweep measures " +
                       std::to_string(world.size) + " ranks; to compare several counts, run 'batchscope sweep --ranks "
                       "1," + std::to_string(world.size) + "' as one process, which launches mpirun itself");
    if (!peers.empty())
      throw UsageError("--compare: not under mpirun; run 'batchscope sweep --ranks 1," + std::to_string(world.size) +
                       " --compare ...' as one process");
    if (tta.target > 0)
      throw UsageError("--target-accuracy: trains on one process only; run it without mpirun");
    cfg.rank = world.rank;
    cfg.ranks = world.size;
    cfg.allreduce = dist::allreduce_step;
  }
  if (launch) {
    if (std::find(ranks.begin(), ranks.end(), 1) == ranks.end())
      throw UsageError("--ranks: launching from one process needs 1 in the list (the baseline the other counts are "
                       "compared with); to time only " + std::to_string(ranks[0]) + " ranks, run 'mpirun -np " +
                       std::to_string(ranks[0]) + " batchscope sweep'");
    if (tta.target > 0) throw UsageError("--ranks: not with --target-accuracy (that trains on one process)");
    if (default_mpirun().empty() && f.str("mpirun") == "auto")
      throw UsageError("--ranks: this build has no MPI support (install libopenmpi-dev and rebuild); expected --ranks 1");
  }
  cfg.threads_per_rank = threads;

  if (!out_dir.empty() && lead) {
    // Before the long measurement, not after it: a bad --out must not cost the run.
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec || !std::filesystem::is_directory(out_dir) || ::access(out_dir.c_str(), W_OK) != 0)
      throw UsageError("--out: '" + out_dir + "' is not a folder this user can write to" +
                       (ec ? " (" + ec.message() + ")" : std::string()));
  }
  const Dataset train = load_train_set(f);
  for (int64_t b : cfg.batches)
    if (b > train.images.n)
      throw UsageError("--batch-sizes: " + std::to_string(b) + " is larger than the training set (" +
                       std::to_string(train.images.n) + " images)");
  std::string command = "batchscope sweep";
  for (int i = 0; i < argc; ++i) command += std::string(" ") + argv[i];
  if (world.parallel()) {
    // Before the first collective of the steps: the same sweep on the same data everywhere.
    std::string batches;
    for (int64_t b : cfg.batches) batches += std::to_string(b) + ",";
    dist::check_ranks_agree({{"model (--model)", cfg.model},
                             {"batch sizes (--batch-sizes)", batches},
                             {"timing (--images, --epochs, --warmup-steps)", std::to_string(cfg.images) + " " +
                                  std::to_string(cfg.epochs) + " " + std::to_string(cfg.warmup_steps)},
                             {"seed (--seed)", std::to_string(cfg.seed)},
                             {"kernel variant (--backend, --conv-algo, --precision)", std::string(cfg.ops->name)},
                             {"training data (--data, --train-images, --train-labels)",
                              std::to_string(train.images.n) + " " + std::to_string(dataset_fingerprint(train))}});
  }
  if (tta.target > 0) return run_time_to_accuracy(f, tta, cfg, train, command, threads, conv_algo);

  report::SweepReport rep;
  rep.command = command;
  rep.ctx = report_context();
  rep.threads = threads;
  rep.conv_algo = conv_algo;
  rep.data_name = train.name;
  rep.image_h = train.images.h;
  rep.image_w = train.images.w;
  rep.recipe = recipe;
  if (!quiet) std::fprintf(stderr, "sweep: roofline (%s)\n", peak_choice.policy == PeakPolicy::Measure ? "measuring" : "cached, given or measured");
  // Under mpirun rank 0 alone probes (for all the ranks' cores) while the others wait.
  if (lead) {
    rep.peak = peak_for_report(threads * world.size, peak_choice);
    rep.fork_join_us = measure_fork_join_us();
  }
  dist::barrier();
  rep.sweep = run_sweep(cfg, train, [&](const SweepRow& r) {
    if (quiet) return;
    std::fprintf(stderr, "sweep: batch %lld: %lld steps (%lld images) in %.2f s, %.1f img/s, %.3f ms/it\n",
                 static_cast<long long>(r.batch), static_cast<long long>(r.steps),
                 static_cast<long long>(r.images), r.seconds, r.images_per_second, r.ms_per_iteration);
    std::fflush(stderr);
  });
  rep.sweep.model = cfg.model;
  if (world.parallel()) {
    // Every rank joins the probe; rank 0 reports it.
    report::RankRun run;
    run.ranks = world.size;
    run.threads_per_rank = threads;
    run.ran = true;
    run.note = "this run, under mpirun -np " + std::to_string(world.size);
    run.rows = rep.sweep.rows;
    run.skipped = rep.sweep.skipped;
    run.gradient_bytes = 4 * rep.sweep.parameters;
    if (!quiet) std::fprintf(stderr, "sweep: timing the allreduce over %d ranks\n", world.size);
    run.probe = dist::probe_allreduce(dist::probe_sizes(run.gradient_bytes));
    run.fit = fit_allreduce(run.probe);
    if (!lead) return 0;
    rep.rank_runs.push_back(run);
  }
  if (launch) {
    report::RankRun one;
    one.ranks = 1;
    one.threads_per_rank = threads;
    one.ran = !rep.sweep.rows.empty();
    one.note = "this process";
    one.rows = rep.sweep.rows;
    rep.rank_runs.push_back(one);
    RankLaunch lo;
    lo.mpirun = f.str("mpirun") == "auto" ? default_mpirun() : f.str("mpirun");
    for (size_t at = 0; at < f.str("mpirun-args").size();) {
      const std::string& s = f.str("mpirun-args");
      const size_t end = std::min(s.find(' ', at), s.size());
      if (end > at) lo.mpirun_args.push_back(s.substr(at, end - at));
      at = end + 1;
    }
    const std::vector<std::string> own = {"ranks", "mpirun", "mpirun-args", "out", "json", "quiet", "compare",
                                          "compare-images", "peers-dir", "python", "threads", "peak", "batch-sizes"};
    for (const auto& [name, value] : f.given_values())
      if (std::find(own.begin(), own.end(), name) == own.end()) lo.flags.emplace_back(name, value);
    lo.batches = cfg.batches;
    lo.total_threads = threads;
    lo.peak_gflops = rep.peak.peak.gflops_all;
    lo.peak_gbs = rep.peak.peak.triad_gbs;
    lo.quiet = quiet;
    for (int r : ranks) {
      if (r == 1) continue;
      rep.rank_runs.push_back(launch_rank_sweep(r, lo));
      const report::RankRun& got = rep.rank_runs.back();
      if (!quiet)
        for (const SweepRow& row : got.rows)
          std::fprintf(stderr, "sweep: batch %lld on %d ranks x %d thread(s): %.1f img/s, %.3f ms/it, comm %.3f ms\n",
                       static_cast<long long>(row.batch), got.ranks, got.threads_per_rank, row.images_per_second,
                       row.ms_per_iteration, row.profile.comm_ms);
    }
  }

  PeerOptions po;
  po.python = f.str("python") == "auto" ? default_python() : f.str("python");
  po.script_dir = f.str("peers-dir") == "auto" ? default_peer_dir() : std::filesystem::path(f.str("peers-dir"));
  po.threads = threads;
  po.images = compare_images;
  po.batches = cfg.batches;
  po.quiet = quiet;
  for (const std::string& p : peers) {
    if (cfg.model != "mnist-cnn") {
      rep.peers.push_back({p, false, "skipped: the peers implement mnist-cnn only", {}});
      continue;
    }
    rep.peers.push_back(run_peer(p, po));
  }

  const report::SweepAnalysis an = report::analyse_sweep(rep);
  if (json)
    print_json(report::sweep_json(rep, an));
  else
    std::fputs(report::sweep_text(rep, an).c_str(), stdout);
  if (!out_dir.empty()) {
    for (const auto& p : report::write_sweep_files(out_dir, rep, an))
      if (!quiet) std::fprintf(stderr, "sweep: wrote %s\n", p.string().c_str());
  }
  return 0;
}

}  // namespace batchscope::cli
