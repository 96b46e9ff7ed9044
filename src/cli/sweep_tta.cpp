// Time to accuracy per batch size, for `sweep --target-accuracy` (see sweep_tta.h).
#include "cli/sweep_tta.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "batchscope/error.h"
#include "cli/common.h"
#include "core/atomic_file.h"
#include "report/tta_report.h"
#include "measure/peak.h"

namespace batchscope::cli {

void add_tta_flags(Flags& f) {
  f.add("target-accuracy", "0", "train every batch size until this test accuracy (e.g. 0.99) instead of timing steps");
  f.add("lr-scaling", "sqrt", "with --target-accuracy: learning rate rule across batch sizes: linear, sqrt or none");
  f.add("optimizer", "adam", "with --target-accuracy: adam or sgd (Nesterov momentum 0.9)");
  f.add("base-lr", "auto", "with --target-accuracy: learning rate at --base-batch; auto = sgd 0.1, adam 0.002");
  f.add("base-batch", "64", "with --target-accuracy: the batch size --base-lr is for");
  f.add("max-lr", "0.4", "with --target-accuracy: cap on the scaled learning rate");
  f.add("lr-warmup-images", "4096", "with --target-accuracy: linear learning-rate warm-up over this many images");
  f.add("max-epochs", "1.1", "with --target-accuracy: budget per batch size in epochs (also the cosine horizon)");
  f.add("max-train-seconds", "120", "with --target-accuracy: budget per batch size in training seconds");
  f.add("check-every", "6000", "with --target-accuracy: images between test-accuracy checks");
  f.add("noise-repeats", "16", "with --target-accuracy: gradient-noise probes (16 x 16 images each) repeated at the "
                               "same parameters, for B_simple's bootstrap interval (0: none)");
  f.add("noise-at", "auto", "with --target-accuracy: test accuracy at whose first check the repeated probes run, the "
                            "same for every batch size (auto: the target less 0.005; a run that never gets there is "
                            "probed at its end)");
  add_schedule_flags(f, "cosine", /*step_flags=*/false);
  add_adam_flags(f);
}

TtaOptions parse_tta_flags(const Flags& f) {
  TtaOptions o;
  o.target = f.dbl("target-accuracy", 0.0, 1.0);
  TtaConfig& c = o.config;
  c.target = o.target;
  c.scaling = parse_lr_scaling(f.str("lr-scaling"));
  c.optimizer = parse_optimizer(f.str("optimizer"));
  c.base_lr = f.str("base-lr") == "auto" ? (c.optimizer == OptimizerKind::Adam ? 0.002 : 0.1)
                                         : f.dbl("base-lr", 1e-6, 10.0);
  c.base_batch = f.i64("base-batch", 1, int64_t{1} << 30);
  c.max_lr = f.dbl("max-lr", 1e-6, 10.0);
  c.warmup_images = f.i64("lr-warmup-images", 0, int64_t{1} << 40);
  c.max_epochs = f.dbl("max-epochs", 0.001, 1000.0);
  c.max_seconds = f.dbl("max-train-seconds", 0.001, 1e7);
  c.check_every_images = f.i64("check-every", 1, int64_t{1} << 40);
  c.noise_repeats = f.i64("noise-repeats", 0, 4096);
  c.noise_accuracy = f.str("noise-at") == "auto" ? -1 : f.dbl("noise-at", 0.0, 1.0);
  c.schedule = parse_schedule_flags(f);
  if (c.schedule.kind != ScheduleKind::Cosine && c.schedule.kind != ScheduleKind::OneCycle)
    throw UsageError("--schedule: with --target-accuracy, cosine or onecycle");
  c.beta1 = f.dbl("beta1", 0.0, 0.9999);
  c.beta2 = f.dbl("beta2", 0.0, 0.999999);
  return o;
}

int run_time_to_accuracy(const Flags& f, TtaOptions o, const SweepConfig& sweep, const Dataset& train,
                         const std::string& command, int threads, const std::string& conv_algo) {
  TtaConfig& c = o.config;
  c.batches = sweep.batches;
  c.model = sweep.model;
  c.seed = sweep.seed;
  c.ops = sweep.ops;
  const bool quiet = f.boolean("quiet"), json = f.boolean("json");
  const std::string out_dir = f.str("out") == "none" ? "" : f.str("out");
  const Dataset test = load_test_set(f);
  const TtaResult r = batchscope::run_time_to_accuracy(c, train, test, [&](const TtaRun& run, const TtaCheck& k) {
    if (quiet) return;
    std::fprintf(stderr, "sweep: batch %lld: %.2f epochs, %.1f s of training: test accuracy %.2f%%, B_simple %s\n",
                 static_cast<long long>(run.batch), k.epochs, k.train_seconds, 100 * k.test_accuracy,
                 report::bsimple_text(k.b_simple).c_str());
    std::fflush(stderr);
  });
  const report::TtaReport rep{r, c, command, threads, report_context(), train.name, train.images.n,
                              "conv " + conv_algo + ", precision " + std::string(kernels::to_string(c.ops->precision)) +
                                  ", kernels " + std::string(c.ops->name)};
  if (json)
    print_json(report::tta_json(rep));
  else
    std::fputs(report::tta_text(rep).c_str(), stdout);
  if (!out_dir.empty()) {
    // cmd_sweep made sure the folder exists and is writable before training.
    const std::filesystem::path dir(out_dir);
    write_file_atomic(dir / "tta.md", report::tta_markdown(rep));
    write_file_atomic(dir / "tta.csv", report::tta_csv(r));
    write_file_atomic(dir / "tta.json", report::tta_json(rep).dump(2) + "\n");
    write_file_atomic(dir / "time_to_accuracy.svg", report::tta_chart(rep));
    if (!quiet) std::fprintf(stderr, "sweep: wrote tta.md, tta.csv, tta.json, time_to_accuracy.svg in %s\n", out_dir.c_str());
  }
  return 0;
}

}  // namespace batchscope::cli
