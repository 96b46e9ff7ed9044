// The time-to-accuracy report of `sweep --target-accuracy`: text, Markdown, CSV, JSON, chart.
#include "report/tta_report.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "report/batch_advice.h"
#include "report/svg_chart.h"
#include "report/table.h"

namespace batchscope::report {

std::string bsimple_text(double b) { return std::isfinite(b) && b > 0 ? fmt("%.0f", b) : "-"; }

namespace {

// The repeated probes' estimate and interval where they ran ("no signal" where their mean |G|^2
// was not positive), else the smoothed estimate of the last check.
std::string end_noise_text(const TtaRun& run, const TtaCheck& last) {
  const NoiseScaleInterval& n = run.noise_repeated;
  if (n.samples < 2) return bsimple_text(last.b_simple);
  if (!std::isfinite(n.b_simple) || n.b_simple <= 0) return "no signal";
  return noise_interval_text(n, "inf");
}

Table summary_table(const TtaResult& r, const TtaConfig& cfg) {
  const double target = cfg.target;
  Table t({"batch", "lr", "warm-up steps", fmt("reached %.2f%%", 100 * target), "epochs", "steps",
                   "train s", "best acc %", fmt("B_simple at %.2f%% [16-84%%]", 100 * noise_accuracy(cfg)), "eval s", "probe s"});
  for (const TtaRun& run : r.runs) {
    const TtaCheck& last = run.checks.empty() ? TtaCheck{} : run.checks.back();
    const TtaCheck& at = run.reached ? run.at_target : last;
    t.add({fmt("%lld", static_cast<long long>(run.batch)), fmt("%.4g", run.lr),
           fmt("%lld", static_cast<long long>(run.warmup_steps)),
           run.reached ? "yes" : "no (" + run.stopped_by.substr(0, 40) + ")", fmt("%.2f", at.epochs),
           fmt("%lld", static_cast<long long>(at.steps)), fmt("%.1f", at.train_seconds),
           fmt("%.2f", 100 * run.best_accuracy), end_noise_text(run, last), fmt("%.1f", run.eval_seconds),
           fmt("%.1f", run.probe_seconds)});
  }
  return t;
}

Table curve_table(const TtaResult& r) {
  Table t({"batch", "steps", "images", "epochs", "train s", "test acc %", "test loss", "B_simple"});
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

nlohmann::ordered_json advice_json(const TtaResult& r, const TtaConfig& c) {
  const BatchAdvice a = advise_batch(r, c);
  nlohmann::ordered_json tied = nlohmann::ordered_json::array();
  for (int i : a.tied) tied.push_back(r.runs[static_cast<size_t>(i)].batch);
  return {{"recommended_batch_size", a.recommended >= 0 ? nlohmann::ordered_json(r.runs[static_cast<size_t>(a.recommended)].batch)
                                                       : nlohmann::ordered_json(nullptr)},
          {"tied_batch_sizes", tied},
          {"noise_runs", a.noise_runs},
          {"noise_consistent", a.noise_consistent},
          {"shared_b_simple", a.noise_consistent ? nlohmann::ordered_json({a.shared_lo, std::isfinite(a.shared_hi)
                                                                                             ? nlohmann::ordered_json(a.shared_hi)
                                                                                             : nlohmann::ordered_json(nullptr)})
                                                 : nlohmann::ordered_json(nullptr)},
          {"explanation", a.lines}};
}

std::string advice_text(const TtaResult& r, const TtaConfig& c, const std::string& prefix) {
  std::string s;
  for (const std::string& l : advise_batch(r, c).lines) s += prefix + l + "\n";
  return s;
}

}  // namespace

std::vector<std::string> tta_header(const TtaReport& t) {
  const TtaConfig& c = t.config;
  return {"command   " + t.command,
          "host      " + t.ctx.host,
          "date      " + t.ctx.date,
          "build     " + t.ctx.build,
          fmt("model     %s, %d threads, data %s (%lld training images)", c.model.c_str(), t.threads,
              t.data_name.c_str(), static_cast<long long>(t.train_images)),
          "engine    " + t.engine,
          fmt("training  %s%s; lr = %.4g at batch %lld scaled %s (capped at %.3g), %s",
              c.recipe.empty() ? "" : ("recipe " + c.recipe + ": ").c_str(),
              c.optimizer == OptimizerKind::Adam ? fmt("Adam (%g, %g)", c.beta1, c.beta2).c_str()
                                                 : "SGD Nesterov momentum 0.9",
              c.base_lr, static_cast<long long>(c.base_batch), to_string(c.scaling).c_str(), c.max_lr,
              c.schedule.kind == ScheduleKind::OneCycle
                  ? fmt("one-cycle over %.3g epochs (peak at %.0f%% of them, from lr/%g to lr/%g/%g%s)", c.max_epochs,
                        100 * c.schedule.pct_start, c.schedule.div_factor, c.schedule.div_factor,
                        c.schedule.final_div_factor, c.schedule.cycle_momentum ? ", momentum cycled" : "").c_str()
                  : fmt("linear warm-up over %lld images, cosine decay over %.3g epochs",
                        static_cast<long long>(c.warmup_images), c.max_epochs).c_str()),
          fmt("checks    full test set every %lld images; budget %.3g epochs or %.0f s of training per batch size",
              static_cast<long long>(c.check_every_images), c.max_epochs, c.max_seconds),
          fmt("noise     B_simple = tr(Sigma)/|G|^2 from gradient norms at batch %lld and %lld (%lld x %lld) at each "
              "check, each estimate smoothed (EMA 0.9) before the ratio; at the first check at or above %.2f%% (else the "
              "last) %lld repeated probes at the same parameters give its bootstrap interval",
              static_cast<long long>(c.noise_b_small), static_cast<long long>(c.noise_b_small * c.noise_micro_batches),
              static_cast<long long>(c.noise_micro_batches), static_cast<long long>(c.noise_b_small),
              100 * noise_accuracy(c), static_cast<long long>(c.noise_repeats))};
}

nlohmann::ordered_json tta_json(const TtaReport& t) {
  const TtaResult& r = t.result;
  const ReportContext& ctx = t.ctx;
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
    const NoiseScaleInterval& n = run.noise_repeated;
    j["noise_repeated"] = {{"probes", n.samples}, {"b_simple", num(n.b_simple)}, {"lo", num(n.lo)}, {"hi", num(n.hi)},
                           {"at_steps", run.noise_check.steps}, {"at_test_accuracy", run.noise_check.test_accuracy}};
    j["checks"] = checks;
    runs.push_back(j);
  }
  const TtaConfig& c = t.config;
  return {{"command", t.command}, {"host", ctx.host}, {"date", ctx.date}, {"build", ctx.build},
          {"model", c.model}, {"recipe", c.recipe.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(c.recipe)},
          {"threads", t.threads}, {"schedule", to_string(c.schedule.kind)}, {"beta1", c.beta1}, {"beta2", c.beta2}, {"target_accuracy", c.target},
          {"optimizer", to_string(c.optimizer)}, {"lr_scaling", to_string(c.scaling)}, {"base_lr", c.base_lr}, {"base_batch", c.base_batch},
          {"max_lr", c.max_lr}, {"warmup_images", c.warmup_images}, {"max_epochs", c.max_epochs},
          {"max_train_seconds", c.max_seconds}, {"check_every_images", c.check_every_images},
          {"best_batch_size", r.best >= 0 ? nlohmann::ordered_json(r.runs[static_cast<size_t>(r.best)].batch)
                                          : nlohmann::ordered_json(nullptr)},
          {"noise_repeats", c.noise_repeats}, {"noise_accuracy", noise_accuracy(c)}, {"runs", runs}, {"advice", advice_json(r, c)}};
}

std::string tta_csv(const TtaResult& r) {
  std::string out = "batch_size,lr,steps,images,epochs,train_seconds,test_accuracy,test_loss,b_simple\n";
  for (const TtaRun& run : r.runs)
    for (const TtaCheck& c : run.checks)
      out += fmt("%lld,%.6g,%lld,%lld,%.6g,%.6g,%.6g,%.6g,%s\n", static_cast<long long>(run.batch), run.lr,
                 static_cast<long long>(c.steps), static_cast<long long>(c.images), c.epochs, c.train_seconds,
                 c.test_accuracy, c.test_loss, std::isfinite(c.b_simple) ? fmt("%.6g", c.b_simple).c_str() : "");
  return out;
}

// Test error on a log axis: accuracies near 99% all sit at the top of a linear 0-100% axis.
std::string tta_chart(const TtaReport& rep) {
  const TtaResult& r = rep.result;
  const double target = rep.config.target;
  const std::string& command = rep.command;
  LineChart c;
  c.title = fmt("Test error against training time, per batch size (target %.2f%% accuracy)", 100 * target);
  c.x_label = "training seconds";
  c.y_label = "test error (%), log scale";
  c.log_x = false;
  c.log_y = true;
  double xmax = 0;
  for (const TtaRun& run : r.runs) {
    ChartSeries s;
    s.name = fmt("batch %lld", static_cast<long long>(run.batch));
    for (const TtaCheck& k : run.checks) {
      s.x.push_back(k.train_seconds);
      s.y.push_back(100 * (1 - k.test_accuracy));
      xmax = std::max(xmax, k.train_seconds);
    }
    c.series.push_back(s);
  }
  ChartSeries t;
  t.name = fmt("target: %.2f%% error", 100 * (1 - target));
  t.x = {0, xmax};
  t.y = {100 * (1 - target), 100 * (1 - target)};
  t.style = ChartSeries::Style::DashedLine;
  c.series.push_back(t);
  auto fit = [](const std::string& s) { return s.size() <= 110 ? s : s.substr(0, 107) + "..."; };
  if (r.best >= 0) {
    const TtaRun& b = r.runs[static_cast<size_t>(r.best)];
    c.notes.push_back(fmt("fastest: batch %lld, %.1f s of training (%.2f epochs)", static_cast<long long>(b.batch),
                          b.at_target.train_seconds, b.at_target.epochs));
  }
  c.notes.push_back(fit(command));
  return render_line_chart(c);
}

std::string tta_text(const TtaReport& t) {
  std::string s = fmt("# batchscope sweep: time to %.2f%% test accuracy per batch size\n", 100 * t.config.target);
  for (const std::string& l : tta_header(t)) s += "# " + l + "\n";
  s += "#\n" + summary_table(t.result, t.config).text() + "#\n# accuracy curve and critical batch size at each check:\n" +
       curve_table(t.result).text() + "# " + verdict(t.result, t.config.target) + "\n#\n# batch size advice:\n" +
       advice_text(t.result, t.config, "# ");
  return s;
}

std::string tta_markdown(const TtaReport& t) {
  std::string md = fmt("# batchscope sweep: time to %.2f%% test accuracy\n\n", 100 * t.config.target);
  for (const std::string& l : tta_header(t)) md += "    " + l + "\n";
  md += "\n" + summary_table(t.result, t.config).markdown() + "\n" + verdict(t.result, t.config.target) +
        ".\n\n## Batch size advice\n\n" + advice_text(t.result, t.config, "- ") +
        "\n![test accuracy against training time](time_to_accuracy.svg)\n\n## Accuracy curve and critical batch "
        "size\n\n" + curve_table(t.result).markdown();
  return md;
}

}  // namespace batchscope::report
