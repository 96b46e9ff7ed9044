// Profiler events → Chrome trace-event JSON (see chrome_trace.h).
#include "report/chrome_trace.h"

#include <algorithm>

namespace batchscope::report {

nlohmann::ordered_json chrome_trace(const std::vector<ProfileEvent>& events,
                                    const std::vector<std::string>& layer_names,
                                    const nlohmann::ordered_json& metadata) {
  std::vector<ProfileEvent> ev = events;
  // Parents before children: by start time, then outermost first.
  std::sort(ev.begin(), ev.end(), [](const ProfileEvent& a, const ProfileEvent& b) {
    return a.t0_ns != b.t0_ns ? a.t0_ns < b.t0_ns : a.depth < b.depth;
  });
  const int64_t origin = ev.empty() ? 0 : ev.front().t0_ns;
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  out.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", 1}, {"tid", 1},
                 {"args", {{"name", "training steps"}}}});
  int64_t step = -1;
  for (const ProfileEvent& e : ev) {
    const std::string phase(phase_name(e.phase));
    std::string name;
    nlohmann::ordered_json args = {{"phase", phase}};
    if (e.phase == Phase::Step) {
      ++step;
      name = "step " + std::to_string(step);
    } else if (e.layer >= 0) {
      const std::string layer = static_cast<size_t>(e.layer) < layer_names.size()
                                    ? layer_names[static_cast<size_t>(e.layer)]
                                    : "layer";
      name = layer + " " + phase;
      args["layer"] = e.layer;
    } else {
      name = phase;
    }
    args["step"] = step;
    // Microseconds, as the format wants; fractions keep the nanosecond resolution.
    out.push_back({{"name", name},
                   {"cat", e.layer >= 0 ? "layer" : "step"},
                   {"ph", "X"},
                   {"ts", static_cast<double>(e.t0_ns - origin) * 1e-3},
                   {"dur", static_cast<double>(e.t1_ns - e.t0_ns) * 1e-3},
                   {"pid", 1},
                   {"tid", 1},
                   {"args", args}});
  }
  return {{"traceEvents", out}, {"displayTimeUnit", "ms"}, {"otherData", metadata}};
}

}  // namespace batchscope::report
