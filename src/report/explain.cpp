// Generated explanation of the sweep (see explain.h). Every piece of the step is fitted with the
// same regression as the epoch cost model, so the pieces' fixed costs add up to a and their
// per-image costs to b.
#include "report/explain.h"

#include <algorithm>
#include <cmath>

#include "report/table.h"

namespace batchscope::report {

namespace {

// One piece of the step: its per-step seconds at every row, and the line fitted through them.
struct Piece {
  std::string name;
  std::vector<double> seconds;
  StepLine line;
};

std::string thousands(int64_t v) {
  std::string s = std::to_string(v), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

// "conv2d:64:3:stride=1:pad=0" → "conv2d:64:3": the keyed options only lengthen the text.
std::string short_spec(const std::string& spec) {
  std::string out;
  size_t start = 0;
  while (start <= spec.size()) {
    const size_t colon = spec.find(':', start);
    const std::string part = spec.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (part.find('=') == std::string::npos) out += (out.empty() ? "" : ":") + part;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return out;
}

// The step cut into pieces that add up to its measured wall time: data, each layer's forward
// and backward, loss, optimizer (update and zeroing), and the rest (loop and bookkeeping).
std::vector<Piece> step_pieces(const SweepReport& r) {
  const SweepResult& s = r.sweep;
  std::vector<Piece> p;
  const size_t L = s.layer_specs.size();
  p.push_back({"batch fill (data)", {}, {}});
  p.push_back({"loss", {}, {}});
  // A dense layer's weight gradient built inside the update is timed there, not in its
  // layer's backward; the name says so.
  bool grads_in_update = false;
  if (!s.rows.empty())
    for (const LayerWork& lw : s.rows.front().work.layers) grads_in_update = grads_in_update || lw.weight_grad_in_update;
  const bool comm = std::any_of(s.rows.begin(), s.rows.end(), [](const SweepRow& row) { return row.profile.comm_ms > 0; });
  p.push_back({fmt("optimizer step over %s parameters%s%s", thousands(s.parameters).c_str(),
                   grads_in_update ? " (with the dense weights' gradients, built inside it)" : "",
                   comm ? " and the gradient allreduce over the ranks" : ""),
               {}, {}});
  for (size_t i = 0; i < L; ++i) {
    const std::string name = short_spec(s.layer_specs[i]);
    p.push_back({fmt("%s (layer %zu) forward", name.c_str(), i), {}, {}});
    p.push_back({fmt("%s (layer %zu) backward", name.c_str(), i), {}, {}});
  }
  p.push_back({"the rest of the step (loop, bookkeeping, profiler)", {}, {}});
  for (const SweepRow& row : s.rows) {
    const StepProfile& f = row.profile;
    double sum = 0;
    auto put = [&](size_t k, double millis) {
      p[k].seconds.push_back(1e-3 * millis);
      sum += 1e-3 * millis;
    };
    put(0, f.data_ms);
    put(1, f.loss_ms);
    put(2, f.update_ms + f.zero_grad_ms + f.comm_ms);
    for (size_t i = 0; i < L; ++i) {
      const LayerTimes& lt = i < f.layers.size() ? f.layers[i] : LayerTimes{};
      put(3 + 2 * i, lt.forward_ms);
      put(4 + 2 * i, lt.backward_data_ms + lt.backward_weights_ms);
    }
    p.back().seconds.push_back(1e-3 * row.ms_per_iteration - sum);
  }
  std::vector<int64_t> batches;
  for (const SweepRow& row : s.rows) batches.push_back(row.batch);
  for (Piece& q : p) q.line = fit_step_line(batches, q.seconds);
  return p;
}

// "a (x ms), b (y ms), c (z ms)": the k largest by `key`, skipping those under 1% of total.
template <typename Key>
std::string largest(std::vector<const Piece*> ps, Key key, double total, size_t k) {
  std::sort(ps.begin(), ps.end(), [&](const Piece* x, const Piece* y) { return key(*x) > key(*y); });
  std::string out;
  size_t n = 0;
  for (const Piece* q : ps) {
    if (n == k || key(*q) < 0.01 * total) break;
    out += (n ? ", " : "") + q->name + " " + ms(key(*q));
    ++n;
  }
  return out.empty() ? "none above 1%" : out;
}

int kernel_calls_per_step(const SweepRow& row) {
  int calls = 2;  // zeroing the gradients and the optimizer step
  for (const LayerWork& l : row.work.layers)
    calls += (l.forward.bytes > 0) + (l.backward_data.bytes > 0) + (l.backward_weights.bytes > 0);
  return calls;
}

std::string peer_paragraph(const SweepReport& r, const PeerRun& p, const SweepAnalysis& a) {
  std::vector<int64_t> b;
  std::vector<double> t;
  for (const PeerRow& q : p.rows) {
    b.push_back(q.batch);
    t.push_back(q.seconds_per_epoch);
  }
  const CostModelFit f = fit_cost_model(b, t, r.sweep.epoch_images);
  if (f.b <= 0) return {};
  const double n = static_cast<double>(r.sweep.epoch_images);
  const double gflops = r.sweep.mflop_trained * 1e-3 / f.b;
  const double peak = r.peak.peak.gflops_all;
  const std::string who =
      p.peer == "numpy" ? "The seed's way (NumPy, im2col, float64)" : "PyTorch (" + p.note + ")";
  return fmt("%s, same network and batch sizes: a = %s per iteration, b = %s per image (R^2 %.3f). Its curve flattens "
             "for the same reason, from batch %.0f on, but onto a floor of %.1f s per epoch, %.1fx batchscope's "
             "%.1f s: per image it reaches %.1f GFLOP/s, %.1f%% of the measured peak, and its fixed cost per "
             "iteration is %.1fx batchscope's.",
             who.c_str(), ms(f.a).c_str(), ms(f.b).c_str(), f.r2, f.batch_within_10pct, n * f.b, f.b / a.fit.b,
             a.floor_seconds, gflops, peak > 0 ? 100 * gflops / peak : 0.0, a.fit.a > 0 ? f.a / a.fit.a : 0.0);
}

}  // namespace

std::vector<std::string> explain_sweep(const SweepReport& r, const SweepAnalysis& a) {
  const SweepResult& s = r.sweep;
  const double n = static_cast<double>(s.epoch_images);
  const double peak = r.peak.peak.gflops_all;
  std::vector<std::string> out;
  if (s.rows.empty()) return out;

  out.push_back(fmt("Work per epoch is fixed: %s images x %.2f MFLOP = %.2f TFLOP whatever the batch size. "
                    "At the measured peak of %.1f GFLOP/s that takes at least %.1f s.",
                    thousands(s.epoch_images).c_str(), s.mflop_trained, n * s.mflop_trained * 1e-6, peak,
                    a.compute_floor_seconds));

  const std::vector<Piece> pieces = step_pieces(r);
  std::vector<const Piece*> layer_pieces;
  double layers_fixed = 0, layers_per_image = 0;
  for (size_t i = 3; i + 1 < pieces.size(); ++i) {
    layer_pieces.push_back(&pieces[i]);
    layers_fixed += pieces[i].line.fixed;
    layers_per_image += pieces[i].line.per_image;
  }
  const Piece& opt = pieces[2];
  const SweepRow& first = s.rows.front();
  const double opt_ms_first = first.profile.update_ms + first.profile.zero_grad_ms;
  const double opt_bytes = first.work.update.bytes + first.work.zero_grad.bytes;
  const double opt_share_first = first.profile.step_ms > 0 ? 100 * opt_ms_first / first.profile.step_ms : 0;
  const int calls = kernel_calls_per_step(first);
  out.push_back(fmt(
      "Each iteration costs a fixed a = %s however many images it holds. Fitted piece by piece: the %s %s "
      "(at batch %lld it took %.3f ms, %.0f%% of that step, moving at least %.1f MB: %.1f GB/s, against %.1f GB/s for "
      "the triad from memory); the layers' batch-independent parts %s (largest: %s); batch fill %s; loss %s; the rest %s. "
      "Thread synchronisation, measured separately: an empty parallel region on %d threads costs %.2f us, and a "
      "step makes about %d kernel calls, so about %s of a is waking and joining threads.",
      ms(a.fit.a).c_str(), opt.name.c_str(), ms(opt.line.fixed).c_str(), static_cast<long long>(first.batch),
      opt_ms_first, opt_share_first, opt_bytes * 1e-6,
      opt_ms_first > 0 ? opt_bytes / (opt_ms_first * 1e-3) * 1e-9 : 0.0, r.peak.peak.triad_gbs, ms(layers_fixed).c_str(),
      largest(layer_pieces, [](const Piece& q) { return q.line.fixed; }, a.fit.a, 3).c_str(),
      ms(pieces[0].line.fixed).c_str(), ms(pieces[1].line.fixed).c_str(), ms(pieces.back().line.fixed).c_str(),
      r.threads, r.fork_join_us, calls, ms(calls * r.fork_join_us * 1e-6).c_str()));

  const double achieved = s.mflop_trained * 1e-3 / a.fit.b;
  const SweepRow& last = s.rows.back();
  out.push_back(fmt(
      "Each image costs b = %s: its %.2f MFLOP run at %.1f GFLOP/s, %.1f%% of the measured peak; at the peak it "
      "would cost %s. Per image the layers take %s (largest: %s), the optimizer %s and batch fill %s. At batch "
      "%lld the step reaches %.1f GFLOP/s (%.1f%% of peak).",
      ms(a.fit.b).c_str(), s.mflop_trained, achieved, peak > 0 ? 100 * achieved / peak : 0.0,
      ms(s.mflop_trained * 1e6 / (peak * 1e9)).c_str(), ms(layers_per_image).c_str(),
      largest(layer_pieces, [](const Piece& q) { return q.line.per_image; }, a.fit.b, 3).c_str(),
      ms(opt.line.per_image).c_str(), ms(pieces[0].line.per_image).c_str(), static_cast<long long>(last.batch),
      last.gflops, peak > 0 ? 100 * last.gflops / peak : 0.0));

  // Where the curve flattens, with the measured epoch times either side of the 10% point.
  const double fixed_share_1 = 100 * a.fit.a / (a.fit.a + a.fit.b);
  const SweepRow* knee = nullptr;
  for (const SweepRow& row : s.rows)
    if (static_cast<double>(row.batch) >= a.fit.batch_within_10pct && (!knee || row.batch < knee->batch)) knee = &row;
  const SweepRow* biggest = &*std::max_element(s.rows.begin(), s.rows.end(),
                                               [](const SweepRow& x, const SweepRow& y) { return x.batch < y.batch; });
  std::string measured;
  if (knee && knee != biggest)
    measured = fmt(" Measured: batch %lld takes %.1f s per epoch and batch %lld %.1f s (%+.0f%%).",
                   static_cast<long long>(knee->batch), knee->seconds_per_epoch, static_cast<long long>(biggest->batch),
                   biggest->seconds_per_epoch, 100 * (biggest->seconds_per_epoch / knee->seconds_per_epoch - 1));
  out.push_back(fmt(
      "So t_epoch(B) = %.1f s / B + %.1f s. At batch 1 the fixed part is %.0f%% of the time; from batch %.0f on it is "
      "under 10%%, so no larger batch can make an epoch more than 10%% faster: the curve sits on its floor N*b = "
      "%.1f s, %.2fx the compute-bound %.1f s.%s",
      n * a.fit.a, n * a.fit.b, fixed_share_1, a.fit.batch_within_10pct, a.floor_seconds,
      a.compute_floor_seconds > 0 ? a.floor_seconds / a.compute_floor_seconds : 0.0, a.compute_floor_seconds,
      measured.c_str()));

  for (const PeerRun& p : r.peers)
    if (p.ran && p.rows.size() >= 2) {
      const std::string para = peer_paragraph(r, p, a);
      if (!para.empty()) out.push_back(para);
    }
  return out;
}

}  // namespace batchscope::report
