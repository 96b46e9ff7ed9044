// The report of `batchscope peak`: '#' lines saying what ran where, then one aligned row per
// probe (FMA on one thread and on all, triad bandwidth), or one JSON object.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "measure/peak.h"

namespace batchscope::report {

struct PeakReport {
  std::string command;
  ReportContext ctx;
  PeakResult result;
  std::string onednn_isa;                          // what oneDNN dispatches to here
  std::string variants_offered, variants_missing;  // kernel variants, comma-separated
  std::string cached_in;                           // the cache folder it was stored in; "" if not
};

std::string peak_text(const PeakReport& p);
nlohmann::ordered_json peak_json(const PeakReport& p);

}  // namespace batchscope::report
