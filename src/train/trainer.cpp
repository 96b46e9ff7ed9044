// The training step (batch → forward → fused softmax-xent → backward → optimizer step),
// the epoch loop, and evaluation.
#include "batchscope/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "batchscope/error.h"
#include "core/cpu_flags.h"
#include "core/rng.h"
#include "core/step_profiler.h"
#include "kernels/kernels.h"
#include "train/batch.h"

namespace batchscope {

double EvalResult::class_accuracy(int64_t c) const {
  int64_t total = 0;
  for (int64_t j = 0; j < num_classes; ++j) total += confusion[static_cast<size_t>(c * num_classes + j)];
  return total ? static_cast<double>(confusion[static_cast<size_t>(c * num_classes + c)]) / total : 0.0;
}

namespace {
// Index of the largest of n values (first one on ties, as torch.argmax).
int64_t argmax(const float* v, int64_t n) {
  int64_t best = 0;
  for (int64_t j = 1; j < n; ++j)
    if (v[j] > v[best]) best = j;
  return best;
}
// Sum of squares in double, vectorised (omp simd may reorder the sum): the order is fixed
// when the binary is compiled, so every shard and rank running it gets the same bits for the
// same floats, and --grad-shards and MPI ranks measure identical norms.
double sum_squares(const float* x, int64_t n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return s;
}

}  // namespace

void predict(Model& m, const Dataset& d, const Normalization& norm, float* probs, int64_t batch) {
  enable_flush_denormals();
  const int64_t L = m.num_classes(), N = d.images.n;
  std::vector<int64_t> rows;
  std::vector<int32_t> no_labels;
  for (int64_t start = 0; start < N; start += batch) {
    const int64_t n = std::min(batch, N - start);
    m.reshape(n);
    rows.resize(static_cast<size_t>(n));
    std::iota(rows.begin(), rows.end(), start);
    fill_batch(m.input().data(), nullptr, d, rows.data(), n, norm);
    const Tensor& logits = m.forward(StepContext{});
    no_labels.assign(static_cast<size_t>(n), 0);  // the loss it returns is not used
    m.ops().softmax_xent_fwd(probs + start * L, logits.data(), no_labels.data(), n, L);
  }
}

EvalResult evaluate(Model& m, const Dataset& d, const Normalization& norm, int64_t batch) {
  enable_flush_denormals();
  EvalResult r;
  const int64_t L = m.num_classes();
  r.n = d.images.n;
  r.num_classes = L;
  r.confusion.assign(static_cast<size_t>(L * L), 0);
  std::vector<int64_t> rows;
  std::vector<int32_t> labels;
  Tensor probs;
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t start = 0; start < r.n; start += batch) {
    const int64_t n = std::min(batch, r.n - start);
    m.reshape(n);
    rows.resize(static_cast<size_t>(n));
    std::iota(rows.begin(), rows.end(), start);
    labels.resize(static_cast<size_t>(n));
    fill_batch(m.input().data(), labels.data(), d, rows.data(), n, norm);
    const Tensor& logits = m.forward(StepContext{});
    probs.resize(logits.shape());
    loss_sum += m.ops().softmax_xent_fwd(probs.data(), logits.data(), labels.data(), n, L) * n;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t pred = argmax(probs.data() + i * L, L);
      correct += pred == labels[static_cast<size_t>(i)];
      ++r.confusion[static_cast<size_t>(labels[static_cast<size_t>(i)] * L + pred)];
    }
  }
  r.loss = r.n ? loss_sum / r.n : 0;
  r.accuracy = r.n ? static_cast<double>(correct) / r.n : 0;
  return r;
}

double default_learning_rate(OptimizerKind kind, int64_t batch_size) {
  if (kind == OptimizerKind::Adam) return 1e-3;
  // Small-batch SGD follows the linear scaling rule closely. Above 64, one epoch has too few
  // steps for a warm-up to pay off, and linear or even square-root scaling diverged for some
  // seeds at batch 256 (docs/training.md has the runs); the fourth root stayed stable.
  const double r = static_cast<double>(batch_size) / 64.0;
  return 0.05 * (batch_size <= 64 ? r : std::sqrt(std::sqrt(r)));
}

