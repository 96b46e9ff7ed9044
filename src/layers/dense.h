// Dense: PyTorch's nn.Linear(I, O) with bias. Spec: dense:O. Input [N,I], output [N,O].
#pragma once
#include <vector>

#include "batchscope/layer.h"
#include "kernels/kernels.h"
#include "layers/layer_args.h"

namespace batchscope {

class Dense final : public Layer {
 public:
  explicit Dense(const LayerArgs& a);
  std::string_view kind() const override { return "dense"; }
  std::string spec() const override { return "dense:" + std::to_string(O_); }
  Shape setup(const Shape& in_sample) override;
  void reshape(int64_t batch) override { N_ = batch; }
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  std::span<Param> params() override { return params_; }
  bool fuse_relu() override {
    relu_ = true;
    return true;
  }
  int64_t macs_per_sample() const override { return I_ * O_; }
  static std::vector<LayerTestConfig> test_configs();

 private:
  int64_t N_ = 0, I_ = 0, O_ = 0;
  bool relu_ = false;  // ReLU fused into the output (Model::Model decides)
  std::vector<Param> params_;  // weight [O,I], bias [O]
};

}  // namespace batchscope
