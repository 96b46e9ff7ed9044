// The thread-local active profiler behind TimedScope, and phase names for reports.
#include "core/step_profiler.h"

namespace batchscope {

namespace {
thread_local StepProfiler* g_active = nullptr;
}  // namespace

std::string_view phase_name(Phase p) {
  switch (p) {
    case Phase::Step: return "step";
    case Phase::Data: return "data";
    case Phase::Forward: return "forward";
    case Phase::Loss: return "loss";
    case Phase::Backward: return "backward";
    case Phase::BackwardData: return "backward-data";
    case Phase::BackwardWeights: return "backward-weights";
    case Phase::ZeroGrad: return "zero-grad";
    case Phase::Update: return "update";
    case Phase::Comm: return "comm";
  }
  return "?";
}

StepProfiler* active_profiler() { return g_active; }

ProfilerScope::ProfilerScope(StepProfiler& p) : prev_(g_active) { g_active = &p; }
ProfilerScope::~ProfilerScope() { g_active = prev_; }

}  // namespace batchscope
