// Relu: y = max(x, 0). Spec: relu. Any input shape; output has the same shape.
#pragma once
#include <vector>

#include "batchscope/layer.h"
#include "layers/layer_args.h"

namespace batchscope {

class Relu final : public Layer {
 public:
  explicit Relu(const LayerArgs& a) { a.check_known(0, {}); }
  std::string_view kind() const override { return "relu"; }
  std::string spec() const override { return "relu"; }
  Shape setup(const Shape& in_sample) override { return in_sample; }
  bool takes_blocked_input(int64_t) const override { return true; }
  bool keeps_layout() const override { return true; }
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  static std::vector<LayerTestConfig> test_configs() {
    return {{"relu", Shape{2, 3, 3}}, {"relu", Shape{7}}};
  }
};

}  // namespace batchscope
