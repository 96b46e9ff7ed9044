// Reduction of profiler events to mean times per step (see step_profile.h).
#include "measure/step_profile.h"

#include <chrono>

#include <algorithm>

namespace batchscope {

StepProfile summarize_profile(const std::vector<ProfileEvent>& events, int64_t steps,
                              size_t num_layers) {
  StepProfile p;
  p.steps = steps;
  p.layers.assign(num_layers, {});
  if (steps <= 0) return p;
  std::vector<double> layer_bwd(num_layers, 0.0);
  const double to_ms = 1e-6 / static_cast<double>(steps);
  for (const ProfileEvent& e : events) {
    const double ms = static_cast<double>(e.t1_ns - e.t0_ns) * to_ms;
    const bool per_layer = e.layer >= 0 && static_cast<size_t>(e.layer) < num_layers;
    if (per_layer) {
      LayerTimes& l = p.layers[static_cast<size_t>(e.layer)];
      switch (e.phase) {
        case Phase::Forward: l.forward_ms += ms; break;
        case Phase::Backward: layer_bwd[static_cast<size_t>(e.layer)] += ms; break;
        case Phase::BackwardWeights: l.backward_weights_ms += ms; break;
        default: break;  // BackwardData is derived below
      }
      continue;
    }
    switch (e.phase) {
      case Phase::Step: p.step_ms += ms; break;
      case Phase::Data: p.data_ms += ms; break;
      case Phase::Forward: p.forward_ms += ms; break;
      case Phase::Loss: p.loss_ms += ms; break;
      case Phase::Backward: p.backward_ms += ms; break;
      case Phase::ZeroGrad: p.zero_grad_ms += ms; break;
      case Phase::Update: p.update_ms += ms; break;
      case Phase::Comm: p.comm_ms += ms; break;
      default: break;
    }
  }
  for (size_t i = 0; i < num_layers; ++i)
    p.layers[i].backward_data_ms = std::max(0.0, layer_bwd[i] - p.layers[i].backward_weights_ms);
  return p;
}

double profiler_scope_cost_ns() {
  StepProfiler p;
  constexpr int kScopes = 100000;
  p.reserve(kScopes);
  ProfilerScope on(p);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kScopes; ++i) TimedScope t(Phase::Forward, 0);
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / kScopes;
}

}  // namespace batchscope
