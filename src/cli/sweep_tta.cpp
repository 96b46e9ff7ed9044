// Time to accuracy per batch size, for `sweep --target-accuracy` (see sweep_tta.h).
#include "cli/sweep_tta.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "batchscope/error.h"
#include "cli/common.h"
#include "core/atomic_file.h"
#include "report/svg_chart.h"
#include "report/table.h"
#include "measure/peak.h"

namespace batchscope::cli {

using report::fmt;

namespace {

std::string bsimple_text(double b) { return std::isfinite(b) && b > 0 ? fmt("%.0f", b) : "-"; }

report::Table summary_table(const TtaResult& r, double target) {
  report::Table t({"batch", "lr", "warm-up steps", fmt("reached %.2f%%", 100 * target), "epochs", "steps",
                   "train s", "best acc %", "B_simple", "eval s", "probe s"});
  for (const TtaRun& run : r.runs) {
    const TtaCheck& last = run.checks.empty() ? TtaCheck{} : run.checks.back();
    const TtaCheck& at = run.reached ? run.at_target : last;
    t.add({fmt("%lld", static_cast<long long>(run.batch)), fmt("%.4g", run.lr),
           fmt("%lld", static_cast<long long>(run.warmup_steps)),
           run.reached ? "yes" : "no (" + run.stopped_by.substr(0, 40) + ")", fmt("%.2f", at.epochs),
           fmt("%lld", static_cast<long long>(at.steps)), fmt("%.1f", at.train_seconds),
           fmt("%.2f", 100 * run.best_accuracy), bsimple_text(last.b_simple), fmt("%.1f", run.eval_seconds),
           fmt("%.1f", run.probe_seconds)});
  }
  return t;
}

report::Table curve_table(const TtaResult& r) {
  report::Table t({"batch", "steps", "images", "epochs", "train s", "test acc %", "test loss", "B_simple"});
  for (const TtaRun& run : r.runs)
    for (const TtaCheck& c : run.checks)
      t.add({fmt("%lld", static_cast<long long>(run.batch)), fmt("%lld", static_cast<long long>(c.steps)),
             fmt("%lld", static_cast<long long>(c.images)), fmt("%.2f", c.epochs), fmt("%.1f", c.train_seconds),
             fmt("%.2f", 100 * c.test_accuracy), fmt("%.4f", c.test_loss), bsimple_text(c.b_simple)});
  return t;
}

std::string verdict(const TtaResult& r, double target) {
  if (r.best < 0) return fmt("no batch size reached %.2f%% within the budget", 100 * target);
  const TtaRun& b = r.runs[static_cast<size_t>(r.best)];
  double bs = std::numeric_limits<double>::quiet_NaN();
  if (!b.checks.empty()) bs = b.at_target.b_simple;
  return fmt("fastest to %.2f%%: batch %lld in %.1f s of training (%.2f epochs, %lld steps); the gradient noise "
             "scale there was B_simple = %s, the critical batch size beyond which larger batches stop saving steps",
             100 * target, static_cast<long long>(b.batch), b.at_target.train_seconds, b.at_target.epochs,
             static_cast<long long>(b.at_target.steps), bsimple_text(bs).c_str());
}

std::vector<std::string> header(const TtaOptions& o, const std::string& command, int threads, const Dataset& train) {
  const TtaConfig& c = o.config;
  const ReportContext ctx = report_context();
  return {"command   " + command,
          "host      " + ctx.host,
          "date      " + ctx.date,
          "build     " + ctx.build,
          fmt("model     %s, %d threads, data %s (%lld training images)", c.model.c_str(), threads,
              train.name.c_str(), static_cast<long long>(train.images.n)),
          fmt("training  %s; lr = %.4g at batch %lld scaled %s (capped at %.3g), linear warm-up over "
              "%lld images, cosine decay over %.3g epochs",
              c.optimizer == OptimizerKind::Adam ? "Adam (0.9, 0.999)" : "SGD Nesterov momentum 0.9", c.base_lr,
              static_cast<long long>(c.base_batch), to_string(c.scaling).c_str(), c.max_lr,
              static_cast<long long>(c.warmup_images), c.max_epochs),
          fmt("checks    full test set every %lld images; budget %.3g epochs or %.0f s of training per batch size",
              static_cast<long long>(c.check_every_images), c.max_epochs, c.max_seconds),
          fmt("noise     B_simple = tr(Sigma)/|G|^2 from gradient norms at batch %lld and %lld (%lld x %lld) at each "
              "check, each estimate smoothed (EMA 0.9) before the ratio",
              static_cast<long long>(c.noise_b_small), static_cast<long long>(c.noise_b_small * c.noise_micro_batches),
              static_cast<long long>(c.noise_micro_batches), static_cast<long long>(c.noise_b_small))};
}

nlohmann::ordered_json to_json(const TtaResult& r, const TtaOptions& o, const std::string& command, int threads) {
  const ReportContext ctx = report_context();
  nlohmann::ordered_json runs = nlohmann::ordered_json::array();
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr); };
  for (const TtaRun& run : r.runs) {
    nlohmann::ordered_json checks = nlohmann::ordered_json::array();
    for (const TtaCheck& c : run.checks)
      checks.push_back({{"steps", c.steps}, {"images", c.images}, {"epochs", c.epochs},
                        {"train_seconds", c.train_seconds}, {"test_accuracy", c.test_accuracy},
                        {"test_loss", c.test_loss}, {"b_simple", num(c.b_simple)}});
    nlohmann::ordered_json j = {{"batch_size", run.batch}, {"lr", run.lr}, {"warmup_steps", run.warmup_steps},
                                {"reached", run.reached}, {"stopped_by", run.stopped_by},
                                {"best_accuracy", run.best_accuracy}, {"eval_seconds", run.eval_seconds},
                                {"probe_seconds", run.probe_seconds}};
    if (run.reached)
      j["at_target"] = {{"steps", run.at_target.steps}, {"epochs", run.at_target.epochs},
                        {"train_seconds", run.at_target.train_seconds}, {"b_simple", num(run.at_target.b_simple)}};
    j["checks"] = checks;
    runs.push_back(j);
  }
  const TtaConfig& c = o.config;
  return {{"command", command}, {"host", ctx.host}, {"date", ctx.date}, {"build", ctx.build},
          {"model", c.model}, {"threads", threads}, {"target_accuracy", c.target},
          {"optimizer", to_string(c.optimizer)}, {"lr_scaling", to_string(c.scaling)}, {"base_lr", c.base_lr}, {"base_batch", c.base_batch},
          {"max_lr", c.max_lr}, {"warmup_images", c.warmup_images}, {"max_epochs", c.max_epochs},
          {"max_train_seconds", c.max_seconds}, {"check_every_images", c.check_every_images},
          {"best_batch_size", r.best >= 0 ? nlohmann::ordered_json(r.runs[static_cast<size_t>(r.best)].batch)
                                          : nlohmann::ordered_json(nullptr)},
          {"runs", runs}};
}

