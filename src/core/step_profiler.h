// Where a training step's time goes: timestamped events per layer and phase, recorded by the
// model and trainer only while a StepProfiler is active on the calling thread. With none
// active (the default) an instrumented scope costs one thread-local load and a branch.
//   StepProfiler prof;
//   ProfilerScope on(prof);              // activate on this thread until the scope ends
//   trainer.train_step(rows, &correct);  // prof.events() now holds this step's events
#pragma once
#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

namespace batchscope {

// Step-level phases (layer = kNoLayer) and per-layer phases. A layer's Backward event
// encloses its BackwardWeights and BackwardData events when it has both.
enum class Phase : uint8_t {
  Step,             // one whole training step
  Data,             // batch fill: gather rows, convert uint8 → normalised float
  Forward,          // all layers' forward (step level) or one layer's
  Loss,             // fused softmax cross-entropy, forward and its gradient
  Backward,         // all layers' backward (step level) or one layer's
  BackwardData,     // a layer's gradient w.r.t. its input
  BackwardWeights,  // a layer's gradient w.r.t. its parameters
  ZeroGrad,         // clearing the gradient buffer before the step
  Update,           // the optimizer step over every parameter
  Comm,             // data parallel: the allreduce of the gradient over all ranks (and the wait for them)
};
std::string_view phase_name(Phase p);

constexpr int32_t kNoLayer = -1;

struct ProfileEvent {
  int64_t t0_ns, t1_ns;  // steady clock
  int32_t layer;         // model layer index, or kNoLayer
  Phase phase;
  uint8_t depth;         // nesting depth when it began: 0 = step
};

class StepProfiler {
 public:
  static int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  // Events in the order they ended (children before their parent).
  const std::vector<ProfileEvent>& events() const { return events_; }
  void clear() { events_.clear(); }
  void reserve(size_t n) { events_.reserve(n); }

  // The layer whose backward is running, so a layer's own scopes need not know its index.
  int32_t current_layer = kNoLayer;
  uint8_t depth = 0;
  void record(const ProfileEvent& e) { events_.push_back(e); }

 private:
  std::vector<ProfileEvent> events_;
};

// The profiler active on this thread, or nullptr.
StepProfiler* active_profiler();

// Makes `p` the active profiler for the lifetime of the scope (restores the previous one).
class ProfilerScope {
 public:
  explicit ProfilerScope(StepProfiler& p);
  ~ProfilerScope();
  ProfilerScope(const ProfilerScope&) = delete;
  ProfilerScope& operator=(const ProfilerScope&) = delete;

 private:
  StepProfiler* prev_;
};

// Times the enclosing scope as one event when a profiler is active. layer = kNoLayer takes
// the profiler's current_layer for per-layer phases (BackwardData, BackwardWeights).
class TimedScope {
 public:
  TimedScope(Phase phase, int32_t layer = kNoLayer) : p_(active_profiler()) {
    if (!p_) return;
    phase_ = phase;
    layer_ = (layer == kNoLayer && (phase == Phase::BackwardData || phase == Phase::BackwardWeights))
                 ? p_->current_layer
                 : layer;
    depth_ = p_->depth++;
    t0_ = StepProfiler::now_ns();
  }
  ~TimedScope() { stop(); }
  // Ends the event before the scope does; later calls do nothing.
  void stop() {
    if (!p_) return;
    p_->record({t0_, StepProfiler::now_ns(), layer_, phase_, depth_});
    --p_->depth;
    p_ = nullptr;
  }
  TimedScope(const TimedScope&) = delete;
  TimedScope& operator=(const TimedScope&) = delete;

 private:
  StepProfiler* p_;
  int64_t t0_ = 0;
  int32_t layer_ = kNoLayer;
  Phase phase_ = Phase::Step;
  uint8_t depth_ = 0;
};

}  // namespace batchscope
