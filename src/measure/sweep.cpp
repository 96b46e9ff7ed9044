// The sweep's timing loop (see sweep.h).
#include "measure/sweep.h"

#include <algorithm>
#include <chrono>

#include "batchscope/model.h"
#include "batchscope/trainer.h"
#include "core/step_profiler.h"

namespace batchscope {

namespace {

// Rows for `steps` steps of `batch`, taken in order from shuffled permutations of the training
// set, a new permutation whenever the current one cannot fill a whole batch (as an epoch drops
// its last partial batch). Drawn before the clock starts so shuffling is not timed.
class RowCursor {
 public:
  RowCursor(uint64_t seed, int64_t n) : seed_(seed), n_(n), perm_(epoch_permutation(seed, 0, n)) {}
  std::vector<int64_t> take(int64_t steps, int64_t batch) {
    std::vector<int64_t> rows;
    rows.reserve(static_cast<size_t>(steps * batch));
    for (int64_t s = 0; s < steps; ++s) {
      if (pos_ + batch > n_) {
        perm_ = epoch_permutation(seed_, ++epoch_, n_);
        pos_ = 0;
      }
      rows.insert(rows.end(), perm_.begin() + pos_, perm_.begin() + pos_ + batch);
      pos_ += batch;
    }
    return rows;
  }

 private:
  uint64_t seed_;
  int64_t n_, epoch_ = 0, pos_ = 0;
  std::vector<int64_t> perm_;
};

}  // namespace

SweepResult run_sweep(const SweepConfig& cfg, const Dataset& train,
                      const std::function<void(const SweepRow&)>& on_row) {
  SweepResult res;
  const int64_t n = train.images.n;
  res.epoch_images = n;
  res.images_budget = cfg.images;
  res.epochs = cfg.epochs;
  const Shape in_sample{1, train.images.h, train.images.w};
  StepProfiler prof;
  for (int64_t B : cfg.batches) {
    if (B % cfg.ranks != 0) {
      res.skipped.push_back(B);
      continue;
    }
    // A fresh model and optimizer per size: no size inherits another's warm caches or plans.
    Model model(cfg.model, in_sample, 10, *cfg.ops, cfg.seed);
    TrainConfig tc;
    tc.batch_size = B;
    // Speed does not depend on the rate, but a diverging loss would stop the sweep.
    tc.optim.lr = default_learning_rate(tc.optim.kind, B);
    tc.seed = cfg.seed;
    tc.shard_norms = cfg.ranks > 1;
    Trainer trainer(model, tc, train);
    if (cfg.ranks > 1) trainer.set_data_parallel(cfg.rank, cfg.ranks, cfg.allreduce);
    if (res.rows.empty()) {
      res.spec = model.spec();
      res.backend = std::string(model.ops().name);
      res.parameters = model.num_params();
      res.macs_per_image = model.macs_per_sample();
      // Forward, backward-data and backward-weights each cost one forward's multiply-adds.
      res.mflop_trained = 3 * 2e-6 * static_cast<double>(model.macs_per_sample());
      res.optimizer_slots = optimizer_state_slots(tc.optim);
      for (const auto& l : model.layers()) res.layer_specs.push_back(l->spec());
    }

    SweepRow r;
    r.batch = B;
    r.ranks = cfg.ranks;
    r.threads_per_rank = cfg.threads_per_rank;
    r.lr = tc.optim.lr;
    r.iterations_per_epoch = trainer.steps_per_epoch();
    r.warmup_steps = cfg.warmup_steps >= 0 ? cfg.warmup_steps : std::max<int64_t>(3, (256 + B - 1) / B);
    r.extrapolated = cfg.epochs <= 0;
    r.steps = r.extrapolated ? std::max<int64_t>(1, cfg.images / B) : cfg.epochs * r.iterations_per_epoch;
    r.images = r.steps * B;
    RowCursor cursor(cfg.seed, n);
    const std::vector<int64_t> warm = cursor.take(r.warmup_steps, B);
    const std::vector<int64_t> timed = cursor.take(r.steps, B);

    int64_t correct = 0;
    for (int64_t s = 0; s < r.warmup_steps; ++s) trainer.train_step(warm.data() + s * B, &correct);
    prof.clear();
    prof.reserve(static_cast<size_t>(std::min<int64_t>(r.steps, 1 << 16) * 64));
    std::vector<GradNormSample> norms;
    const double norm_seconds_before = trainer.shard_norm_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    {
      ProfilerScope on(prof);
      for (int64_t s = 0; s < r.steps; ++s) {
        trainer.train_step(timed.data() + s * B, &correct);
        if (tc.shard_norms) {
          const ShardNorms& n = trainer.shard_norms();
          norms.push_back({n.shard_batch, n.batch, n.shard_norm2, n.norm2});
        }
      }
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.profile = summarize_profile(prof.events(), r.steps, model.layers().size());
    r.work = step_work(model, B, res.optimizer_slots);
    if (tc.shard_norms) {
      r.noise = noise_scale_interval(norms, cfg.seed);
      r.noise_ms_per_step = 1e3 * (trainer.shard_norm_seconds() - norm_seconds_before) / static_cast<double>(r.steps);
    }

    r.ms_per_iteration = 1e3 * r.seconds / static_cast<double>(r.steps);
    r.images_per_second = static_cast<double>(r.images) / r.seconds;
    r.seconds_per_epoch = static_cast<double>(r.iterations_per_epoch) * r.ms_per_iteration * 1e-3;
    r.gflops = r.images_per_second * res.mflop_trained * 1e-3;
    res.rows.push_back(r);
    if (on_row) on_row(res.rows.back());
  }
  return res;
}

StepLine fit_step_line(const std::vector<int64_t>& batches, const std::vector<double>& step_seconds) {
  // The same regression as the epoch cost model (time per image on 1/B), so the lines of the
  // pieces of a step add up exactly to the line of the whole step.
  StepLine l;
  const size_t n = std::min(batches.size(), step_seconds.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < n; ++i) {
    const double x = 1.0 / static_cast<double>(batches[i]), y = step_seconds[i] * x;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const double dn = static_cast<double>(n), den = dn * sxx - sx * sx;
  if (n < 2 || den <= 1e-300) return l;
  l.fixed = (dn * sxy - sx * sy) / den;
  l.per_image = (sy - l.fixed * sx) / dn;
  return l;
}

}  // namespace batchscope
