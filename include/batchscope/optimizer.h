// Optimizers over the model's flat parameter buffer, and learning-rate schedules.
// Each step is one pass over contiguous memory (at batch 1 the update touches every weight
// once per image, so it must be cheap). Semantics follow torch.optim exactly.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace batchscope {

enum class OptimizerKind { Sgd, Adam };

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::Sgd;
  double lr = 0.05;
  double momentum = 0.9;      // SGD
  bool nesterov = true;       // SGD (the CLI default too; docs/training.md)
  double weight_decay = 0.0;  // L2 added to the gradient (torch.optim's weight_decay)
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // Adam
};

std::string to_string(OptimizerKind k);
OptimizerKind parse_optimizer(const std::string& s);  // UsageError naming --optimizer

// A parameter range whose gradient is not in the gradient buffer but given by its factors:
// grad[r, :] = Σ_b dy[b, r] · x[b, :]  (a dense layer's weight gradient, rank ≤ batch).
// At batch 1 that gradient is 4.7 MB for mnist-cnn's 9216→128 layer; building each row on the
// fly inside the update means it is never written, read back or zeroed.
struct LowRankGrad {
  int64_t offset = 0;            // first element in the flat parameter buffer
  int64_t rows = 0, cols = 0;    // [rows, cols] = [O, I]
  int64_t batch = 0;
  const float* dy = nullptr;     // [batch, rows]
  const float* x = nullptr;      // [batch, cols]
};

// Holds the per-parameter state (momentum buffer; Adam's first and second moments) as
// flat buffers parallel to the parameters.
class Optimizer {
 public:
  Optimizer(const OptimizerConfig& cfg, int64_t num_params);
  // w, g: [num_params]. lr: this step's learning rate (from the schedule). low_rank: ranges
  // (sorted by offset, disjoint) whose gradient comes from factors instead of g.
  void step(float* w, const float* g, double lr, std::span<const LowRankGrad> low_rank = {});

  const OptimizerConfig& config() const { return cfg_; }
  int64_t steps() const { return t_; }
  // State slots for checkpoints: names ("momentum_buffer"; "exp_avg", "exp_avg_sq") and data.
  std::vector<std::pair<std::string, std::vector<float>*>> state();
  void set_steps(int64_t t) { t_ = t; }
  // This step's momentum: SGD's momentum, Adam's beta1 (the one-cycle schedule cycles it, as
  // torch's OneCycleLR does with cycle_momentum).
  void set_momentum(double m);

 private:
  struct Coeffs;
  void update_range(float* w, const float* g, float* m, float* v, int64_t n,
                    const Coeffs& c) const;
  OptimizerConfig cfg_;
  int64_t n_;
  int64_t t_ = 0;
  std::vector<float> m_, v_;
  std::vector<float> dy_packed_;  // scratch: a low-rank gradient's dy in tile order
};

enum class ScheduleKind { Constant, Step, Cosine, OneCycle };

struct ScheduleConfig {
  ScheduleKind kind = ScheduleKind::Constant;
  int64_t warmup_steps = 0;  // linear ramp from lr/warmup to lr over these steps (not OneCycle)
  double step_epochs = 1.0;  // Step: multiply by gamma every step_epochs epochs
  double gamma = 0.1;        // Step
  double min_lr_ratio = 0.0; // Cosine: floor as a fraction of lr
  // OneCycle: torch.optim.lr_scheduler.OneCycleLR with max_lr = the optimizer's lr, two phases
  // and cosine annealing. From lr/div_factor up to lr over the first pct_start of the steps,
  // then down to lr/div_factor/final_div_factor at the last; with cycle_momentum the momentum
  // (SGD) or beta1 (Adam) goes the other way, max_momentum to base_momentum and back.
  double pct_start = 0.3, div_factor = 25.0, final_div_factor = 1e4;
  bool cycle_momentum = true;
  double base_momentum = 0.85, max_momentum = 0.95;
};

std::string to_string(ScheduleKind k);
ScheduleKind parse_schedule(const std::string& s);  // UsageError naming --schedule

// Learning rate at 0-based `step` of `total_steps`, with `steps_per_epoch` for Step.
double scheduled_lr(const ScheduleConfig& s, double base_lr, int64_t step, int64_t total_steps,
                    int64_t steps_per_epoch);
// The momentum (or Adam's beta1) at `step`: `configured`, except under OneCycle with
// cycle_momentum.
double scheduled_momentum(const ScheduleConfig& s, double configured, int64_t step, int64_t total_steps);

}  // namespace batchscope
