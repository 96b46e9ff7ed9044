// A StepProfiler's events over several identical steps, reduced to mean milliseconds per step
// for every step-level phase and every layer's forward, backward-data and backward-weights.
//   StepProfile p = summarize_profile(prof.events(), steps, model.layers().size());
//   p.update_ms / p.step_ms  // the optimizer's share of a step
#pragma once
#include <cstdint>
#include <vector>

#include "core/step_profiler.h"

namespace batchscope {

struct LayerTimes {
  double forward_ms = 0, backward_data_ms = 0, backward_weights_ms = 0;
  double total_ms() const { return forward_ms + backward_data_ms + backward_weights_ms; }
};

struct StepProfile {
  int64_t steps = 0;
  double step_ms = 0;
  double data_ms = 0, forward_ms = 0, loss_ms = 0, backward_ms = 0, zero_grad_ms = 0, update_ms = 0;
  double comm_ms = 0;  // the gradient allreduce of data-parallel ranks (0 in one process)
  // Step time outside the phases above (reshape checks, the schedule, the profiler itself).
  double other_ms() const {
    return step_ms - data_ms - forward_ms - loss_ms - backward_ms - zero_grad_ms - update_ms - comm_ms;
  }
  std::vector<LayerTimes> layers;  // [layer index]
};

// steps: how many steps the events cover (each step's events once). A layer's backward-data
// time is its whole backward less its backward-weights part, so layers without parameters
// (ReLU, max-pool) count entirely as backward-data.
StepProfile summarize_profile(const std::vector<ProfileEvent>& events, int64_t steps,
                              size_t num_layers);

// Nanoseconds one TimedScope costs with a profiler active (the mean of 100000): the
// instrumentation's own price, which bounds the profiler's overhead from below.
double profiler_scope_cost_ns();

}  // namespace batchscope
