// FLOPs and compulsory bytes per layer and phase of a training step (see step_work.h).
#include "analysis/step_work.h"

#include <algorithm>

namespace batchscope {

namespace {

constexpr double kF = sizeof(float);

// One layer at batch n. x, y: input and output elements per sample; p: parameters (weights
// and bias); macs: forward multiply-adds per sample.
// absorbs_relu: the ReLU before it (a max-pool) or after it (a first convolution) has its
// backward done here.
LayerWork layer_work(const Layer& l, bool fused, const std::string& relu_folded_into, bool absorbs_relu,
                     bool first, double n, double x, double y, double p) {
  LayerWork w;
  w.spec = l.spec();
  w.fused = fused;
  w.relu_backward_folded_into = relu_folded_into;
  const bool relu_folded = !relu_folded_into.empty();
  w.view = l.is_view();
  if (w.view) return w;
  const std::string_view kind = l.kind();
  const double macs = static_cast<double>(l.macs_per_sample());
  if (kind == "conv2d" || kind == "dense") {
    // Each of the three passes is one forward's multiply-adds; bias and fused ReLU are
    // element-wise on y and left out of the FLOPs.
    w.forward = {2 * n * macs, kF * (n * x + n * y + p)};
    w.backward_weights = {2 * n * macs, kF * (n * x + n * y + p)};
    // The first layer's input gradient is never computed.
    if (!first) w.backward_data = {2 * n * macs, kF * (n * y + n * x + p)};
    // A folded ReLU: its mask (this layer's output) is read and applied to dy, once per element.
    if (absorbs_relu) w.backward_weights += Work{n * y, kF * n * y};
  } else if (kind == "relu") {
    if (!fused) w.forward = {n * x, kF * 2 * n * x};
    if (!relu_folded) w.backward_data = {n * x, kF * 3 * n * x};  // reads y (the mask) and dy, writes dx
  } else if (kind == "maxpool2d") {
    w.forward = {n * x, kF * (n * x + 2 * n * y)};        // writes the output and argmax
    // Scatter dy by argmax into dx; with the ReLU before it folded in, it also reads its own
    // output (the mask) and compares it, once per window.
    w.backward_data = absorbs_relu ? Work{n * y, kF * (3 * n * y + n * x)} : Work{0, kF * (2 * n * y + n * x)};
  } else if (kind == "dropout") {
    w.forward = {n * x, kF * 3 * n * x};  // writes the mask too
    w.backward_data = {n * x, kF * 3 * n * x};
  } else {  // anything else that copies its input
    w.forward = {0, kF * 2 * n * x};
    w.backward_data = {0, kF * 2 * n * x};
  }
  return w;
}

}  // namespace

Work StepWork::total() const {
  Work t = data;
  t += loss;
  t += zero_grad;
  t += update;
  for (const LayerWork& l : layers) {
    t += l.forward;
    t += l.backward_data;
    t += l.backward_weights;
  }
  return t;
}

int optimizer_state_slots(const OptimizerConfig& c) {
  if (c.kind == OptimizerKind::Adam) return 2;
  return c.momentum != 0.0 ? 1 : 0;
}

StepWork step_work(const Model& m, int64_t batch, int optimizer_slots) {
  StepWork w;
  w.batch = batch;
  const double n = static_cast<double>(batch);
  const auto& shapes = m.sample_shapes();
  for (size_t i = 0; i < m.layers().size(); ++i) {
    const Layer& l = *m.layers()[i];
    double p = 0;
    // params() hands out mutable views, hence non-const; only the shapes are read here.
    for (const Param& prm : const_cast<Layer&>(l).params()) p += static_cast<double>(prm.shape.numel());
    const int me = static_cast<int>(i);
    const bool absorbs = (i > 0 && m.relu_backward_absorber(i - 1) == me) ||
                         (i + 1 < m.layers().size() && m.relu_backward_absorber(i + 1) == me);
    const std::string folded_into =
        m.relu_backward_folded(i) ? std::string(m.layers()[static_cast<size_t>(m.relu_backward_absorber(i))]->kind()) : "";
    w.layers.push_back(layer_work(l, m.fused(i), folded_into, absorbs, i == 0, n,
                                  static_cast<double>(shapes[i].numel()),
                                  static_cast<double>(shapes[i + 1].numel()), p));
  }
  const double in = static_cast<double>(shapes.front().numel());
  const double classes = static_cast<double>(m.num_classes());
  const double params = static_cast<double>(m.num_params());
  w.data = {2 * n * in, n * in + kF * n * in};  // (p/255 - mean)/std; uint8 in, float out
  w.loss = {6 * n * classes, kF * 4 * n * classes};  // logits in, probs out; probs in, dlogits out
  w.zero_grad = {0, kF * params};
  // Read parameter and gradient and each state slot, write parameter and each slot; about
  // 2 + 3·slots operations per parameter (weight decay, momentum or moments, step).
  w.update = {(2.0 + 3.0 * optimizer_slots) * params, kF * params * (3.0 + 2.0 * optimizer_slots)};
  // A weight gradient built inside the update: its 2·N·macs FLOPs move there, it is neither
  // zeroed nor read from the gradient buffer, and the update reads dy and x instead.
  for (size_t i = 0; i < m.layers().size(); ++i) {
    const Layer& l = *m.layers()[i];
    if (!l.defers_weight_grad_at(batch)) continue;
    LayerWork& lw = w.layers[i];
    const double weights = static_cast<double>(const_cast<Layer&>(l).params()[0].shape.numel());
    const double y = static_cast<double>(shapes[i + 1].numel()), x = static_cast<double>(shapes[i].numel());
    lw.weight_grad_in_update = true;
    w.update.flops += lw.backward_weights.flops;
    w.update.bytes += kF * (n * x + n * y) - kF * weights;
    w.zero_grad.bytes -= kF * weights;
    lw.backward_weights = {n * y, kF * (n * y + y)};  // db += Σ_n dy: reads dy, writes db
  }
  return w;
}

std::string roofline_bound(const Work& w, double seconds, double peak_gflops, double peak_gbs) {
  if (seconds <= 0 || peak_gflops <= 0 || peak_gbs <= 0) return "-";
  const double t_compute = w.flops / (peak_gflops * 1e9);
  const double t_memory = w.bytes / (peak_gbs * 1e9);
  const double attainable = std::max(t_compute, t_memory);
  if (attainable < 0.5 * seconds) return "overhead";
  return t_compute >= t_memory ? "compute" : "memory";
}

}  // namespace batchscope
