// Chrome trace-event JSON (the format Perfetto and chrome://tracing open) from step profiler
// events: one complete ("X") event per step, per step-level phase and per layer and phase,
// all on one thread track so the viewer nests them by time.
//   write_file_atomic("step.json", chrome_trace(prof.events(), layer_names, meta).dump());
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/step_profiler.h"

namespace batchscope::report {

// layer_names[i] labels layer i (e.g. "conv2d:32:3"); metadata goes to "otherData".
nlohmann::ordered_json chrome_trace(const std::vector<ProfileEvent>& events,
                                    const std::vector<std::string>& layer_names,
                                    const nlohmann::ordered_json& metadata);

}  // namespace batchscope::report
