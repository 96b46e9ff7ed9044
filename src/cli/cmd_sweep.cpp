// `batchscope sweep`: training speed per batch size. For each size a fresh model and trainer
// run a warm-up, then full training steps (batch fill, forward, loss, backward, update) over a
// fixed image budget are timed; the report gives the seed's table per batch size.
//   batchscope sweep --model mnist-cnn --batch-sizes 1,8,64 --images 4096 [--json]
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "batchscope/error.h"
#include "batchscope/model.h"
#include "batchscope/trainer.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "kernels/kernels.h"
#include "train/cost_model.h"
#include "train/peak.h"

namespace batchscope::cli {

namespace {

// "1,4,8" → {1, 4, 8}: positive integers, no duplicates, kept in the order given.
std::vector<int64_t> parse_batch_sizes(const std::string& s) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (true) {
    const size_t comma = s.find(',', start);
    const std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || ptr != item.data() + item.size())
      throw UsageError("--batch-sizes: '" + item + "' in '" + s +
                       "' is not a positive integer; expected a comma-separated list like 1,8,64");
    if (v < 1)
      throw UsageError("--batch-sizes: " + item + " is out of range; batch sizes are at least 1");
    if (std::find(out.begin(), out.end(), v) != out.end())
      throw UsageError("--batch-sizes: " + item + " is listed twice");
    out.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

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

struct SweepRow {
  int64_t batch, iterations_per_epoch, warmup_steps, steps, images;
  double lr, seconds, ms_per_iteration, images_per_second, seconds_per_epoch, gflops;
};

}  // namespace

int cmd_sweep(int argc, char** argv) {
  Flags f("sweep", "[flags]",
          "Times training steps per batch size: for each size a fresh model and trainer, a warm-up,\n"
          "then --images images of full steps (batch fill, forward, loss, backward, SGD update);\n"
          "no evaluation. An epoch is the training set with its last partial batch dropped.");
  add_data_flags(f, /*with_train=*/true);
  f.add("model", "mnist-cnn", "preset name (see 'batchscope models') or a layer spec string");
  f.add("batch-sizes", "1,4,8,16,32,64,128,256", "comma-separated batch sizes");
  f.add("images", "4096", "images timed per batch size (at least one step)");
  f.add("warmup-steps", "auto", "untimed steps first; auto = max(3, ceil(256/B))");
  f.add("seed", "1", "seed for initialisation and shuffling");
  add_compute_flags(f);
  f.add_bool("json", "print one JSON object with the results on stdout");
  f.add_bool("quiet", "no progress lines on stderr");
  if (!f.parse(argc, argv)) return 0;
  if (!f.positional().empty())
    throw UsageError("batchscope sweep: unexpected argument '" + f.positional()[0] + "'");

  const std::vector<int64_t> batches = parse_batch_sizes(f.str("batch-sizes"));
  const int64_t images = f.i64("images", 1, int64_t{1} << 40);
  const bool auto_warmup = f.str("warmup-steps") == "auto";
  const int64_t warmup_flag = auto_warmup ? 0 : f.i64("warmup-steps", 0, int64_t{1} << 40);
  const uint64_t seed = static_cast<uint64_t>(f.i64("seed", 0, INT64_MAX));
  const kernels::Backend backend = kernels::parse_backend(f.str("backend"));
  const int threads = apply_compute_flags(f);
  const bool json = f.boolean("json"), quiet = f.boolean("quiet");
  const std::string model_name = f.str("model");

  const Dataset train = load_train_set(f);
  const int64_t n = train.images.n;
  for (int64_t b : batches)
    if (b > n)
      throw UsageError("--batch-sizes: " + std::to_string(b) + " is larger than the training set (" +
                       std::to_string(n) + " images)");
  const Shape in_sample{1, train.images.h, train.images.w};

  std::string command = "batchscope sweep";
  for (int i = 0; i < argc; ++i) command += std::string(" ") + argv[i];
  const ReportContext ctx = report_context();

  std::string spec, backend_name;
  int64_t params = 0;
  double mflop_trained = 0;
  std::vector<SweepRow> rows;
  for (int64_t B : batches) {
    // A fresh model and optimizer per size: no size inherits another's warm caches or plans.
    Model model(model_name, in_sample, 10, backend, seed);
    spec = model.spec();
    backend_name = std::string(model.ops().name);
    params = model.num_params();
    // Forward, backward-data and backward-weights each cost one forward's multiply-adds.
    mflop_trained = 3 * 2e-6 * static_cast<double>(model.macs_per_sample());
    TrainConfig cfg;
    cfg.batch_size = B;
    // Speed does not depend on the rate, but a diverging loss would stop the sweep.
    cfg.optim.lr = default_learning_rate(cfg.optim.kind, B);
    cfg.seed = seed;
    Trainer trainer(model, cfg, train);

    SweepRow r{};
    r.batch = B;
    r.lr = cfg.optim.lr;
    r.iterations_per_epoch = trainer.steps_per_epoch();
    r.warmup_steps = auto_warmup ? std::max<int64_t>(3, (256 + B - 1) / B) : warmup_flag;
    r.steps = std::max<int64_t>(1, images / B);
    r.images = r.steps * B;
    RowCursor cursor(seed, n);
    const std::vector<int64_t> warm = cursor.take(r.warmup_steps, B);
    const std::vector<int64_t> timed = cursor.take(r.steps, B);

    int64_t correct = 0;
    for (int64_t s = 0; s < r.warmup_steps; ++s) trainer.train_step(warm.data() + s * B, &correct);
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t s = 0; s < r.steps; ++s) trainer.train_step(timed.data() + s * B, &correct);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    r.ms_per_iteration = 1e3 * r.seconds / static_cast<double>(r.steps);
    r.images_per_second = static_cast<double>(r.images) / r.seconds;
    r.seconds_per_epoch = static_cast<double>(r.iterations_per_epoch) * r.ms_per_iteration * 1e-3;
    r.gflops = r.images_per_second * mflop_trained * 1e-3;
    rows.push_back(r);
    if (!quiet) {
      std::fprintf(stderr, "sweep: batch %lld: %lld steps (%lld images) in %.2f s, %.1f img/s, %.3f ms/it\n",
                   static_cast<long long>(B), static_cast<long long>(r.steps),
                   static_cast<long long>(r.images), r.seconds, r.images_per_second, r.ms_per_iteration);
      std::fflush(stderr);
    }
  }

