// The batch-size sweep as a report: the seed's table with phase shares and % of peak, the
// cost model and its generated explanation, the peers side by side, and the files --out
// writes (sweep.md, sweep.csv, sweep.json, epoch_time.svg, phase_shares.svg).
//   SweepReport rep{...};
//   const SweepAnalysis an = analyse_sweep(rep);
//   std::fputs(sweep_text(rep, an).c_str(), stdout);
//   write_sweep_files("out", rep, an);
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/comm_cost.h"
#include "analysis/cost_model.h"
#include "measure/peak.h"
#include "measure/peak_cache.h"
#include "measure/sweep.h"

namespace batchscope::report {

// Another implementation timed over the same batch sizes (python/numpy_cnn.py, torch_cnn.py).
struct PeerRow {
  int64_t batch = 0, images = 0;
  double ms_per_iteration = 0, images_per_second = 0, seconds_per_epoch = 0;
};
struct PeerRun {
  std::string peer;     // "numpy" or "torch"
  bool ran = false;
  std::string note;     // why it was skipped, or its version
  std::vector<PeerRow> rows;
};

// The sweep at one rank count (sweep --ranks): R processes, each of threads_per_rank threads,
// every step's global batch split into R shards and the gradient allreduced.
struct RankRun {
  int ranks = 1, threads_per_rank = 1;
  bool ran = false;
  std::string note;  // why it did not run, or how it was launched
  std::vector<SweepRow> rows;
  std::vector<int64_t> skipped;           // batch sizes R does not divide
  std::vector<AllreducePoint> probe;      // ranks > 1: MPI_Allreduce timed per message size
  AllreduceFit fit;                       // alpha + beta * bytes through the probe
  int64_t gradient_bytes = 0;             // what each step allreduces
};

struct SweepReport {
  std::string command;
  ReportContext ctx;
  int threads = 0;
  std::string conv_algo, data_name;
  std::string recipe;  // --recipe, "" if none
  int64_t image_h = 0, image_w = 0;
  SweepResult sweep;
  RooflinePeak peak;
  double fork_join_us = 0;  // measured empty parallel region
  std::vector<PeerRun> peers;
  std::vector<RankRun> rank_runs;  // empty unless sweep --ranks (or under mpirun)
};

// What the rank counts say: per R the step's cost model t_step = a + T_allreduce + b*B/R
// (a and b fitted on the step time less its measured comm phase, over the shard size B/R;
// T_allreduce from the probe's fit at the gradient's size), and where communication falls
// under 10% of a step.
struct RankLine {
  int ranks = 1, threads_per_rank = 1;
  StepLine compute;                 // a (fixed) and b (per image of a shard), seconds
  double allreduce_seconds = 0;     // T_allreduce, from the probe; 0 for one rank
  // Smallest global batch (a multiple of R) at which the modelled comm share is under 10%;
  // 0 if it never is (or one rank).
  int64_t batch_comm_under_10pct = 0;
};
struct RanksAnalysis {
  bool present = false;  // some run with more than one rank ran
  std::vector<RankLine> lines;
  std::vector<std::string> explanation;
};

struct SweepAnalysis {
  bool have_fit = false;
  CostModelFit fit;
  double floor_seconds = 0;          // N·b
  double compute_floor_seconds = 0;  // N · FLOPs per image / measured peak
  std::vector<std::string> explanation;  // paragraphs, every figure from this run
  RanksAnalysis ranks;
};

SweepAnalysis analyse_sweep(const SweepReport& r);

// One row of sweep.json's "results", and back: how `sweep --ranks` reads the rows of the
// sweeps it launches under mpirun (every field the report uses; not the step's work counts).
nlohmann::ordered_json row_json(const SweepReport& r, const SweepRow& row);
SweepRow row_from_json(const nlohmann::json& j);

std::string sweep_text(const SweepReport& r, const SweepAnalysis& a);      // the terminal report
std::string sweep_markdown(const SweepReport& r, const SweepAnalysis& a);  // sweep.md
std::string sweep_csv(const SweepReport& r);                               // one row per (source, batch)
nlohmann::ordered_json sweep_json(const SweepReport& r, const SweepAnalysis& a);
std::string epoch_time_svg(const SweepReport& r, const SweepAnalysis& a);
std::string phase_shares_svg(const SweepReport& r);

// Creates `dir` if needed and writes the five files atomically; returns their paths.
std::vector<std::filesystem::path> write_sweep_files(const std::filesystem::path& dir,
                                                     const SweepReport& r, const SweepAnalysis& a);

// The share of a row's step in each phase, in percent: data, forward (with the loss),
// backward, update (with zeroing the gradients), comm (the ranks' allreduce), and the rest.
struct PhaseShares {
  double data = 0, forward = 0, backward = 0, update = 0, comm = 0, other = 0;
};
PhaseShares phase_shares(const StepProfile& p);

}  // namespace batchscope::report
