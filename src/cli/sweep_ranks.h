// `sweep --ranks 1,2`: the sweep at several rank counts. One rank runs in this process; for
// each larger count R this launches `mpirun -np R batchscope sweep ... --json` (the sweep
// run under mpirun measures data-parallel steps, see cmd_sweep.cpp) with the same flags, R
// times fewer threads per rank and the batch sizes R divides, and reads its rows back.
//   RankRun run = launch_rank_sweep(2, opts);
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "report/sweep_report.h"

namespace batchscope::cli {

// "1,2,4" → {1, 2, 4}: positive, no duplicates; UsageError naming --ranks otherwise.
std::vector<int> parse_rank_counts(const std::string& s);

struct RankLaunch {
  std::string mpirun;                    // the launcher
  std::vector<std::string> mpirun_args;  // e.g. --hostfile hosts, --bind-to core
  std::vector<std::pair<std::string, std::string>> flags;  // the sweep's own, passed on
  std::vector<int64_t> batches;
  int total_threads = 1;                 // split over the ranks
  double peak_gflops = 0, peak_gbs = 0;  // the roofline this report uses, passed on
  bool quiet = false;
};

// The MPI launcher this binary was built against, or "mpirun" from PATH; "" without MPI.
std::string default_mpirun();

report::RankRun launch_rank_sweep(int ranks, const RankLaunch& o);

}  // namespace batchscope::cli
