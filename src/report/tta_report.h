// The time-to-accuracy report of `sweep --target-accuracy A` (the run is measure/
// time_to_accuracy): the printed text, tta.md, tta.csv, tta.json and time_to_accuracy.svg.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "measure/peak.h"
#include "measure/time_to_accuracy.h"

namespace batchscope::report {

struct TtaReport {
  const TtaResult& result;
  const TtaConfig& config;
  std::string command;
  int threads = 0;
  ReportContext ctx;
  std::string data_name;  // the training images' file
  int64_t train_images = 0;
  std::string engine;  // "conv direct, precision f32, kernels onednn"
};

std::vector<std::string> tta_header(const TtaReport& t);  // "command   ...", "host      ...", ...
std::string tta_text(const TtaReport& t);                  // what `sweep --target-accuracy` prints
std::string tta_markdown(const TtaReport& t);              // tta.md
std::string tta_csv(const TtaResult& r);                   // tta.csv: one row per check
nlohmann::ordered_json tta_json(const TtaReport& t);       // tta.json and --json
std::string tta_chart(const TtaReport& t);                 // time_to_accuracy.svg: test error against time
// B_simple as printed: "-" where the estimate is not a positive finite number.
std::string bsimple_text(double b);

}  // namespace batchscope::report
