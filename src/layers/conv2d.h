// Conv2d: PyTorch's nn.Conv2d(C, K, R, stride, padding) with bias; square kernel.
// Spec: conv2d:K:R[:stride=1][:pad=0]. Input [N,C,H,W], output [N,K,P,Q].
#pragma once
#include <vector>

#include "batchscope/layer.h"
#include "kernels/kernels.h"
#include "layers/layer_args.h"

namespace batchscope {

class Conv2d final : public Layer {
 public:
  explicit Conv2d(const LayerArgs& a);
  std::string_view kind() const override { return "conv2d"; }
  std::string spec() const override;
  Shape setup(const Shape& in_sample) override;
  void reshape(int64_t batch) override { s_.N = batch; }
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  std::span<Param> params() override { return params_; }
  bool fuse_relu() override {
    relu_ = true;
    return true;
  }
  int64_t macs_per_sample() const override;
  // oneDNN's convolutions block channels only from 16 on (conv2d.cpp's layout policy).
  bool takes_blocked_input(int64_t b) const override { return s_.C >= 16 && s_.C % b == 0; }
  bool gives_blocked_output(int64_t b) const override { return s_.K >= 16 && s_.K % b == 0; }
  void set_activation_blocks(int64_t in_block, int64_t out_block) override {
    s_.x_block = in_block;
    s_.y_block = out_block;
  }
  // Only over a one-channel input (the op table's conv2d_bwd_weight_relu has its own kernel
  // there; elsewhere a separate mask pass is as fast) and with the ReLU fused forward.
  bool absorb_following_relu_backward() override { return relu_bwd_folded_ = relu_ && s_.C == 1; }
  static std::vector<LayerTestConfig> test_configs();

 private:
  kernels::ConvShape s_{};
  bool relu_ = false;  // ReLU fused into the output (Model::Model decides)
  bool relu_bwd_folded_ = false;  // that ReLU's backward done by backward() (Model::Model decides)
  std::vector<Param> params_;  // weight [K,C,R,S], bias [K]
};

}  // namespace batchscope
