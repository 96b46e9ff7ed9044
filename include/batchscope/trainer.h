// Mini-batch training and evaluation of a Model on an IDX Dataset.
// Training drops the last partial batch of each epoch (PyTorch's drop_last=True): every
// step then has the same shape, so kernels are planned once per batch size.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "batchscope/idx.h"
#include "batchscope/model.h"
#include "batchscope/optimizer.h"
#include "batchscope/normalization.h"

namespace batchscope {

struct TrainConfig {
  int64_t epochs = 1;
  int64_t batch_size = 64;
  OptimizerConfig optim;
  ScheduleConfig schedule;
  uint64_t seed = 1;
  Normalization norm;
  // The schedule's horizon in steps; 0: epochs × steps per epoch. Time to accuracy sets it
  // to a budget that need not be whole epochs.
  int64_t schedule_steps = 0;
  // Each step's gradient as this many shards of batch_size / grad_shards images, one after
  // another, each the gradient of its shard's mean loss, summed in shard order and divided
  // by the count: what that many data-parallel ranks compute and allreduce, in one process.
  // Must divide batch_size. 1: the whole batch at once.
  int64_t grad_shards = 1;
  // With several shards (or ranks): also measure each step's squared gradient norms, of every
  // shard's gradient and of their mean, the two batch sizes the gradient noise scale needs
  // (Trainer::shard_norms). Costs one pass over the gradient per shard.
  bool shard_norms = false;
  // The recipe (batchscope models) these settings started from, "" if none: recorded in
  // checkpoints and reports.
  std::string recipe;
};

// One step's squared L2 norms of the batch-mean gradient at two batch sizes: the mean over
// shards of |g_shard|^2 (shard_batch images each) and |g|^2 of the whole batch (their mean).
// McCandlish et al. 2018, appendix A.1, from the gradients data parallelism computes anyway.
struct ShardNorms {
  int64_t shard_batch = 0, batch = 0;  // 0: not measured
  double shard_norm2 = 0, norm2 = 0;
};

struct EvalResult {
  int64_t n = 0;
  double loss = 0, accuracy = 0;
  int64_t num_classes = 0;
  std::vector<int64_t> confusion;  // [true class][predicted class], row-major
  double class_accuracy(int64_t c) const;
};

// Mean loss, accuracy and confusion matrix over the whole dataset, in batches of `batch`.
EvalResult evaluate(Model& m, const Dataset& d, const Normalization& norm, int64_t batch = 500);
// Every sample's class probabilities (the softmax of the logits), in batches of `batch`:
// probs [d.images.n, m.num_classes()] out. d's labels are not read.
void predict(Model& m, const Dataset& d, const Normalization& norm, float* probs, int64_t batch = 256);

struct StepProgress {
  int64_t epoch = 0;          // 0-based epoch being trained
  int64_t step_in_epoch = 0;  // steps done in it
  int64_t steps_per_epoch = 0;
  double loss = 0, accuracy = 0;  // running means over the epoch so far
  double images_per_second = 0;
  double lr = 0;
  bool stopped = false;  // the epoch ended early because a stop was requested
};
using ProgressFn = std::function<void(const StepProgress&)>;

class Trainer {
 public:
  // `train` must outlive the trainer. Throws UsageError if batch_size exceeds the data.
  Trainer(Model& m, const TrainConfig& cfg, const Dataset& train);

  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  int64_t epoch() const { return epoch_; }  // completed epochs
  int64_t step() const { return step_; }    // completed steps, all epochs
  Optimizer& optimizer() { return opt_; }
  const TrainConfig& config() const { return cfg_; }
  // Resume after `step` steps in all, `epoch` of them complete (from a checkpoint); the next
  // train_epoch continues that epoch at step - epoch·steps_per_epoch.
  void set_position(int64_t epoch, int64_t step);

  // Trains the rest of the current epoch; calls `progress` after every step. Returns the
  // mean loss and accuracy over the steps it ran. If *stop becomes true it returns after the
  // step in flight with stopped set and the epoch not complete. Throws Error if the loss
  // stops being finite.
  StepProgress train_epoch(const ProgressFn& progress, const std::atomic<bool>* stop = nullptr);
  // One optimisation step on rows[0..batch_size): returns the loss; correct gets the
  // number of right predictions.
  double train_step(const int64_t* rows, int64_t* correct);

  // Data parallelism: this process is rank `rank` of `ranks` (ranks divides batch_size). Each
  // step it computes the gradient of its shard, rows [rank·B/R, (rank+1)·B/R) with shard
  // `rank`'s dropout stream (as --grad-shards R does for every shard), then `allreduce` sums
  // the flat gradient (n floats) and a few statistics (k doubles: the shard's mean loss, its
  // right predictions, whether a stop was requested here, and with TrainConfig::shard_norms
  // the shard gradient's squared norm) over all ranks, in place; the
  // gradient is divided by R and every rank takes the same optimizer step. A stop requested
  // on any rank stops all of them after the same step.
  using Allreduce = std::function<void(float* grads, int64_t n, double* stats, int64_t k)>;
  void set_data_parallel(int rank, int ranks, Allreduce allreduce);
  // Whether to stop after the last step: `local` (a signal here), or with several ranks what
  // they agreed at that step, so that all of them stop at the same one.
  bool stop_requested(const std::atomic<bool>* local) const {
    return ranks_ > 1 ? ranks_stop_ : (local && local->load());
  }
  int rank() const { return rank_; }
  int ranks() const { return ranks_; }
  // The last step's norms (TrainConfig::shard_norms, several shards or ranks), and the
  // seconds spent measuring them over all steps so far.
  const ShardNorms& shard_norms() const { return norms_; }
  double shard_norm_seconds() const { return norm_seconds_; }

 private:
  int64_t schedule_horizon() const;
  // Fills the model's input and labels_ with rows[0..n), forward, loss, backward into grads();
  // returns the shard's mean loss and adds its right predictions to *correct.
  double forward_backward(const int64_t* rows, int64_t n, int32_t* labels, uint64_t dropout_seed,
                          int64_t* correct);
  Model& m_;
  TrainConfig cfg_;
  const Dataset& data_;
  Optimizer opt_;
  int64_t steps_per_epoch_;
  int64_t epoch_ = 0, step_ = 0;
  std::vector<int64_t> perm_;
  std::vector<int32_t> labels_;
  Tensor probs_, dlogits_;
  std::vector<float> shard_sum_;  // grad_shards > 1: the gradients summed so far this step
  int rank_ = 0, ranks_ = 1;
  Allreduce allreduce_;
  const std::atomic<bool>* stop_ = nullptr;  // train_epoch's, for the ranks' agreement
  bool ranks_stop_ = false;                  // some rank asked to stop at the last step
  ShardNorms norms_;
  double norm_seconds_ = 0;
};

// The learning rate `--lr auto` picks (docs/training.md): SGD 0.05 at batch 64, scaled
// linearly below 64 and by the fourth root above; Adam 0.001.
double default_learning_rate(OptimizerKind kind, int64_t batch_size);

// The permutation of [0, n) used for `epoch`: a pure function of (seed, epoch).
std::vector<int64_t> epoch_permutation(uint64_t seed, int64_t epoch, int64_t n);

}  // namespace batchscope
