// Model: a sequence of layers built from a spec string or preset name, with every
// parameter in one flat buffer (and every gradient in another), so the optimizer step is
// one pass over contiguous memory and a checkpoint is a handful of copies.
//
// Spec grammar (documented in docs/model-spec.md):
//   spec  := layer ("," layer)*         e.g. conv2d:32:3,relu,maxpool2d:2,flatten,dense:10
//   layer := kind (":" arg)*            arg := number | key=value
// The network ends in logits; the loss (fused softmax cross-entropy) is applied by the trainer.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "batchscope/backend.h"
#include "batchscope/layer.h"
#include "batchscope/tensor.h"

namespace batchscope {
namespace kernels {
struct OpTable;
}  // namespace kernels

struct Preset {
  std::string_view name;
  std::string_view spec;
  std::string_view description;
};
// mnist-cnn, lenet5, tiny.
const std::vector<Preset>& presets();
// A preset's spec, or the argument itself if it names no preset.
std::string resolve_model_spec(std::string_view name_or_spec);

// A parameter as PyTorch's state_dict names it: "<layer index>.<weight|bias>".
struct NamedParam {
  std::string name;
  Param* param;
};

class Model {
 public:
  // Builds the layers, checks that every one fits its input (ShapeError naming the layer,
  // its index and both shapes) and that the output is [num_classes]; binds the parameter
  // buffers and initialises them as PyTorch does, from `seed`.
  // `ops` is the kernel variant every layer calls (kernels::select_table); it must outlive
  // the model (the tables are static).
  Model(std::string_view name_or_spec, const Shape& in_sample, int64_t num_classes,
        const kernels::OpTable& ops, uint64_t seed);
  // The same with the back-end's default table (reference, or onednn direct f32).
  Model(std::string_view name_or_spec, const Shape& in_sample, int64_t num_classes,
        kernels::Backend backend, uint64_t seed);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::string& spec() const { return spec_; }  // canonical, re-parseable
  const Shape& in_sample() const { return in_sample_; }
  int64_t num_classes() const { return num_classes_; }
  int64_t batch() const { return batch_; }
  int64_t num_params() const { return num_params_; }
  int64_t macs_per_sample() const;
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  // Per-sample shapes: [i] is layer i's input, [i+1] its output; [0] is the model's input.
  const std::vector<Shape>& sample_shapes() const { return sample_shapes_; }
  // Layer i is a ReLU whose work the layer before it does (its forward is skipped).
  bool fused(size_t i) const { return fused_[i]; }
  // Layer i is a ReLU whose backward another layer does; it is skipped. The one that does it:
  // the layer after it (a max-pool, masking its windows) or the one before (the first layer,
  // a one-channel convolution, masking its weight gradient's dy); -1 if none.
  bool relu_backward_folded(size_t i) const { return relu_bwd_folded_[i]; }
  int relu_backward_absorber(size_t i) const { return relu_bwd_absorber_[i]; }
  // The layout of layer i's input (i == layers().size(): the output): 0 plain, else the
  // channel block (kernels.h); chosen at construction for the model's kernel table.
  int64_t activation_block(size_t i) const { return blocks_[i]; }
  const std::vector<NamedParam>& named_params() const { return named_; }
  const kernels::OpTable& ops() const { return *ops_; }

  Tensor& params() { return params_; }  // [num_params], flat
  Tensor& grads() { return grads_; }    // [num_params], flat

  // Sizes activations for `batch` samples. Cheap when the batch size is unchanged.
  void reshape(int64_t batch);
  // Input buffer for the next forward: [batch, in_sample...]; fill it, then call forward.
  Tensor& input() { return acts_[0]; }
  // Runs every layer; returns the logits [batch, num_classes].
  const Tensor& forward(const StepContext& ctx);
  // Back-propagates dlogits [batch, num_classes]; accumulates into grads().
  void backward(const Tensor& dlogits);
  // Upper estimate of the bytes training at `batch` needs, before anything is allocated:
  // activations and their gradients, max-pool indices, parameters, gradients and
  // `optimizer_slots` state buffers, and the kernels' shared scratch (blocked copies of the
  // largest layer's input and output).
  int64_t estimate_training_bytes(int64_t batch, int optimizer_slots) const;
  // For error messages after a non-finite loss: the first layer, in order, whose parameters
  // or forward output hold a NaN or Inf, as "layer 6 (dense:128) weight"; "" if none.
  // Scans everything: call it only once something has gone wrong.
  std::string first_non_finite() const;
  // Zeroes the gradients, except ranges the next backward will leave as factors.
  void zero_grad();
  // Lets layers leave small-batch weight gradients as factors (Layer::set_defer_weight_grad);
  // grads() then holds stale values in those ranges and deferred_grads() describes them.
  void set_defer_weight_grads(bool on);
  bool defer_weight_grads() const { return defer_weight_grads_; }
  // After backward: the ranges of grads() given by factors, sorted by offset.
  std::span<const LowRankGrad> deferred_grads() const { return deferred_; }

 private:
  std::string spec_;
  Shape in_sample_;
  int64_t num_classes_;
  int64_t batch_ = 0;
  const kernels::OpTable* ops_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<Shape> sample_shapes_;  // per-sample shape of acts_[i]; [0] is the input
  std::vector<Tensor> acts_;           // acts_[i] is layer i's input, acts_[i+1] its output
  // fused_[i]: layer i is a ReLU whose work the layer before it does; its output acts_[i+1]
  // is then a view of its input acts_[i] and its forward is skipped (backward still masks).
  std::vector<bool> fused_;
  // relu_bwd_folded_[i]: layer i is a ReLU whose backward layer i+1 applies; like a view
  // layer, its input gradient dacts_[i] is then a view of its output gradient dacts_[i+1].
  std::vector<bool> relu_bwd_folded_;
  std::vector<int> relu_bwd_absorber_;  // see relu_backward_absorber()
  // Layer i's backward is skipped and its input gradient aliases its output gradient.
  bool passes_gradient_through(size_t i) const;
  std::vector<int64_t> blocks_;  // activation_block(i)
  void choose_activation_layouts();
  std::vector<Tensor> dacts_;          // gradients w.r.t. acts_; dacts_[0] stays empty
  Tensor params_, grads_;
  int64_t num_params_ = 0;
  std::vector<LowRankGrad> deferred_;
  bool defer_weight_grads_ = false;  // the last set_defer_weight_grads value
  std::vector<NamedParam> named_;
};

// Builds one layer from a spec token (throws ShapeError for unknown kinds, listing them).
std::unique_ptr<Layer> make_layer(const std::string& token);

}  // namespace batchscope