std::string csv(const TtaResult& r) {
  std::string out = "batch_size,lr,steps,images,epochs,train_seconds,test_accuracy,test_loss,b_simple\n";
  for (const TtaRun& run : r.runs)
    for (const TtaCheck& c : run.checks)
      out += fmt("%lld,%.6g,%lld,%lld,%.6g,%.6g,%.6g,%.6g,%s\n", static_cast<long long>(run.batch), run.lr,
                 static_cast<long long>(c.steps), static_cast<long long>(c.images), c.epochs, c.train_seconds,
                 c.test_accuracy, c.test_loss, std::isfinite(c.b_simple) ? fmt("%.6g", c.b_simple).c_str() : "");
  return out;
}

// Test error on a log axis: accuracies near 99% all sit at the top of a linear 0-100% axis.
std::string chart(const TtaResult& r, double target, const std::string& command) {
  report::LineChart c;
  c.title = fmt("Test error against training time, per batch size (target %.2f%% accuracy)", 100 * target);
  c.x_label = "training seconds";
  c.y_label = "test error (%), log scale";
  c.log_x = false;
  c.log_y = true;
  double xmax = 0;
  for (const TtaRun& run : r.runs) {
    report::ChartSeries s;
    s.name = fmt("batch %lld", static_cast<long long>(run.batch));
    for (const TtaCheck& k : run.checks) {
      s.x.push_back(k.train_seconds);
      s.y.push_back(100 * (1 - k.test_accuracy));
      xmax = std::max(xmax, k.train_seconds);
    }
    c.series.push_back(s);
  }
  report::ChartSeries t;
  t.name = fmt("target: %.2f%% error", 100 * (1 - target));
  t.x = {0, xmax};
  t.y = {100 * (1 - target), 100 * (1 - target)};
  t.style = report::ChartSeries::Style::DashedLine;
  c.series.push_back(t);
  auto fit = [](const std::string& s) { return s.size() <= 110 ? s : s.substr(0, 107) + "..."; };
  if (r.best >= 0) {
    const TtaRun& b = r.runs[static_cast<size_t>(r.best)];
    c.notes.push_back(fmt("fastest: batch %lld, %.1f s of training (%.2f epochs)", static_cast<long long>(b.batch),
                          b.at_target.train_seconds, b.at_target.epochs));
  }
  c.notes.push_back(fit(command));
  return report::render_line_chart(c);
}

}  // namespace

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
                 bsimple_text(k.b_simple).c_str());
    std::fflush(stderr);
  });
  std::vector<std::string> h = header(o, command, threads, train);
  h.insert(h.begin() + 5, "engine    conv " + conv_algo + ", precision " +
                              std::string(kernels::to_string(c.ops->precision)) + ", kernels " +
                              std::string(c.ops->name));
  if (json) {
    print_json(to_json(r, o, command, threads));
  } else {
    std::printf("# batchscope sweep: time to %.2f%% test accuracy per batch size\n", 100 * c.target);
    for (const std::string& l : h) std::printf("# %s\n", l.c_str());
    std::printf("#\n%s#\n# accuracy curve and critical batch size at each check:\n%s# %s\n",
                summary_table(r, c.target).text().c_str(), curve_table(r).text().c_str(),
                verdict(r, c.target).c_str());
  }
  if (!out_dir.empty()) {
    // cmd_sweep made sure the folder exists and is writable before training.
    std::string md = fmt("# batchscope sweep: time to %.2f%% test accuracy\n\n", 100 * c.target);
    for (const std::string& l : h) md += "    " + l + "\n";
    md += "\n" + summary_table(r, c.target).markdown() + "\n" + verdict(r, c.target) +
          ".\n\n![test accuracy against training time](time_to_accuracy.svg)\n\n## Accuracy curve and critical batch "
          "size\n\n" + curve_table(r).markdown();
    const std::filesystem::path dir(out_dir);
    write_file_atomic(dir / "tta.md", md);
    write_file_atomic(dir / "tta.csv", csv(r));
    write_file_atomic(dir / "tta.json", to_json(r, o, command, threads).dump(2) + "\n");
    write_file_atomic(dir / "time_to_accuracy.svg", chart(r, c.target, command));
    if (!quiet) std::fprintf(stderr, "sweep: wrote tta.md, tta.csv, tta.json, time_to_accuracy.svg in %s\n", out_dir.c_str());
  }
  return 0;
}

}  // namespace batchscope::cli
