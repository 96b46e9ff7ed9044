// Rendering of the sweep report in its five forms (see sweep_report.h).
#include "report/sweep_report.h"

#include <algorithm>
#include <cmath>

#include "batchscope/error.h"
#include "core/atomic_file.h"
#include "report/explain.h"
#include "report/ranks_report.h"
#include "report/svg_chart.h"
#include "report/table.h"

namespace batchscope::report {

namespace {

ChartSeries series(std::string name, std::vector<double> x, std::vector<double> y,
                   ChartSeries::Style style = ChartSeries::Style::LinePoints) {
  ChartSeries c;
  c.name = std::move(name);
  c.x = std::move(x);
  c.y = std::move(y);
  c.style = style;
  return c;
}

// A chart note fits the chart's width (about 110 characters at its font size).
std::string note(const std::string& s) { return s.size() <= 110 ? s : s.substr(0, 107) + "..."; }

double peak_gflops(const SweepReport& r) { return r.peak.peak.gflops_all; }

double percent_of_peak(const SweepReport& r, double gflops) {
  return peak_gflops(r) > 0 ? 100.0 * gflops / peak_gflops(r) : 0.0;
}

// The header lines both text forms share, without their comment markers.
std::vector<std::string> header_lines(const SweepReport& r) {
  const SweepResult& s = r.sweep;
  const PeakResult& p = r.peak.peak;
  std::vector<std::string> h;
  h.push_back("command   " + r.command);
  h.push_back("host      " + r.ctx.host);
  h.push_back("date      " + r.ctx.date);
  h.push_back("build     " + r.ctx.build);
  h.push_back(fmt("model     %s: %lld parameters, %.2f MFLOP per trained image (3 x forward)",
                  s.model.c_str(), static_cast<long long>(s.parameters), s.mflop_trained));
  if (!r.recipe.empty()) h.push_back("recipe    " + r.recipe + " (batchscope models lists its settings)");
  h.push_back("spec      " + s.spec);
  h.push_back(fmt("data      %lld training images of %lldx%lld (%s); an epoch is all of them",
                  static_cast<long long>(s.epoch_images), static_cast<long long>(r.image_h),
                  static_cast<long long>(r.image_w), r.data_name.c_str()));
  h.push_back(fmt("threads   %d, back-end %s, conv %s", r.threads, s.backend.c_str(), r.conv_algo.c_str()));
  const bool epochs = !s.rows.empty() && !s.rows.front().extrapolated;
  h.push_back(epochs ? fmt("timing    %lld whole epoch(s) per batch size, after warm-up steps",
                           static_cast<long long>(s.rows.front().steps / std::max<int64_t>(1, s.rows.front().iterations_per_epoch)))
                     : fmt("timing    %lld images per batch size (at least one step) after max(3, ceil(256/B)) "
                           "warm-up steps; epoch times extrapolated",
                           static_cast<long long>(s.rows.empty() ? 0 : s.rows.front().images)));
  h.push_back("          SGD Nesterov momentum 0.9 at train's default learning rate; no evaluation");
  h.push_back(fmt("peak      %.1f GFLOP/s FP32 on %d threads (%.1f on 1), triad %.1f GB/s; %s",
                  p.gflops_all, p.threads, p.gflops_1t, p.triad_gbs, r.peak.origin.c_str()));
  return h;
}

Table main_table(const SweepReport& r) {
  Table t({"batch", "it/epoch", "ms/it", "img/s", "s/epoch", "s/5 epochs", "GFLOP/s", "% peak",
           "data %", "fwd %", "bwd %", "update %"});
  for (const SweepRow& row : r.sweep.rows) {
    const PhaseShares sh = phase_shares(row.profile);
    t.add({fmt("%lld", static_cast<long long>(row.batch)),
           fmt("%lld", static_cast<long long>(row.iterations_per_epoch)),
           fmt("%.3f", row.ms_per_iteration), fmt("%.1f", row.images_per_second),
           fmt("%.1f", row.seconds_per_epoch), fmt("%.1f", 5 * row.seconds_per_epoch),
           fmt("%.1f", row.gflops), fmt("%.1f", percent_of_peak(r, row.gflops)),
           fmt("%.1f", sh.data), fmt("%.1f", sh.forward), fmt("%.1f", sh.backward),
           fmt("%.1f", sh.update)});
  }
  return t;
}

// s/epoch per batch size for batchscope and each peer that ran, with the peer/batchscope ratio.
Table peer_table(const SweepReport& r) {
  std::vector<std::string> h = {"batch", "batchscope s/epoch"};
  for (const PeerRun& p : r.peers)
    if (p.ran) {
      h.push_back(p.peer + " s/epoch");
      h.push_back(p.peer + " img/s");
      h.push_back("x slower");
    }
  Table t(h);
  for (const SweepRow& row : r.sweep.rows) {
    std::vector<std::string> cells = {fmt("%lld", static_cast<long long>(row.batch)),
                                      fmt("%.1f", row.seconds_per_epoch)};
    for (const PeerRun& p : r.peers) {
      if (!p.ran) continue;
      auto it = std::find_if(p.rows.begin(), p.rows.end(), [&](const PeerRow& q) { return q.batch == row.batch; });
      if (it == p.rows.end()) {
        cells.insert(cells.end(), {"-", "-", "-"});
        continue;
      }
      cells.push_back(fmt("%.1f", it->seconds_per_epoch));
      cells.push_back(fmt("%.1f", it->images_per_second));
      cells.push_back(fmt("%.2f", it->seconds_per_epoch / row.seconds_per_epoch));
    }
    t.add(cells);
  }
  return t;
}

std::vector<std::string> cost_model_lines(const SweepReport& r, const SweepAnalysis& a) {
  std::vector<std::string> l;
  if (!a.have_fit) return l;
  l.push_back("cost model t_epoch(B) = N*(a/B + b), least squares over these rows:");
  l.push_back(fmt("  a = %.3f ms per iteration (fixed), b = %.4f ms per image, R^2 = %.4f", 1e3 * a.fit.a,
                  1e3 * a.fit.b, a.fit.r2));
  if (a.fit.b > 0)
    l.push_back(fmt("  floor N*b = %.1f s per epoch, within 10%% of it from batch %.0f on; compute-bound "
                    "limit N*FLOPs/peak = %.1f s",
                    a.floor_seconds, a.fit.batch_within_10pct, a.compute_floor_seconds));
  else
    l.push_back("  b <= 0: the timings are too short or noisy for a fit; time more --images");
  return l;
}

// One line per rank count: how it ran, or why not, and the batch sizes it skipped.
std::vector<std::string> rank_notes(const SweepReport& r) {
  std::vector<std::string> l;
  for (const RankRun& run : r.rank_runs) {
    std::string s = fmt("%d rank%s x %d thread%s: %s", run.ranks, run.ranks == 1 ? "" : "s", run.threads_per_rank,
                        run.threads_per_rank == 1 ? "" : "s", run.note.c_str());
    if (!run.skipped.empty()) {
      s += "; skipped batch";
      for (size_t i = 0; i < run.skipped.size(); ++i) s += (i ? ", " : " ") + std::to_string(run.skipped[i]);
      s += fmt(" (not a multiple of %d)", run.ranks);
    }
    l.push_back(s);
  }
  return l;
}

std::vector<std::string> peer_notes(const SweepReport& r) {
  std::vector<std::string> l;
  for (const PeerRun& p : r.peers) l.push_back(p.peer + ": " + p.note);
  return l;
}

}  // namespace

PhaseShares phase_shares(const StepProfile& p) {
  PhaseShares s;
  if (p.step_ms <= 0) return s;
  const double k = 100.0 / p.step_ms;
  s.data = k * p.data_ms;
  s.forward = k * (p.forward_ms + p.loss_ms);
  s.backward = k * p.backward_ms;
  s.update = k * (p.update_ms + p.zero_grad_ms);
  s.comm = k * p.comm_ms;
  s.other = std::max(0.0, 100.0 - s.data - s.forward - s.backward - s.update - s.comm);
  return s;
}

SweepAnalysis analyse_sweep(const SweepReport& r) {
  SweepAnalysis a;
  std::vector<int64_t> b;
  std::vector<double> t;
  for (const SweepRow& row : r.sweep.rows) {
    b.push_back(row.batch);
    t.push_back(row.seconds_per_epoch);
  }
  a.fit = fit_cost_model(b, t, r.sweep.epoch_images);
  std::vector<int64_t> distinct = b;
  std::sort(distinct.begin(), distinct.end());
  a.have_fit = std::unique(distinct.begin(), distinct.end()) - distinct.begin() >= 2;
  const double n = static_cast<double>(r.sweep.epoch_images);
  a.floor_seconds = a.fit.b * n;
  if (peak_gflops(r) > 0)
    a.compute_floor_seconds = n * r.sweep.mflop_trained * 1e6 / (peak_gflops(r) * 1e9);
  if (a.have_fit && a.fit.b > 0) a.explanation = explain_sweep(r, a);
  a.ranks = analyse_ranks(r);
  return a;
}

std::string sweep_text(const SweepReport& r, const SweepAnalysis& a) {
  std::string out = "# batchscope sweep: training speed per batch size\n";
  for (const std::string& l : header_lines(r)) out += "# " + l + "\n";
  out += "#\n" + main_table(r).text();
  for (const std::string& l : cost_model_lines(r, a)) out += "# " + l + "\n";
  if (!a.explanation.empty()) {
    out += "#\n# why the curve flattens (every figure measured in this run):\n";
    for (const std::string& p : a.explanation) out += "# - " + p + "\n";
  }
  if (!r.rank_runs.empty()) {
    out += "#\n# across ranks (data parallel over MPI, the global batch split into R shards):\n";
    for (const std::string& l : rank_notes(r)) out += "#   " + l + "\n";
    const Table t = ranks_table(r, a.ranks);
    if (!t.empty()) out += t.text();
    for (const std::string& p : a.ranks.explanation) out += "# - " + p + "\n";
  }
  if (!r.peers.empty()) {
    out += "#\n# the same network elsewhere, same batch sizes, same threads:\n";
    for (const std::string& l : peer_notes(r)) out += "#   " + l + "\n";
    const Table t = peer_table(r);
    if (std::any_of(r.peers.begin(), r.peers.end(), [](const PeerRun& p) { return p.ran; })) out += t.text();
  }
  return out;
}

std::string sweep_markdown(const SweepReport& r, const SweepAnalysis& a) {
  std::string out = "# batchscope sweep: training speed per batch size\n\n";
  for (const std::string& l : header_lines(r)) out += "    " + l + "\n";
  out += "\n## Speed per batch size\n\n" + main_table(r).markdown();
  out += "\nShares are of the step's wall time: data = batch fill, fwd = forward and loss, bwd = backward,"
         " update = optimizer step and zeroing the gradients (with the dense layers' weight gradients, which the\n"
         " optimizer builds inside its step).\n";
  out += "\n![seconds per epoch against batch size](epoch_time.svg)\n\n![where each step's time goes](phase_shares.svg)\n";
  if (a.have_fit) {
    out += "\n## Cost model\n\n";
    for (const std::string& l : cost_model_lines(r, a)) out += "    " + l + "\n";
  }
  if (!a.explanation.empty()) {
    out += "\n## Why the curve flattens\n\nEvery figure below was measured in this run.\n\n";
    for (const std::string& p : a.explanation) out += "- " + p + "\n";
  }
  if (!r.rank_runs.empty()) {
    out += "\n## Across ranks\n\nData parallel over MPI: each global batch split into R shards, one per rank, the "
           "gradient summed with an allreduce every step.\n\n";
    for (const std::string& l : rank_notes(r)) out += "- " + l + "\n";
    const Table t = ranks_table(r, a.ranks);
    if (!t.empty()) out += "\n" + t.markdown();
    if (!a.ranks.explanation.empty()) out += "\n";
    for (const std::string& p : a.ranks.explanation) out += "- " + p + "\n";
  }
  if (!r.peers.empty()) {
    out += "\n## The same network elsewhere\n\n";
    for (const std::string& l : peer_notes(r)) out += "- " + l + "\n";
    if (std::any_of(r.peers.begin(), r.peers.end(), [](const PeerRun& p) { return p.ran; }))
      out += "\n" + peer_table(r).markdown();
  }
  return out;
}

std::string sweep_csv(const SweepReport& r) {
  std::string out =
      "source,batch_size,iterations_per_epoch,ms_per_iteration,images_per_second,seconds_per_epoch,"
      "seconds_per_5_epochs,gflops,percent_of_peak,data_pct,forward_pct,backward_pct,update_pct,"
      "other_pct,images_timed,extrapolated,comm_pct,ranks,threads_per_rank\n";
  const double n = static_cast<double>(r.sweep.epoch_images);
  // The main rows, then those of the other rank counts (sweep --ranks).
  std::vector<const SweepRow*> rows;
  for (const SweepRow& row : r.sweep.rows) rows.push_back(&row);
  const int main_ranks = r.sweep.rows.empty() ? 1 : r.sweep.rows.front().ranks;
  for (const RankRun& run : r.rank_runs)
    if (run.ranks != main_ranks)
      for (const SweepRow& row : run.rows) rows.push_back(&row);
  for (const SweepRow* rp : rows) {
    const SweepRow& row = *rp;
    const PhaseShares sh = phase_shares(row.profile);
    // Shares with three decimals, not four significant digits: five values rounded to 0.005
    // each (33.45) could miss their sum of 100 by 0.0125; to 0.0005 they stay within 0.0025.
    out += fmt("batchscope,%lld,%lld,%.6g,%.6g,%.6g,%.6g,%.6g,%.4g,%.3f,%.3f,%.3f,%.3f,%.3f,%lld,%s,%.3f,%d,%d\n",
               static_cast<long long>(row.batch), static_cast<long long>(row.iterations_per_epoch),
               row.ms_per_iteration, row.images_per_second, row.seconds_per_epoch, 5 * row.seconds_per_epoch,
               row.gflops, percent_of_peak(r, row.gflops), sh.data, sh.forward, sh.backward, sh.update,
               sh.other, static_cast<long long>(row.images), row.extrapolated ? "true" : "false", sh.comm,
               row.ranks, row.threads_per_rank);
  }
  for (const PeerRun& p : r.peers)
    for (const PeerRow& q : p.rows) {
      const double gflops = q.images_per_second * r.sweep.mflop_trained * 1e-3;
      out += fmt("%s,%lld,%lld,%.6g,%.6g,%.6g,%.6g,%.6g,%.4g,,,,,,%lld,true,,1,\n", p.peer.c_str(),
                 static_cast<long long>(q.batch), static_cast<long long>(n) / q.batch, q.ms_per_iteration,
                 q.images_per_second, q.seconds_per_epoch, 5 * q.seconds_per_epoch, gflops,
                 percent_of_peak(r, gflops), static_cast<long long>(q.images));
    }
  return out;
}

nlohmann::ordered_json row_json(const SweepReport& r, const SweepRow& row) {
  const SweepResult& s = r.sweep;
  const PhaseShares sh = phase_shares(row.profile);
  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  for (size_t i = 0; i < row.profile.layers.size(); ++i) {
    const LayerTimes& l = row.profile.layers[i];
    layers.push_back({{"layer", i}, {"spec", i < s.layer_specs.size() ? s.layer_specs[i] : std::string()},
                      {"forward_ms", l.forward_ms}, {"backward_data_ms", l.backward_data_ms},
                      {"backward_weights_ms", l.backward_weights_ms}});
  }
  nlohmann::ordered_json j = {
      {"batch_size", row.batch},
      {"ranks", row.ranks},
      {"threads_per_rank", row.threads_per_rank},
      {"iterations_per_epoch", row.iterations_per_epoch},
      {"ms_per_iteration", row.ms_per_iteration},
      {"images_per_second", row.images_per_second},
      {"seconds_per_epoch", row.seconds_per_epoch},
      {"seconds_per_5_epochs", 5 * row.seconds_per_epoch},
      {"gflops", row.gflops},
      {"percent_of_peak", percent_of_peak(r, row.gflops)},
      {"phase_percent", {{"data", sh.data}, {"forward", sh.forward}, {"backward", sh.backward},
                         {"update", sh.update}, {"comm", sh.comm}, {"other", sh.other}}},
      {"phase_ms", {{"data", row.profile.data_ms}, {"forward", row.profile.forward_ms},
                    {"loss", row.profile.loss_ms}, {"backward", row.profile.backward_ms},
                    {"zero_grad", row.profile.zero_grad_ms}, {"update", row.profile.update_ms},
                    {"comm", row.profile.comm_ms}, {"step", row.profile.step_ms}}},
      {"layers", layers},
      {"warmup_steps", row.warmup_steps},
      {"steps_timed", row.steps},
      {"images_timed", row.images},
      {"extrapolated", row.extrapolated},
      {"lr", row.lr}};
  if (row.ranks > 1)
    j["noise_scale"] = {{"b_simple", row.noise.b_simple}, {"lo", row.noise.lo}, {"hi", row.noise.hi},
                        {"steps", row.noise.samples}, {"shard_batch", row.batch / row.ranks},
                        {"ms_per_step", row.noise_ms_per_step}};
  return j;
}

SweepRow row_from_json(const nlohmann::json& j) {
  SweepRow row;
  row.batch = j.at("batch_size").get<int64_t>();
  row.iterations_per_epoch = j.at("iterations_per_epoch").get<int64_t>();
  row.ms_per_iteration = j.at("ms_per_iteration").get<double>();
  row.images_per_second = j.at("images_per_second").get<double>();
  row.seconds_per_epoch = j.at("seconds_per_epoch").get<double>();
  row.gflops = j.at("gflops").get<double>();
  row.warmup_steps = j.at("warmup_steps").get<int64_t>();
  row.steps = j.at("steps_timed").get<int64_t>();
  row.images = j.at("images_timed").get<int64_t>();
  row.extrapolated = j.at("extrapolated").get<bool>();
  row.lr = j.at("lr").get<double>();
  row.seconds = row.ms_per_iteration * 1e-3 * static_cast<double>(row.steps);
  const nlohmann::json& p = j.at("phase_ms");
  StepProfile& f = row.profile;
  f.steps = row.steps;
  f.data_ms = p.at("data").get<double>();
  f.forward_ms = p.at("forward").get<double>();
  f.loss_ms = p.at("loss").get<double>();
  f.backward_ms = p.at("backward").get<double>();
  f.zero_grad_ms = p.at("zero_grad").get<double>();
  f.update_ms = p.at("update").get<double>();
  f.comm_ms = p.value("comm", 0.0);
  f.step_ms = p.at("step").get<double>();
  for (const nlohmann::json& l : j.at("layers"))
    f.layers.push_back({l.at("forward_ms").get<double>(), l.at("backward_data_ms").get<double>(),
                        l.at("backward_weights_ms").get<double>()});
  row.ranks = j.value("ranks", 1);
  row.threads_per_rank = j.value("threads_per_rank", 1);
  if (j.contains("noise_scale")) {
    const nlohmann::json& n = j["noise_scale"];
    // NaN is written as null.
    auto num = [](const nlohmann::json& v) { return v.is_number() ? v.get<double>() : std::nan(""); };
    row.noise = {n.at("steps").get<int64_t>(), num(n.at("b_simple")), num(n.at("lo")), num(n.at("hi"))};
    row.noise_ms_per_step = n.at("ms_per_step").get<double>();
  }
  return row;
}

nlohmann::ordered_json sweep_json(const SweepReport& r, const SweepAnalysis& a) {
  const SweepResult& s = r.sweep;
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const SweepRow& row : s.rows) results.push_back(row_json(r, row));
  nlohmann::ordered_json j = {{"command", r.command}, {"host", r.ctx.host}, {"date", r.ctx.date},
                              {"build", r.ctx.build}, {"model", s.model}, {"spec", s.spec},
                              {"recipe", r.recipe.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.recipe)},
                              {"parameters", s.parameters}, {"mflop_trained", s.mflop_trained},
                              {"threads", r.threads}, {"backend", s.backend}, {"conv_algo", r.conv_algo},
                              {"images", s.images_budget}, {"epochs", s.epochs},
                              {"epoch_images", s.epoch_images}};
  nlohmann::ordered_json peak = {{"origin", r.peak.origin}, {"measured_on", r.peak.date}, {"host", r.peak.host}};
  peak.update(peak_to_json(r.peak.peak));
  j["peak"] = peak;
  j["fork_join_us"] = r.fork_join_us;
  j["results"] = results;
  if (a.have_fit && a.fit.b > 0)
    j["cost_model"] = {{"a_seconds_per_iteration", a.fit.a}, {"b_seconds_per_image", a.fit.b},
                       {"r2", a.fit.r2}, {"batch_within_10pct_of_floor", a.fit.batch_within_10pct},
                       {"floor_seconds_per_epoch", a.floor_seconds},
                       {"compute_bound_seconds_per_epoch", a.compute_floor_seconds},
                       {"explanation", a.explanation}};
  nlohmann::ordered_json peers = nlohmann::ordered_json::array();
  for (const PeerRun& p : r.peers) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const PeerRow& q : p.rows)
      rows.push_back({{"batch_size", q.batch}, {"ms_per_iteration", q.ms_per_iteration},
                      {"images_per_second", q.images_per_second}, {"seconds_per_epoch", q.seconds_per_epoch},
                      {"images_timed", q.images}});
    peers.push_back({{"peer", p.peer}, {"ran", p.ran}, {"note", p.note}, {"results", rows}});
  }
  if (!r.peers.empty()) j["peers"] = peers;
  if (!r.rank_runs.empty()) j["ranks"] = ranks_json(r, a.ranks);
  return j;
}

