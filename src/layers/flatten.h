// Flatten: [N,C,H,W] → [N,C·H·W] in PyTorch's (row-major) order, so a dense layer after it
// has PyTorch's weight layout. Spec: flatten. A copy, not a view: activations are separate
// buffers per layer, which keeps the model loop uniform (a 9216-float copy costs microseconds).
#pragma once
#include <vector>

#include "batchscope/layer.h"
#include "layers/layer_args.h"

namespace batchscope {

class Flatten final : public Layer {
 public:
  explicit Flatten(const LayerArgs& a) { a.check_known(0, {}); }
  std::string_view kind() const override { return "flatten"; }
  std::string spec() const override { return "flatten"; }
  Shape setup(const Shape& in_sample) override { return Shape{in_sample.numel()}; }
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  static std::vector<LayerTestConfig> test_configs() { return {{"flatten", Shape{2, 3, 4}}}; }
};

}  // namespace batchscope