std::vector<int64_t> epoch_permutation(uint64_t seed, int64_t epoch, int64_t n) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  Rng rng(derive_seed(seed, kShuffleStream, static_cast<uint64_t>(epoch)));
  for (int64_t i = n - 1; i > 0; --i)  // Fisher-Yates
    std::swap(p[static_cast<size_t>(i)], p[rng.below(static_cast<uint64_t>(i + 1))]);
  return p;
}

Trainer::Trainer(Model& m, const TrainConfig& cfg, const Dataset& train)
    : m_(m), cfg_(cfg), data_(train), opt_(cfg.optim, m.num_params()) {
  if (cfg_.batch_size < 1 || cfg_.batch_size > train.images.n)
    throw UsageError("batch_size", std::to_string(cfg_.batch_size) +
                     " is out of range; expected 1 to " + std::to_string(train.images.n) +
                     " (the training set's size)");
  if (cfg_.grad_shards < 1 || cfg_.batch_size % cfg_.grad_shards != 0)
    throw UsageError("grad_shards", std::to_string(cfg_.grad_shards) + " does not divide the batch size " +
                     std::to_string(cfg_.batch_size) + "; expected a divisor of it (each shard is batch / shards images)");
  const ScheduleConfig& s = cfg_.schedule;
  if (s.kind == ScheduleKind::OneCycle) {
    if (s.warmup_steps > 0)
      throw UsageError("warmup_steps", "not with the onecycle schedule, which warms up over pct_start of the steps");
    if (!(s.pct_start > 0 && s.pct_start < 1))
      throw UsageError("pct_start", "expected a fraction of the steps between 0 and 1; got " + std::to_string(s.pct_start));
    if (!(s.div_factor >= 1 && s.final_div_factor >= 1))
      throw UsageError("div_factor", "expected div_factor and final_div_factor of at least 1");
    if (s.cycle_momentum && !(s.base_momentum >= 0 && s.base_momentum <= s.max_momentum && s.max_momentum < 1))
      throw UsageError("base_momentum", "expected 0 <= base_momentum <= max_momentum < 1");
    if (s.cycle_momentum && cfg_.optim.kind == OptimizerKind::Sgd && cfg_.optim.momentum == 0)
      throw UsageError("cycle_momentum", "needs SGD with momentum (or Adam, whose beta1 it cycles); momentum is 0");
  }
  steps_per_epoch_ = train.images.n / cfg_.batch_size;
  enable_flush_denormals();
  labels_.resize(static_cast<size_t>(cfg_.batch_size));
  // Shards sum materialised gradients, so the dense layers must write theirs.
  m_.set_defer_weight_grads(cfg_.grad_shards == 1);
}

void Trainer::set_position(int64_t epoch, int64_t step) {
  if (step < epoch * steps_per_epoch_ || step > (epoch + 1) * steps_per_epoch_)
    throw DataError("checkpoint position: step " + std::to_string(step) + " does not fall in epoch " +
                    std::to_string(epoch + 1) + " of " + std::to_string(steps_per_epoch_) +
                    " steps");
  epoch_ = epoch;
  step_ = step;
}

int64_t Trainer::schedule_horizon() const {
  return cfg_.schedule_steps > 0 ? cfg_.schedule_steps : cfg_.epochs * steps_per_epoch_;
}

