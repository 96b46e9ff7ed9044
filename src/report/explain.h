// The sweep's explanation in plain words, generated from the run's own numbers: what makes up
// the fixed cost per iteration a, what bounds the cost per image b, why the epoch time
// flattens and where, and how the peers' curves compare. Nothing in it is canned.
//   for (const std::string& p : explain_sweep(report, analysis)) std::puts(p.c_str());
#pragma once
#include <string>
#include <vector>

#include "report/sweep_report.h"

namespace batchscope::report {

// Needs a fit with b > 0; paragraphs in reading order.
std::vector<std::string> explain_sweep(const SweepReport& r, const SweepAnalysis& a);

}  // namespace batchscope::report