std::string epoch_time_svg(const SweepReport& r, const SweepAnalysis& a) {
  LineChart c;
  c.title = "Seconds per epoch against batch size (" + r.sweep.model + ", " + std::to_string(r.threads) + " threads)";
  c.x_label = "batch size";
  c.y_label = "seconds per epoch";
  ChartSeries measured = series("batchscope, measured", {}, {});
  for (const SweepRow& row : r.sweep.rows) {
    measured.x.push_back(static_cast<double>(row.batch));
    measured.y.push_back(row.seconds_per_epoch);
  }
  double lo = 1, hi = 1;
  if (!measured.x.empty()) {
    lo = *std::min_element(measured.x.begin(), measured.x.end());
    hi = *std::max_element(measured.x.begin(), measured.x.end());
  }
  c.series.push_back(measured);
  const double n = static_cast<double>(r.sweep.epoch_images);
  if (a.have_fit && a.fit.b > 0) {
    ChartSeries fit = series("fit N(a/B + b)", {}, {}, ChartSeries::Style::Line);
    c.notes.push_back(fmt("fit: a = %.3f ms per iteration, b = %.4f ms per image, R^2 = %.4f; N = %lld images",
                          1e3 * a.fit.a, 1e3 * a.fit.b, a.fit.r2, static_cast<long long>(r.sweep.epoch_images)));
    for (double x = lo; x <= hi * 1.0001; x *= std::pow(2.0, 0.125)) {
      fit.x.push_back(x);
      fit.y.push_back(n * (a.fit.a / x + a.fit.b));
    }
    c.series.push_back(fit);
    c.series.push_back(series(fmt("floor N*b = %.1f s", a.floor_seconds), {lo, hi},
                              {a.floor_seconds, a.floor_seconds}, ChartSeries::Style::DashedLine));
  }
  if (a.compute_floor_seconds > 0)
    c.series.push_back(series(fmt("at peak FLOP/s: %.1f s", a.compute_floor_seconds), {lo, hi},
                              {a.compute_floor_seconds, a.compute_floor_seconds}, ChartSeries::Style::DashedLine));
  double ymin = 1e300, ymax = 0;
  for (const PeerRun& p : r.peers) {
    if (!p.ran) continue;
    ChartSeries s = series(p.peer + ", measured", {}, {});
    for (const PeerRow& q : p.rows) {
      s.x.push_back(static_cast<double>(q.batch));
      s.y.push_back(q.seconds_per_epoch);
    }
    c.series.push_back(s);
  }
  const int main_ranks = r.sweep.rows.empty() ? 1 : r.sweep.rows.front().ranks;
  for (const RankRun& run : r.rank_runs) {
    if (!run.ran || run.ranks == main_ranks || run.rows.empty()) continue;
    ChartSeries s = series(fmt("%d ranks x %d thread%s, measured", run.ranks, run.threads_per_rank,
                               run.threads_per_rank == 1 ? "" : "s"), {}, {});
    for (const SweepRow& row : run.rows) {
      s.x.push_back(static_cast<double>(row.batch));
      s.y.push_back(row.seconds_per_epoch);
    }
    c.series.push_back(s);
  }
  for (const ChartSeries& s : c.series)
    for (double y : s.y)
      if (y > 0) ymin = std::min(ymin, y), ymax = std::max(ymax, y);
  c.log_y = ymax > 20 * ymin;  // peers an order of magnitude slower: keep both curves readable
  c.notes.push_back(note(r.ctx.host + ", " + r.ctx.date + "; " + r.command));
  return render_line_chart(c);
}

