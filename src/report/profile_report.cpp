// Rendering of `batchscope profile` (profile_report.h).
#include "report/profile_report.h"

#include <algorithm>

#include "report/table.h"

namespace batchscope::report {

namespace {
double gflops(const ProfileRow& r) { return r.ms > 0 ? r.work.flops / (r.ms * 1e-3) * 1e-9 : 0.0; }
double gbs(const ProfileRow& r) { return r.ms > 0 ? r.work.bytes / (r.ms * 1e-3) * 1e-9 : 0.0; }
}  // namespace

std::vector<ProfileRow> profile_rows(const StepProfile& p, const StepWork& w, const Model& m) {
  std::vector<ProfileRow> rows;
  rows.push_back({"-", "data", p.data_ms, w.data});
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const LayerTimes& t = p.layers[i];
    const LayerWork& lw = w.layers[i];
    const std::string name = fmt("%zu %s", i, std::string(m.layers()[i]->kind()).c_str());
    if (lw.view) {
      rows.push_back({name, "forward and backward (a view of its input: no copy)", 0, {}});
      continue;
    }
    if (!lw.fused) rows.push_back({name, "forward", t.forward_ms, lw.forward});
    else rows.push_back({name, "forward (fused into the layer before)", 0, {}});
    if (lw.weight_grad_in_update)
      rows.push_back({name, "backward-weights (bias; the weights' gradient is built in the update)",
                      t.backward_weights_ms, lw.backward_weights});
    else if (lw.backward_weights.flops > 0 || t.backward_weights_ms > 0)
      rows.push_back({name, "backward-weights", t.backward_weights_ms, lw.backward_weights});
    if (lw.relu_backward_folded_into == "maxpool2d")
      rows.push_back({name, "backward-data (folded into the max-pool's backward)", 0, {}});
    else if (!lw.relu_backward_folded_into.empty())
      rows.push_back({name, "backward-data (folded into the convolution's backward-weights)", 0, {}});
    else if (lw.backward_data.bytes > 0 || t.backward_data_ms > 0)
      rows.push_back({name, "backward-data", t.backward_data_ms, lw.backward_data});
  }
  rows.push_back({"-", "loss", p.loss_ms, w.loss});
  rows.push_back({"-", "zero-grad", p.zero_grad_ms, w.zero_grad});
  bool fused_grads = false;
  for (const LayerWork& lw : w.layers) fused_grads = fused_grads || lw.weight_grad_in_update;
  rows.push_back({"-", fused_grads ? "update (with the dense weights' gradient)" : "update", p.update_ms, w.update});
  rows.push_back({"-", "other", std::max(0.0, p.other_ms()), {}});
  return rows;
}

std::string profile_text(const ProfileReport& r) {
  const double pk = r.peak.peak.gflops_all, bw = r.peak.peak.triad_gbs;
  Table t({"layer", "phase", "ms", "% step", "MFLOP", "MB", "GFLOP/s", "GB/s", "% peak", "bound"});
  for (const ProfileRow& row : r.rows)
    t.add({row.layer, row.phase, fmt("%.3f", row.ms), fmt("%.1f", r.step_ms > 0 ? 100 * row.ms / r.step_ms : 0.0),
           fmt("%.2f", row.work.flops * 1e-6), fmt("%.2f", row.work.bytes * 1e-6), fmt("%.1f", gflops(row)),
           fmt("%.1f", gbs(row)), fmt("%.1f", pk > 0 ? 100 * gflops(row) / pk : 0.0),
           row.ms > 0 ? roofline_bound(row.work, row.ms * 1e-3, pk, bw) : "-"});
  std::string s = "# batchscope profile: where a training step's time goes\n";
  s += "# command   " + r.command + "\n# host      " + r.ctx.host + "\n# date      " + r.ctx.date + "\n# build     " +
       r.ctx.build + "\n";
  s += fmt("# model     %s, batch %lld, %d threads, back-end %s\n", r.model_spec.c_str(), static_cast<long long>(r.batch),
           r.threads, r.backend.c_str());
  s += fmt("# peak      %.1f GFLOP/s, triad %.1f GB/s (%s); ridge at %.1f FLOP/byte\n", pk, bw, r.peak.origin.c_str(),
           bw > 0 ? pk / bw : 0.0);
  s += fmt("# steps     %lld profiled, %lld unprofiled, after %lld warm-up; mean %.3f ms per profiled step\n",
           static_cast<long long>(r.profiled_steps), static_cast<long long>(r.profiled_steps),
           static_cast<long long>(r.warmup_steps), r.step_ms);
  s += fmt("# overhead  profiler: %+.2f%% measured (median of %d paired rounds, noise included); bound from "
           "its cost: %.0f events x %.0f ns = %.4f%% of a step\n",
           r.overhead_measured_percent, r.rounds, r.events_per_step, r.ns_per_event, r.overhead_bound_percent);
  s += "# bytes     the least a kernel must move (each input read once, each output written once)\n#\n";
  return s + t.text();
}

nlohmann::ordered_json profile_json(const ProfileReport& r) {
  const double pk = r.peak.peak.gflops_all, bw = r.peak.peak.triad_gbs;
  nlohmann::ordered_json jr = nlohmann::ordered_json::array();
  for (const ProfileRow& row : r.rows)
    jr.push_back({{"layer", row.layer}, {"phase", row.phase}, {"ms", row.ms}, {"flops", row.work.flops},
                  {"bytes", row.work.bytes}, {"gflops", gflops(row)}, {"gbs", gbs(row)},
                  {"percent_of_peak", pk > 0 ? 100 * gflops(row) / pk : 0.0},
                  {"bound", row.ms > 0 ? roofline_bound(row.work, row.ms * 1e-3, pk, bw) : "-"}});
  return {{"command", r.command}, {"host", r.ctx.host}, {"date", r.ctx.date}, {"build", r.ctx.build},
          {"model", r.model_spec}, {"batch_size", r.batch}, {"threads", r.threads},
          {"profiled_steps", r.profiled_steps}, {"step_ms", r.step_ms}, {"unprofiled_step_ms", r.unprofiled_step_ms},
          {"profiler_overhead_percent_measured", r.overhead_measured_percent},
          {"profiler_overhead_percent_bound", r.overhead_bound_percent},
          {"events_per_step", r.events_per_step}, {"ns_per_event", r.ns_per_event},
          {"peak_gflops", pk}, {"peak_gbs", bw}, {"peak_origin", r.peak.origin}, {"rows", jr}};
}

}  // namespace batchscope::report
