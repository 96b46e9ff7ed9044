// The batch-size sweep's measurement: for each batch size a fresh model and trainer, untimed
// warm-up steps, then timed full training steps (batch fill, forward, loss, backward, update)
// over a fixed image budget (the epoch time extrapolated from it) or over whole epochs, with
// the step profiler on so every row also says where its time went.
//   SweepResult r = run_sweep(cfg, train_set, [](const SweepRow& row) { ... });
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "batchscope/idx.h"
#include "batchscope/trainer.h"
#include "kernels/kernels.h"
#include "analysis/noise_scale.h"
#include "measure/step_profile.h"
#include "analysis/step_work.h"

namespace batchscope {

struct SweepConfig {
  std::string model = "mnist-cnn";
  std::vector<int64_t> batches;
  int64_t images = 8192;     // images timed per batch size (budget mode)
  int64_t epochs = 0;        // > 0: time this many real epochs instead of the budget
  int64_t warmup_steps = -1; // -1: max(3, ceil(256/B))
  uint64_t seed = 1;
  const kernels::OpTable* ops = &kernels::ops(kernels::Backend::OneDnn);  // the kernel variant
  // Data parallel: this process is rank `rank` of `ranks`, every step's gradient summed over
  // them with `allreduce` (Trainer::set_data_parallel); every rank runs the same sweep. A
  // batch size that `ranks` does not divide is skipped (SweepResult::skipped).
  int rank = 0, ranks = 1;
  int threads_per_rank = 1;  // recorded in the rows
  Trainer::Allreduce allreduce;
};

struct SweepRow {
  int64_t batch = 0, iterations_per_epoch = 0, warmup_steps = 0, steps = 0, images = 0;
  bool extrapolated = true;  // epoch time from the budget, not from timing whole epochs
  double lr = 0, seconds = 0, ms_per_iteration = 0, images_per_second = 0, seconds_per_epoch = 0;
  double gflops = 0;         // trained-image FLOPs (3 × forward) per second
  StepProfile profile;       // mean times per step, over the timed steps
  StepWork work;             // FLOPs and bytes of one step at this batch
  int ranks = 1, threads_per_rank = 1;  // the global batch split over `ranks` processes
  // ranks > 1: the gradient noise scale from the ranks' shard gradients over the timed steps,
  // and what measuring their norms cost per step (inside the step's "other" time).
  NoiseScaleInterval noise;
  double noise_ms_per_step = 0;
};

struct SweepResult {
  std::string model, spec, backend;
  int64_t parameters = 0;
  int64_t macs_per_image = 0;
  double mflop_trained = 0;   // per image: forward, backward-data and backward-weights
  int64_t epoch_images = 0;   // N
  int64_t images_budget = 0;  // SweepConfig::images
  int64_t epochs = 0;         // SweepConfig::epochs
  int optimizer_slots = 0;
  std::vector<std::string> layer_specs;
  std::vector<SweepRow> rows;
  std::vector<int64_t> skipped;  // batch sizes the ranks do not divide
};

SweepResult run_sweep(const SweepConfig& cfg, const Dataset& train,
                      const std::function<void(const SweepRow&)>& on_row = {});

// Least-squares line t(B) = fixed + per_image·B through per-step times measured at several
// batch sizes (the cost model of one piece of the step), fitted as the epoch cost model is:
// lines fitted to the pieces of a step add up to the line fitted to the whole step.
struct StepLine {
  double fixed = 0, per_image = 0;
};
StepLine fit_step_line(const std::vector<int64_t>& batches, const std::vector<double>& step_seconds);

}  // namespace batchscope
