// The work of one training step, per layer and phase: floating-point operations and the bytes
// a kernel must move at least (compulsory traffic: read each input once, write each output
// once, float32). Together with measured times and the machine's peak they place each piece
// of the step on the roofline: compute-bound, memory-bound, or dominated by overhead.
//   StepWork w = step_work(model, 64, optimizer_state_slots(cfg));
//   w.layers[2].backward_weights.flops  // conv 32→64: 2·N·macs
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "batchscope/model.h"
#include "batchscope/optimizer.h"

namespace batchscope {

struct Work {
  double flops = 0, bytes = 0;
  Work& operator+=(const Work& o) {
    flops += o.flops;
    bytes += o.bytes;
    return *this;
  }
};

struct LayerWork {
  std::string spec;  // e.g. "conv2d:32:3:stride=1:pad=0"
  bool fused = false;  // a ReLU done by the layer before it: no forward of its own
  bool view = false;   // a reshape (flatten) the model aliases: no work in either pass
  // A ReLU whose backward another layer does: that layer's kind, "maxpool2d" (the one after
  // it) or "conv2d" (the first layer, before it); empty if none.
  std::string relu_backward_folded_into;
  // A dense layer whose weight gradient the optimizer builds from dy and x inside its update
  // (Layer::defers_weight_grad_at): backward_weights is then the bias gradient alone, and
  // the FLOPs of dyᵀ·x are counted in StepWork::update.
  bool weight_grad_in_update = false;
  Work forward, backward_data, backward_weights;
};

struct StepWork {
  int64_t batch = 0;
  std::vector<LayerWork> layers;
  Work data;       // uint8 pixels in, normalised floats out
  Work loss;       // softmax cross-entropy forward and gradient
  Work zero_grad;  // clearing every gradient
  Work update;     // the optimizer over every parameter
  Work total() const;
};

// Optimizer state floats per parameter: 0 (plain SGD), 1 (momentum), 2 (Adam).
int optimizer_state_slots(const OptimizerConfig& c);

StepWork step_work(const Model& m, int64_t batch, int optimizer_slots);

// What bounds a piece of work that took `seconds`, from the roofline of a machine with
// `peak_gflops` and `peak_gbs`: "compute" or "memory" when it reaches at least half of the
// roofline's attainable speed for its arithmetic intensity (whichever resource that limit
// comes from), else "overhead" (calls, synchronisation, small or badly shaped work).
std::string roofline_bound(const Work& w, double seconds, double peak_gflops, double peak_gbs);

}  // namespace batchscope
