// `batchscope train`: trains a model on an IDX dataset with mini-batch gradient descent,
// evaluates on the test set after every epoch, checkpoints, and reports (text or --json).
//   batchscope train --data data/mnist --model mnist-cnn --epochs 1 --batch-size 64
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "batchscope/checkpoint.h"
#include "batchscope/error.h"
#include "batchscope/model.h"
#include "batchscope/trainer.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "report/run_report.h"
#include "report/table.h"
#include "cli/progress.h"
#include "dist/comm.h"
#include "dist/watchdog.h"
#include "kernels/kernels.h"

namespace batchscope::cli {

namespace {

// Refuses a flag that contradicts the checkpoint being resumed.
void check_same(const Flags& f, const std::string& flag, const std::string& given,
                const std::string& saved) {
  if (f.given(flag) && given != saved)
    throw UsageError("--" + flag + ": '" + given + "' differs from the checkpoint's '" + saved +
                     "'; --resume continues the saved run with its settings");
}

// Before the first collective: every rank must train the same model on the same data with
// the same settings, or the allreduce would sum gradients of different things (or hang on
// different sizes). One line from rank 0 naming the first rank and field that differ; every
// rank exits 2 (they all see the same comparison, so none is left waiting).
void check_ranks_agree(const Model& model, const TrainConfig& c, const Dataset& train, const Trainer& t) {
  char optim[256], sched[160];
  std::snprintf(optim, sizeof optim, "%s lr %.17g momentum %.17g nesterov %d weight-decay %.17g betas %.17g %.17g eps %.17g",
                to_string(c.optim.kind).c_str(), c.optim.lr, c.optim.momentum, c.optim.nesterov ? 1 : 0,
                c.optim.weight_decay, c.optim.beta1, c.optim.beta2, c.optim.eps);
  std::snprintf(sched, sizeof sched, "%s warmup %lld step-epochs %.17g gamma %.17g min %.17g",
                to_string(c.schedule.kind).c_str(), static_cast<long long>(c.schedule.warmup_steps),
                c.schedule.step_epochs, c.schedule.gamma, c.schedule.min_lr_ratio);
  const uint64_t data = dataset_fingerprint(train);
  const std::pair<std::string, std::string> fields[] = {
      {"model (--model)", model.spec()},
      {"batch size (--batch-size)", std::to_string(c.batch_size)},
      {"seed (--seed)", std::to_string(c.seed)},
      {"optimizer (--optimizer, --lr, --momentum, --nesterov, --weight-decay)", optim},
      {"schedule (--schedule, --warmup-steps, --step-epochs, --gamma)", sched},
      {"epochs (--epochs)", std::to_string(c.epochs)},
      {"normalisation (--mean, --std)", std::to_string(c.norm.mean) + " " + std::to_string(c.norm.std)},
      {"kernel variant (--backend, --conv-algo, --precision)", std::string(model.ops().name)},
      {"training data (--data, --train-images, --train-labels, --limit)",
       std::to_string(train.images.n) + " " + std::to_string(data)},
      {"position (--resume)", std::to_string(t.epoch()) + " " + std::to_string(t.step())},
  };
  dist::check_ranks_agree({std::begin(fields), std::end(fields)});
}

}  // namespace

int cmd_train(int argc, char** argv) {
  Flags f("train", "[flags]",
          "Trains a model with mini-batch gradient descent and reports test accuracy after every "
          "epoch.\nThe last partial batch of each epoch is dropped, so every step has the same "
          "shape.");
  add_data_flags(f, /*with_train=*/true);
  f.add("model", "mnist-cnn", "preset name (see 'batchscope models') or a layer spec string");
  f.add("epochs", "1", "epochs to train (with --resume: the total, counting saved epochs)");
  f.add("batch-size", "64", "images per step, 1 to the training-set size");
  f.add("lr", "auto",
        "learning rate; auto = sgd: 0.05*B/64 for B<=64, 0.05*(B/64)^(1/4) above; adam: 0.001");
  f.add("momentum", "0.9", "SGD momentum");
  f.add("nesterov", "true", "Nesterov momentum (true or false)");
  f.add("weight-decay", "0", "L2 penalty added to the gradient");
  f.add("optimizer", "sgd", "sgd or adam");
  add_schedule_flags(f, "cosine");
  add_adam_flags(f);
  f.add("recipe", "none", "a recipe (batchscope models): its model, optimizer, schedule, batch size and epochs "
                          "become the defaults; flags given override each");
  f.add("seed", "1", "seed for initialisation, shuffling and dropout");
  f.add("mean", "0.1307", "input normalisation: (pixel/255 - mean) / std (MNIST's values)");
  f.add("std", "0.3081", "input normalisation standard deviation");
  f.add("limit", "0", "train on only the first N training images (0 = all)");
  f.add("grad-shards", "1", "compute each step's gradient as R shards of batch/R images summed in order, as R data-parallel ranks do (R must divide --batch-size)");
  f.add("watchdog", "120", "with several MPI ranks: end the job when no step finishes for this many seconds (0: never)");
  add_compute_flags(f);
  f.add("save", "", "checkpoint file (.safetensors) written after every epoch");
  f.add("max-memory", "available",
        "refuse to start if training would need more than this many MiB (default: the memory "
        "available now)");
  f.add("checkpoint-every", "0",
        "also write --save every N steps (0: only at the end of each epoch)");
  f.add("resume", "", "checkpoint to continue from (model and settings come from it)");
  f.add_bool("json", "print one JSON object with the results on stdout");
  f.add_bool("quiet", "no progress output");
  if (!f.parse(argc, argv)) return 0;
  if (!f.positional().empty())
    throw UsageError("batchscope train: unexpected argument '" + f.positional()[0] + "'");

  const std::string recipe = apply_recipe(f);
  const Compute compute = apply_compute_flags(f);
  const int threads = compute.threads;
  const bool json = f.boolean("json");

  TrainConfig cfg;
  cfg.recipe = recipe;
  cfg.epochs = f.i64("epochs", 1, 100000);
  cfg.optim.kind = parse_optimizer(f.str("optimizer"));
  cfg.schedule = parse_schedule_flags(f);
  parse_adam_flags(f, cfg.optim);
  cfg.optim.momentum = f.dbl("momentum", 0.0, 0.9999);
  if (f.str("nesterov") != "true" && f.str("nesterov") != "false")
    throw UsageError("--nesterov: '" + f.str("nesterov") + "' is not a boolean; expected true or false");
  cfg.optim.nesterov = f.str("nesterov") == "true" && cfg.optim.momentum != 0.0;
  if (f.given("nesterov") && f.str("nesterov") == "true" && cfg.optim.momentum == 0.0)
    throw UsageError("--nesterov: needs a non-zero --momentum");
  cfg.optim.weight_decay = f.dbl("weight-decay", 0.0, 1.0);
  cfg.seed = static_cast<uint64_t>(f.i64("seed", 0, INT64_MAX));
  cfg.norm.mean = static_cast<float>(f.dbl("mean", -10.0, 10.0));
  cfg.norm.std = static_cast<float>(f.dbl("std", 1e-6, 100.0));
  const std::string save_path = f.str("save");
  const std::string resume_path = f.str("resume");
  const int64_t checkpoint_every = f.i64("checkpoint-every", 0, INT64_MAX);
  if (checkpoint_every > 0 && save_path.empty())
    throw UsageError("--checkpoint-every: needs --save FILE to write to");
  std::string model_name = f.str("model");

  Dataset train = load_train_set(f);
  Dataset test = load_test_set(f);
  if (train.images.h != test.images.h || train.images.w != test.images.w)
    throw DataError("'" + test.name + "' holds " + std::to_string(test.images.h) + "x" +
                    std::to_string(test.images.w) + " images; expected " +
                    std::to_string(train.images.h) + "x" + std::to_string(train.images.w) +
                    " like '" + train.name + "'");
  if (const int64_t limit = f.i64("limit", 0, INT64_MAX); limit > 0 && limit < train.images.n) {
    train.images.n = train.labels.n = limit;
    train.images.pixels.resize(static_cast<size_t>(limit * train.images.h * train.images.w));
    train.labels.labels.resize(static_cast<size_t>(limit));
  }
  const Shape in_sample{1, train.images.h, train.images.w};

  CheckpointInfo resumed;
  if (!resume_path.empty()) {
    resumed = read_checkpoint_info(resume_path);
    const TrainConfig& s = resumed.train;
    check_same(f, "batch-size", f.str("batch-size"), std::to_string(s.batch_size));
    check_same(f, "optimizer", f.str("optimizer"), to_string(s.optim.kind));
    check_same(f, "schedule", f.str("schedule"), to_string(s.schedule.kind));
    check_same(f, "seed", f.str("seed"), std::to_string(s.seed));
    if (f.given("model") && resolve_model_spec(model_name) != resumed.model_spec) {
      // Compare canonical forms: build the asked-for model just to canonicalise its spec.
      Model probe(model_name, in_sample, 10, *compute.ops, 0);
      if (probe.spec() != resumed.model_spec)
        throw UsageError("--model: '" + model_name + "' differs from the checkpoint's '" +
                         resumed.model_spec + "'");
    }
    if (!(resumed.in_sample == in_sample))
      throw DataError("reading '" + resume_path + "': checkpoint was trained on " +
                      resumed.in_sample.str() + " images; the data holds " + in_sample.str());
    const int64_t epochs = f.given("epochs") ? cfg.epochs : s.epochs;
    cfg = s;
    cfg.epochs = epochs;
    model_name = resumed.model_spec;
    if (resumed.epoch >= cfg.epochs)
      throw UsageError("--epochs: the checkpoint has already trained " +
                       std::to_string(resumed.epoch) + " epoch(s); ask for more to continue");
  } else {
    cfg.batch_size = f.i64("batch-size", 1, INT64_MAX);
    cfg.optim.lr = f.str("lr") == "auto" ? default_learning_rate(cfg.optim.kind, cfg.batch_size)
                                         : f.dbl("lr", 1e-12, 1e3);
  }
  cfg.grad_shards = f.i64("grad-shards", 1, 1 << 20);  // the Trainer refuses one that does not divide the batch
  if (cfg.batch_size > train.images.n)
    throw UsageError("--batch-size: " + std::to_string(cfg.batch_size) +
                     " is larger than the training set (" + std::to_string(train.images.n) +
                     " images)");

  Model model(model_name, in_sample, 10, *compute.ops, cfg.seed);
  {
    // Model holds no activations yet; refuse before the first step allocates them.
    const int slots = cfg.optim.kind == OptimizerKind::Adam ? 2 : (cfg.optim.momentum > 0 ? 1 : 0);
    const int64_t need = model.estimate_training_bytes(std::max<int64_t>(cfg.batch_size, 256), slots) +
                         static_cast<int64_t>(train.images.pixels.size() + test.images.pixels.size());
    const int64_t limit = f.str("max-memory") == "available" ? available_memory_bytes()
                                                             : f.i64("max-memory", 1, int64_t{1} << 40) << 20;
    if (limit > 0 && need > limit)
      throw UsageError("--batch-size: training " + model.spec() + " at batch " +
                       std::to_string(cfg.batch_size) + " needs about " + std::to_string(need >> 20) +
                       " MiB; the limit is " + std::to_string(limit >> 20) +
                       " MiB (--max-memory); use a smaller batch or raise the limit");
  }
  Trainer trainer(model, cfg, train);
  if (!resume_path.empty()) {
    load_checkpoint(resume_path, model, &trainer.optimizer());
    trainer.set_position(resumed.epoch, resumed.step);
  }
  // Data parallel (mpirun -np R): rank 0 alone prints and writes; the others stay quiet.
  const dist::World& world = dist::world();
  const bool lead = world.rank == 0;
  const double watchdog_seconds = f.dbl("watchdog", 0.0, 1e7);
  std::unique_ptr<dist::Watchdog> dog;
  if (world.parallel()) {
    dog = std::make_unique<dist::Watchdog>(watchdog_seconds, world.rank, world.size);
    trainer.set_data_parallel(world.rank, world.size, [&dog](float* g, int64_t n, double* stats, int64_t k) {
      dog->enter_collective();
      dist::allreduce_step(g, n, stats, k);
      dog->leave_collective();
    });
    check_ranks_agree(model, cfg, train, trainer);
    // Rank 0's weights, optimizer state and position for everyone, so that no rank can start
    // from its own (the checks above make them equal already; this makes it so).
    dist::broadcast(model.params().data(), model.num_params() * static_cast<int64_t>(sizeof(float)));
    for (auto& [name, buf] : trainer.optimizer().state())
      dist::broadcast(buf->data(), static_cast<int64_t>(buf->size() * sizeof(float)));
  }

  if (lead)
    std::fprintf(stderr,
               "batchscope train: model %s (%lld parameters, %.2f MFLOP forward per image)\n"
               "  spec %s\n"
               "  data %lld train / %lld test images of %lldx%lld (%s)\n"
               "  batch %lld%s%s, %lld steps per epoch, %lld epoch(s)%s\n"
               "  %s lr %g momentum %g%s weight-decay %g, schedule %s, warm-up %lld steps\n"
               "  seed %llu, %d thread(s), back-end %s, conv %s\n",
               f.str("model").c_str(), static_cast<long long>(model.num_params()),
               2e-6 * static_cast<double>(model.macs_per_sample()), model.spec().c_str(),
               static_cast<long long>(train.images.n), static_cast<long long>(test.images.n),
               static_cast<long long>(train.images.h), static_cast<long long>(train.images.w),
               train.name.c_str(), static_cast<long long>(cfg.batch_size),
               cfg.grad_shards > 1 ? (" in " + std::to_string(cfg.grad_shards) + " gradient shards").c_str() : "",
               world.parallel() ? (" over " + std::to_string(world.size) + " MPI ranks (" +
                                   std::to_string(cfg.batch_size / world.size) + " images each)").c_str() : "",
               static_cast<long long>(trainer.steps_per_epoch()), static_cast<long long>(cfg.epochs),
               resume_path.empty() ? "" : (", resuming after epoch " + std::to_string(resumed.epoch)).c_str(),
               to_string(cfg.optim.kind).c_str(), cfg.optim.lr, cfg.optim.momentum,
               cfg.optim.nesterov ? " (nesterov)" : "", cfg.optim.weight_decay,
               to_string(cfg.schedule.kind).c_str(), static_cast<long long>(cfg.schedule.warmup_steps),
               static_cast<unsigned long long>(cfg.seed), threads,
               std::string(model.ops().name).c_str(), std::string(kernels::to_string(model.ops().conv_algo)).c_str());

  if (lead && !cfg.recipe.empty())
    std::fprintf(stderr, "  recipe %s%s\n", cfg.recipe.c_str(),
                 cfg.schedule.kind == ScheduleKind::OneCycle
                     ? report::fmt(" (onecycle: pct_start %g, div_factor %g, final_div_factor %g, cycle_momentum %s; "
                                   "betas %g, %g)", cfg.schedule.pct_start, cfg.schedule.div_factor,
                                   cfg.schedule.final_div_factor, cfg.schedule.cycle_momentum ? "true" : "false",
                                   cfg.optim.beta1, cfg.optim.beta2).c_str()
                     : "");

  // Ctrl-C (SIGINT) and SIGTERM (what systemd, Slurm, Kubernetes and mpirun send to stop a
  // job) finish the step in flight, write a checkpoint and exit 128 + the signal: 130, 143.
  static std::atomic<bool> interrupted{false};
  static std::atomic<int> stop_signal{0};
  interrupted = false;
  stop_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = [](int sig) {
    stop_signal = sig;
    interrupted = true;
  };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  auto save = [&](const std::string& file) {
    if (!lead) return;
    // A NaN gradient shows in the loss only one step later; never let it into a checkpoint,
    // so the last one written stays the last good one.
    if (const std::string where = model.first_non_finite(); !where.empty())
      throw Error("training diverged by step " + std::to_string(trainer.step()) +
                  ": non-finite values in " + where + "; '" + file +
                  "' keeps the last good checkpoint; try a lower --lr");
    CheckpointInfo info;
    info.epoch = trainer.epoch();
    info.step = trainer.step();
    info.train = cfg;
    save_checkpoint(file, model, &trainer.optimizer(), info);
  };
  Progress progress(cfg.epochs, f.boolean("quiet") || !lead);
  std::vector<report::EpochRecord> records;
  double train_seconds = 0;
  int64_t images_trained = 0;
  EvalResult last_eval;
  FILE* epoch_out = json ? stderr : stdout;
  while (trainer.epoch() < cfg.epochs) {
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t first_step = trainer.step();
    StepProgress p = trainer.train_epoch(
        [&](const StepProgress& sp) {
          if (dog) dog->beat(trainer.step());
          progress.update(sp);
          // Mid-epoch checkpoints; the one at the epoch's end is written below, after the test.
          if (checkpoint_every > 0 && trainer.step() % checkpoint_every == 0 &&
              sp.step_in_epoch < sp.steps_per_epoch)
            save(save_path);
        },
        &interrupted);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    progress.end_epoch();
    if (p.stopped || trainer.stop_requested(&interrupted)) {
      const std::string file = save_path.empty() ? "batchscope-interrupted.safetensors" : save_path;
      save(file);
      const int sig = stop_signal.load();
      if (lead)
        std::fprintf(stderr,
                   "interrupted by %s after step %lld (epoch %lld, step %lld of %lld); checkpoint "
                   "written to '%s'; continue with --resume %s\n",
                   sig == SIGTERM ? "SIGTERM" : "SIGINT", static_cast<long long>(trainer.step()), static_cast<long long>(trainer.epoch() + (p.stopped ? 1 : 0)),
                   static_cast<long long>(p.stopped ? p.step_in_epoch : trainer.steps_per_epoch()),
                   static_cast<long long>(trainer.steps_per_epoch()), file.c_str(), file.c_str());
      return 128 + (sig == SIGTERM ? SIGTERM : SIGINT);
    }
    train_seconds += secs;
    const int64_t imgs = (trainer.step() - first_step) * cfg.batch_size;
    images_trained += imgs;
    // Evaluating at the training batch size (at least 256) reuses the training step's kernel
    // plans and buffers instead of planning a second shape.
    last_eval = evaluate(model, test, cfg.norm, std::clamp<int64_t>(cfg.batch_size, 256, 1024));
    if (dog) dog->beat(trainer.step());  // the test and the checkpoint count as progress
    records.push_back({trainer.epoch(), p.loss, p.accuracy, last_eval.loss, last_eval.accuracy,
                       secs, static_cast<double>(imgs) / secs});
    if (lead) {
      std::fprintf(epoch_out, "%s\n", report::epoch_line(records.back(), cfg.epochs).c_str());
      std::fflush(epoch_out);
    }
    if (!save_path.empty()) {
      save(save_path);
      if (lead) std::fprintf(stderr, "saved checkpoint '%s' (epoch %lld)\n", save_path.c_str(),
                   static_cast<long long>(trainer.epoch()));
      if (dog) dog->beat(trainer.step());
    }
  }

  if (json && lead) {
    const nlohmann::ordered_json history = report::history_json(records);
    const nlohmann::ordered_json j = {
        {"model", f.str("model")}, {"recipe", cfg.recipe.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(cfg.recipe)},
        {"spec", model.spec()}, {"parameters", model.num_params()},
        {"epochs", cfg.epochs}, {"batch_size", cfg.batch_size}, {"optimizer", to_string(cfg.optim.kind)},
        {"lr", cfg.optim.lr}, {"threads", threads}, {"ranks", world.size}, {"backend", std::string(model.ops().name)},
        {"seed", cfg.seed}, {"test_accuracy", last_eval.accuracy}, {"test_loss", last_eval.loss},
        {"train_seconds", train_seconds},
        {"images_per_second", train_seconds > 0 ? static_cast<double>(images_trained) / train_seconds : 0.0},
        {"history", history}};
    print_json(j);
  }
  return 0;
}

}  // namespace batchscope::cli