  // The cost model over the measured rows (t_epoch(B) = N·(a/B + b)); needs two batch sizes.
  std::vector<int64_t> fit_b;
  std::vector<double> fit_t;
  for (const SweepRow& r : rows) {
    fit_b.push_back(r.batch);
    fit_t.push_back(r.seconds_per_epoch);
  }
  const CostModelFit fit = fit_cost_model(fit_b, fit_t, n);
  std::vector<int64_t> distinct = fit_b;
  std::sort(distinct.begin(), distinct.end());
  const bool have_fit = std::unique(distinct.begin(), distinct.end()) - distinct.begin() >= 2;
  if (json) {
    nlohmann::ordered_json results = nlohmann::ordered_json::array();
    for (const SweepRow& r : rows)
      results.push_back({{"batch_size", r.batch},
                         {"iterations_per_epoch", r.iterations_per_epoch},
                         {"ms_per_iteration", r.ms_per_iteration},
                         {"images_per_second", r.images_per_second},
                         {"seconds_per_epoch", r.seconds_per_epoch},
                         {"seconds_per_5_epochs", 5 * r.seconds_per_epoch},
                         {"gflops", r.gflops},
                         {"warmup_steps", r.warmup_steps},
                         {"steps_timed", r.steps},
                         {"images_timed", r.images},
                         {"lr", r.lr}});
    nlohmann::ordered_json j = {{"command", command},
                              {"host", ctx.host},
                              {"date", ctx.date},
                              {"build", ctx.build},
                              {"model", model_name},
                              {"spec", spec},
                              {"parameters", params},
                              {"mflop_trained", mflop_trained},
                              {"threads", threads},
                              {"backend", backend_name},
                              {"conv_algo", f.str("conv-algo")},
                              {"images", images},
                              {"epoch_images", n},
                              {"results", results}};
    if (have_fit && fit.b > 0)
      j["cost_model"] = {{"a_seconds_per_iteration", fit.a}, {"b_seconds_per_image", fit.b},
                         {"r2", fit.r2}, {"batch_within_10pct_of_floor", fit.batch_within_10pct},
                         {"floor_seconds_per_epoch", fit.b * static_cast<double>(n)}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }

  std::printf("# batchscope sweep: training speed per batch size\n");
  std::printf("# command   %s\n", command.c_str());
  std::printf("# host      %s\n", ctx.host.c_str());
  std::printf("# date      %s\n", ctx.date.c_str());
  std::printf("# build     %s\n", ctx.build.c_str());
  std::printf("# model     %s: %lld parameters, %.2f MFLOP per trained image (3 x forward)\n",
              model_name.c_str(), static_cast<long long>(params), mflop_trained);
  std::printf("# spec      %s\n", spec.c_str());
  std::printf("# data      %lld training images of %lldx%lld (%s); an epoch is all of them\n",
              static_cast<long long>(n), static_cast<long long>(train.images.h),
              static_cast<long long>(train.images.w), train.name.c_str());
  std::printf("# threads   %d, back-end %s, conv %s\n", threads, backend_name.c_str(),
              f.str("conv-algo").c_str());
  std::printf("# timing    %lld images per batch size (at least one step) after %s warm-up steps;\n"
              "#           SGD Nesterov momentum 0.9 at train's default learning rate; no evaluation\n",
              static_cast<long long>(images),
              auto_warmup ? "max(3, ceil(256/B))" : std::to_string(warmup_flag).c_str());
  std::printf("#\n");
  std::printf("%6s %9s %10s %10s %10s %12s %9s\n", "batch", "it/epoch", "ms/it", "img/s", "s/epoch",
              "s/5 epochs", "GFLOP/s");
  for (const SweepRow& r : rows)
    std::printf("%6lld %9lld %10.3f %10.1f %10.1f %12.1f %9.1f\n", static_cast<long long>(r.batch),
                static_cast<long long>(r.iterations_per_epoch), r.ms_per_iteration,
                r.images_per_second, r.seconds_per_epoch, 5 * r.seconds_per_epoch, r.gflops);
  if (have_fit) {
    std::printf("#\n# cost model t_epoch(B) = N*(a/B + b), least squares over these rows:\n"
                "#   a = %.3f ms per iteration (fixed), b = %.4f ms per image, R^2 = %.4f\n",
                1e3 * fit.a, 1e3 * fit.b, fit.r2);
    if (fit.b > 0)
      std::printf("#   floor N*b = %.1f s per epoch; within 10%% of it from batch %.0f on\n",
                  fit.b * static_cast<double>(n), fit.batch_within_10pct);
    else
      std::printf("#   b <= 0: the timings are too short or noisy for a fit; time more --images\n");
  }
  return 0;
}

}  // namespace batchscope::cli
