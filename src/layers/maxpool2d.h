// MaxPool2d: PyTorch's nn.MaxPool2d(R, stride), no padding, floor mode.
// Spec: maxpool2d:R[:stride=R]. Input [N,C,H,W], output [N,C,P,Q]. Forward records the
// argmax of every window so backward is a scatter, not a search.
#pragma once
#include <vector>

#include "batchscope/layer.h"
#include "kernels/kernels.h"
#include "layers/layer_args.h"

namespace batchscope {

class MaxPool2d final : public Layer {
 public:
  explicit MaxPool2d(const LayerArgs& a);
  std::string_view kind() const override { return "maxpool2d"; }
  std::string spec() const override;
  Shape setup(const Shape& in_sample) override;
  void reshape(int64_t batch) override;
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  bool absorb_relu_backward() override { return relu_folded_ = true; }
  // Blocked input (8 or 16 channels, the cpu kernel's widths); the output stays plain.
  bool takes_blocked_input(int64_t b) const override { return (b == 8 || b == 16) && s_.C % b == 0; }
  void set_activation_blocks(int64_t in_block, int64_t) override { s_.x_block = in_block; }
  static std::vector<LayerTestConfig> test_configs();

 private:
  kernels::PoolShape s_{};
  std::vector<int32_t> argmax_;  // [N,C,P,Q]
  bool relu_folded_ = false;     // backward also applies the preceding ReLU's mask
};

}  // namespace batchscope