std::string phase_shares_svg(const SweepReport& r) {
  StackedBarChart c;
  c.title = "Where each training step's time goes (" + r.sweep.model + ")";
  c.x_label = "batch size";
  c.y_label = "share of step time";
  const bool comm = std::any_of(r.sweep.rows.begin(), r.sweep.rows.end(),
                                [](const SweepRow& row) { return row.profile.comm_ms > 0; });
  c.parts = {"data", "forward + loss", "backward", "update", "other"};
  if (comm) c.parts.insert(c.parts.end() - 1, "comm (allreduce)");
  c.values.assign(c.parts.size(), {});
  for (const SweepRow& row : r.sweep.rows) {
    c.categories.push_back(std::to_string(row.batch));
    const PhaseShares s = phase_shares(row.profile);
    std::vector<double> v = {s.data, s.forward, s.backward, s.update, s.other};
    if (comm) v.insert(v.end() - 1, s.comm);
    for (size_t i = 0; i < c.parts.size(); ++i) c.values[i].push_back(std::max(0.0, v[i]));
  }
  c.notes.push_back(note(r.ctx.host + ", " + r.ctx.date + "; " + r.command));
  return render_stacked_bar_chart(c);
}

std::vector<std::filesystem::path> write_sweep_files(const std::filesystem::path& dir,
                                                     const SweepReport& r, const SweepAnalysis& a) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("cannot create the report folder '" + dir.string() + "': " + ec.message());
  const std::vector<std::pair<std::string, std::string>> files = {
      {"sweep.md", sweep_markdown(r, a)},
      {"sweep.csv", sweep_csv(r)},
      {"sweep.json", sweep_json(r, a).dump(2) + "\n"},
      {"epoch_time.svg", epoch_time_svg(r, a)},
      {"phase_shares.svg", phase_shares_svg(r)},
  };
  std::vector<std::filesystem::path> written;
  for (const auto& [name, text] : files) {
    write_file_atomic(dir / name, text);
    written.push_back(dir / name);
  }
  return written;
}

}  // namespace batchscope::report
