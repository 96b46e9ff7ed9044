// The report of `batchscope profile`: one row per layer and phase (and the step's own phases)
// with ms per step, FLOPs, compulsory bytes, GFLOP/s, GB/s, % of peak and the roofline bound,
// as the printed table or one JSON object.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "analysis/step_work.h"
#include "batchscope/model.h"
#include "measure/peak.h"
#include "measure/peak_cache.h"
#include "measure/step_profile.h"

namespace batchscope::report {

struct ProfileRow {
  std::string layer, phase;  // "2 conv2d", "backward-weights"; "-" for the step's own phases
  double ms = 0;             // per step
  Work work;
};

// The rows in step order; layers that run fused, folded or as views say so, with no time.
std::vector<ProfileRow> profile_rows(const StepProfile& p, const StepWork& w, const Model& m);

struct ProfileReport {
  std::string command;
  ReportContext ctx;
  std::string model_spec, backend;
  int64_t batch = 0;
  int threads = 0;
  int64_t warmup_steps = 0, profiled_steps = 0;  // as many again ran unprofiled
  double step_ms = 0, unprofiled_step_ms = 0;
  int rounds = 0;  // paired rounds behind the measured overhead
  double overhead_measured_percent = 0, overhead_bound_percent = 0;
  double events_per_step = 0, ns_per_event = 0;
  RooflinePeak peak;
  std::vector<ProfileRow> rows;
};

std::string profile_text(const ProfileReport& r);
nlohmann::ordered_json profile_json(const ProfileReport& r);

}  // namespace batchscope::report