double Trainer::forward_backward(const int64_t* rows, int64_t n, int32_t* labels,
                                 uint64_t dropout_seed, int64_t* correct) {
  const int64_t L = m_.num_classes();
  m_.reshape(n);
  {
    TimedScope t(Phase::Data);
    fill_batch(m_.input().data(), labels, data_, rows, n, cfg_.norm);
  }
  {
    TimedScope t(Phase::ZeroGrad);
    m_.zero_grad();
  }
  StepContext ctx{/*training=*/true, dropout_seed};
  TimedScope fwd_scope(Phase::Forward);
  const Tensor& logits = m_.forward(ctx);
  fwd_scope.stop();
  probs_.resize(logits.shape());
  dlogits_.resize(logits.shape());
  TimedScope loss_scope(Phase::Loss);
  const double loss = m_.ops().softmax_xent_fwd(probs_.data(), logits.data(), labels, n, L);
  if (!std::isfinite(loss)) {
    const std::string where = m_.first_non_finite();
    char lr[32];
    std::snprintf(lr, sizeof lr, "%g", cfg_.optim.lr);
    throw Error("training diverged at epoch " + std::to_string(epoch_ + 1) + ", step " +
                std::to_string(step_ + 1) + ": the loss is " +
                (std::isnan(loss) ? "NaN" : "infinite") +
                (where.empty() ? std::string() : "; first non-finite values in " + where) +
                "; try a lower learning rate (now " + lr + ")");
  }
  int64_t c = 0;
  for (int64_t i = 0; i < n; ++i) c += argmax(probs_.data() + i * L, L) == labels[i];
  *correct += c;
  m_.ops().softmax_xent_bwd(dlogits_.data(), probs_.data(), labels, n, L);
  loss_scope.stop();
  TimedScope t(Phase::Backward);
  m_.backward(dlogits_);
  return loss;
}

double Trainer::train_step(const int64_t* rows, int64_t* correct) {
  const int64_t B = cfg_.batch_size, R = cfg_.grad_shards;
  TimedScope step_scope(Phase::Step);
  const uint64_t step_seed = derive_seed(cfg_.seed, kDropoutStream, static_cast<uint64_t>(step_));
  *correct = 0;
  double loss = 0;
  // Shard s of `shards` is rows [s·B/shards, (s+1)·B/shards) with its own dropout stream,
  // whether this process computes every shard (--grad-shards) or only its own (rank s of
  // data-parallel ranks, the allreduce adding the others'). The sum runs in shard order,
  // then one scaling by 1/shards: the two give the same bits.
  const int64_t shards = ranks_ > 1 ? ranks_ : R;
  auto shard = [&](int64_t s) {
    const int64_t n = B / shards;
    return forward_backward(rows + s * n, n, labels_.data() + s * n,
                            derive_seed(step_seed, kDropoutStream, static_cast<uint64_t>(s)), correct);
  };
  if (shards == 1) {
    loss = forward_backward(rows, B, labels_.data(), step_seed, correct);
  } else {
    float* g = m_.grads().data();
    const int64_t P = m_.num_params();
    // |g|^2 of the gradient in g now, timed on its own as the noise scale's price.
    auto timed_norm2 = [&] {
      const auto t0 = std::chrono::steady_clock::now();
      const double v = sum_squares(g, P);
      norm_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      return v;
    };
    // |g_shard|^2 summed over the shards, in shard order (the allreduce of two ranks adds the
    // same two numbers).
    double shard_norm2 = 0;
    auto add_shard_norm = [&] {
      if (cfg_.shard_norms) shard_norm2 += timed_norm2();
    };
    if (ranks_ > 1) {
      loss = shard(rank_);
      add_shard_norm();
      TimedScope t(Phase::Comm);
      double stats[4] = {loss, static_cast<double>(*correct), stop_ && stop_->load() ? 1.0 : 0.0, shard_norm2};
      allreduce_(g, P, stats, 4);
      loss = stats[0];
      *correct = static_cast<int64_t>(stats[1]);
      ranks_stop_ = stats[2] > 0;
      shard_norm2 = stats[3];
    } else {
      shard_sum_.resize(static_cast<size_t>(P));
      for (int64_t s = 0; s < shards; ++s) {
        loss += shard(s);
        add_shard_norm();
        TimedScope t(Phase::Update);
        // The last shard's gradient is added in place, leaving the sum in g.
        if (s == 0) std::copy_n(g, P, shard_sum_.data());
        else if (s + 1 < shards)
          for (int64_t i = 0; i < P; ++i) shard_sum_[static_cast<size_t>(i)] += g[i];
        else
          for (int64_t i = 0; i < P; ++i) g[i] = shard_sum_[static_cast<size_t>(i)] + g[i];
      }
    }
    TimedScope t(Phase::Update);
    const float inv = 1.0f / static_cast<float>(shards);
    for (int64_t i = 0; i < P; ++i) g[i] *= inv;
    loss /= static_cast<double>(shards);
    if (cfg_.shard_norms) norms_ = {B / shards, B, shard_norm2 / static_cast<double>(shards), timed_norm2()};
  }
  const double lr = scheduled_lr(cfg_.schedule, cfg_.optim.lr, step_,
                                 schedule_horizon(), steps_per_epoch_);
  {
    TimedScope t(Phase::Update);
    if (cfg_.schedule.kind == ScheduleKind::OneCycle && cfg_.schedule.cycle_momentum)
      opt_.set_momentum(scheduled_momentum(cfg_.schedule, cfg_.optim.momentum, step_, schedule_horizon()));
    opt_.step(m_.params().data(), m_.grads().data(), lr, m_.deferred_grads());
  }
  ++step_;
  return loss;
}

