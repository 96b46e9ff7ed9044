// The layer contract. A model is a straight sequence of layers; each maps a batch
// [N, ...sample shape] to a batch [N, ...output sample shape].
//
// Life cycle, driven by Model:
//   setup(in_sample)  once: validate the per-sample input shape, declare parameters
//                     (shapes only), return the per-sample output shape. Throws ShapeError.
//   (Model binds every Param's value/grad to its flat buffers and initialises them.)
//   reshape(batch)    whenever the batch size changes: size caches. No allocation after it.
//   forward(x, y, ctx)               y overwritten; may cache what backward needs.
//   backward(x, y, dy, dx)           requires: the last forward call was forward(x, y, ...).
//                                    dx is overwritten; parameter grads are ACCUMULATED (+=)
//                                    and zeroed by the trainer, so gradient accumulation
//                                    and all-reduce need nothing special.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "batchscope/optimizer.h"
#include "batchscope/tensor.h"

namespace batchscope {
namespace kernels {
struct OpTable;
}

// One learnable tensor of a layer. value and grad are views into the model's flat buffers.
struct Param {
  std::string name;     // PyTorch's attribute name: "weight" or "bias"
  Shape shape;          // PyTorch's layout: conv [K,C,R,S], dense [O,I], bias [K]
  int64_t fan_in = 0;   // PyTorch's default init draws U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  Tensor value, grad;
};

// What forward needs besides its tensors.
struct StepContext {
  bool training = false;
  uint64_t seed = 0;  // per-step random stream (dropout), derived from the run seed and step
};

class Layer {
 public:
  virtual ~Layer() = default;
  virtual std::string_view kind() const = 0;  // the layer_list.h name, e.g. "conv2d"
  virtual std::string spec() const = 0;       // canonical spec token, e.g. "conv2d:32:3:stride=1:pad=0"
  virtual Shape setup(const Shape& in_sample) = 0;
  virtual void reshape(int64_t batch) { (void)batch; }
  virtual void forward(const Tensor& x, Tensor& y, const StepContext& ctx) = 0;
  virtual void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) = 0;
  virtual std::span<Param> params() { return {}; }
  // Asks the layer to apply ReLU to its own output (a oneDNN post-op, or the same loop), so
  // the model can skip the separate ReLU pass that follows it. Returns false if it cannot.
  virtual bool fuse_relu() { return false; }
  // The output is the input with another shape (same elements, same order): the model makes
  // the output, and the input gradient, views of the input and the output gradient, and
  // calls neither forward nor backward. forward/backward still copy, for standalone use.
  virtual bool is_view() const { return false; }
  // Asks the layer, whose input is a ReLU's output, to apply that ReLU's backward mask in its
  // own backward (max-pool: a window whose maximum is not positive routes no gradient), so
  // the model can skip the separate ReLU-backward pass. Returns false if it cannot.
  virtual bool absorb_relu_backward() { return false; }
  // Asks the layer, whose output a ReLU it fused takes, to apply that ReLU's backward mask
  // in its own backward, where its input gradient is not needed (the model's first layer):
  // a convolution over one channel does it inside its weight gradient. False if it cannot.
  virtual bool absorb_following_relu_backward() { return false; }
  // Channel-blocked activations (docs/performance.md): whether the layer takes its input,
  // and gives its output, blocked by b channels; the model then tells it the blocks it chose
  // (0: plain). keeps_layout: an element-wise layer whose output has its input's layout.
  // Defaults: plain only.
  virtual bool takes_blocked_input(int64_t b) const { (void)b; return false; }
  virtual bool gives_blocked_output(int64_t b) const { (void)b; return false; }
  virtual bool keeps_layout() const { return false; }
  virtual void set_activation_blocks(int64_t in_block, int64_t out_block) {
    (void)in_block;
    (void)out_block;
  }
  // Low-rank weight gradients (docs/performance.md, batch 1): a layer that supports it and
  // has it switched on leaves its weight gradient as factors instead of writing it, when the
  // batch is small enough. The model then skips zeroing that range and hands the factors to
  // the optimizer. Off unless the trainer switches it on, so gradient checks see plain grads.
  void set_defer_weight_grad(bool on) { defer_weight_grad_ = on; }
  virtual bool defers_weight_grad_at(int64_t batch) const { (void)batch; return false; }
  // Valid after backward when defers_weight_grad_at(batch) held; offset is left 0 for the model.
  virtual LowRankGrad deferred_weight_grad() const { return {}; }
  // Forward multiply-adds per sample (×2 for FLOPs); backward is about twice that.
  virtual int64_t macs_per_sample() const { return 0; }

  void set_ops(const kernels::OpTable* ops) { ops_ = ops; }

 protected:
  const kernels::OpTable* ops_ = nullptr;
  bool defer_weight_grad_ = false;
};

}  // namespace batchscope
