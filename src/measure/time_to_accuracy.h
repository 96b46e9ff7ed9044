// Time to accuracy per batch size: every batch size trains from the same initialisation, with
// its learning rate scaled from a base batch (linear, square root or not at all) after a linear
// warm-up, until the test accuracy, checked every so many images, reaches the target or a
// budget runs out. Only training steps count towards the time; evaluation and the gradient
// noise probes that run at every check are timed apart. The noise probe feeds the critical
// batch size estimate B_simple (noise_scale.h) printed beside the accuracy curve.
//   TtaConfig c; c.target = 0.99; c.batches = {32, 64, 128};
//   TtaResult r = run_time_to_accuracy(c, train, test, on_check);
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "batchscope/idx.h"
#include "analysis/noise_scale.h"
#include "batchscope/optimizer.h"
#include "kernels/kernels.h"

namespace batchscope {

enum class LrScaling { Linear, Sqrt, None };
LrScaling parse_lr_scaling(const std::string& s);  // UsageError naming --lr-scaling
std::string to_string(LrScaling s);

struct TtaConfig {
  std::string model = "mnist-cnn";
  std::vector<int64_t> batches;
  double target = 0.99;
  LrScaling scaling = LrScaling::Sqrt;
  OptimizerKind optimizer = OptimizerKind::Adam;  // or SGD with Nesterov momentum 0.9
  double base_lr = 0.002;   // learning rate at base_batch
  int64_t base_batch = 64;
  double max_lr = 0.4;      // cap on the scaled rate, which diverges beyond it
  int64_t warmup_images = 4096;   // linear warm-up over this many images (at least one step)
  double max_epochs = 1.1;        // budget in epochs, also the schedule's horizon
  // Cosine (after the warm-up above) or OneCycle (its own warm-up: warmup_images is unused).
  ScheduleConfig schedule = {.kind = ScheduleKind::Cosine};
  double beta1 = 0.9, beta2 = 0.999;  // Adam
  std::string recipe;                 // the recipe these settings came from, "" if none
  double max_seconds = 120;       // budget in training seconds per batch size
  int64_t check_every_images = 6000;
  int64_t noise_b_small = 16, noise_micro_batches = 16;  // probe: 16 x 16 images per check
  // At the first check whose test accuracy reaches noise_accuracy (a level every batch size
  // passes on its way, so their noise scales compare at the same point; < 0 means target -
  // 0.005), or at the last check if none does: this many further probes on fresh rows at the
  // same parameters, whose spread gives B_simple's uncertainty (noise_scale_interval).
  // 0 skips them.
  int64_t noise_repeats = 16;
  double noise_accuracy = -1;
  uint64_t seed = 1;
  const kernels::OpTable* ops = &kernels::ops(kernels::Backend::OneDnn);  // the kernel variant
};

struct TtaCheck {
  int64_t steps = 0, images = 0;
  double epochs = 0, train_seconds = 0;
  double test_accuracy = 0, test_loss = 0;
  double b_simple = 0;  // smoothed estimate so far; NaN while it has no signal
};

struct TtaRun {
  int64_t batch = 0;
  double lr = 0;
  int64_t warmup_steps = 0;
  bool reached = false;
  TtaCheck at_target;         // the first check at or above the target (if reached)
  std::vector<TtaCheck> checks;
  double best_accuracy = 0;
  double eval_seconds = 0, probe_seconds = 0;  // spent outside the training time
  std::string stopped_by;     // "target", "epochs", "seconds", or the divergence message
  // B_simple from noise_repeats probes at one check's parameters (see TtaConfig::noise_accuracy),
  // with its bootstrap interval; samples == 0 when none ran (a diverged run, or noise_repeats 0).
  NoiseScaleInterval noise_repeated;
  TtaCheck noise_check;  // the check those probes ran at
};

struct TtaResult {
  std::vector<TtaRun> runs;
  int best = -1;  // index of the run that reached the target in the least training time
};

double scaled_lr(const TtaConfig& c, int64_t batch);
double noise_accuracy(const TtaConfig& c);  // c.noise_accuracy, or target - 0.005 where that is < 0

using TtaCheckFn = std::function<void(const TtaRun&, const TtaCheck&)>;
TtaResult run_time_to_accuracy(const TtaConfig& c, const Dataset& train, const Dataset& test,
                               const TtaCheckFn& on_check = {});

}  // namespace batchscope