void Trainer::set_data_parallel(int rank, int ranks, Allreduce allreduce) {
  if (ranks < 1 || rank < 0 || rank >= ranks || cfg_.batch_size % ranks != 0)
    throw UsageError("batch_size", std::to_string(cfg_.batch_size) + " does not split into " +
                     std::to_string(ranks) + " ranks; expected a multiple of the rank count (each rank takes batch / ranks images)");
  if (ranks > 1 && cfg_.grad_shards != 1)
    throw UsageError("grad_shards", "not with several ranks (each rank is one shard already)");
  rank_ = rank;
  ranks_ = ranks;
  allreduce_ = std::move(allreduce);
  // Ranks sum materialised gradients.
  m_.set_defer_weight_grads(ranks_ == 1 && cfg_.grad_shards == 1);
}

StepProgress Trainer::train_epoch(const ProgressFn& progress, const std::atomic<bool>* stop) {
  stop_ = stop;
  using clock = std::chrono::steady_clock;
  perm_ = epoch_permutation(cfg_.seed, epoch_, data_.images.n);
  StepProgress p;
  p.epoch = epoch_;
  p.steps_per_epoch = steps_per_epoch_;
  double loss_sum = 0;
  int64_t correct_sum = 0;
  const auto t0 = clock::now();
  // A resumed epoch continues where its checkpoint was taken: same permutation, same steps.
  const int64_t first = step_ - epoch_ * steps_per_epoch_;
  for (int64_t s = first; s < steps_per_epoch_; ++s) {
    int64_t correct = 0;
    p.lr = scheduled_lr(cfg_.schedule, cfg_.optim.lr, step_, schedule_horizon(),
                        steps_per_epoch_);
    loss_sum += train_step(perm_.data() + s * cfg_.batch_size, &correct);
    correct_sum += correct;
    const int64_t done = s + 1 - first;
    p.step_in_epoch = s + 1;
    p.loss = loss_sum / static_cast<double>(done);
    p.accuracy = static_cast<double>(correct_sum) / static_cast<double>(done * cfg_.batch_size);
    const double secs = std::chrono::duration<double>(clock::now() - t0).count();
    p.images_per_second = secs > 0 ? static_cast<double>(done * cfg_.batch_size) / secs : 0;
    if (progress) progress(p);
    if (stop_requested(stop) && s + 1 < steps_per_epoch_) {
      p.stopped = true;
      return p;
    }
  }
  ++epoch_;
  return p;
}

}  // namespace batchscope
