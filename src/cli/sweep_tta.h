// `batchscope sweep --target-accuracy A`: the flags, the run and its report (table, curve with
// the critical batch size, and with --out tta.md, tta.csv, tta.json, time_to_accuracy.svg).
#pragma once
#include <string>

#include "batchscope/idx.h"
#include "cli/flags.h"
#include "measure/sweep.h"
#include "measure/time_to_accuracy.h"

namespace batchscope::cli {

struct TtaOptions {
  double target = 0;  // 0: not asked for
  TtaConfig config;   // batches, model, seed and back-end are filled from the sweep's flags
};

void add_tta_flags(Flags& f);
TtaOptions parse_tta_flags(const Flags& f);
int run_time_to_accuracy(const Flags& f, TtaOptions o, const SweepConfig& sweep, const Dataset& train,
                         const std::string& command, int threads, const std::string& conv_algo);

}  // namespace batchscope::cli
