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
  // The weight gradient dyᵀ·x is built block by block inside the optimizer's update instead
  // of being zeroed, written and read back (optim/low_rank_grad.h). bench/bench_update.cpp
  // measured it faster at every batch from 1 to 256 (docs/performance.md), so it applies
  // whenever the model allows it (Model::set_defer_weight_grads).
  bool defers_weight_grad_at(int64_t batch) const override {
    (void)batch;
    return defer_weight_grad_;
  }
  LowRankGrad deferred_weight_grad() const override { return deferred_; }
  static std::vector<LayerTestConfig> test_configs();

 private:
  int64_t N_ = 0, I_ = 0, O_ = 0;
  bool relu_ = false;
  LowRankGrad deferred_;  // factors of the last backward's weight gradient, when deferred  // ReLU fused into the output (Model::Model decides)
  std::vector<Param> params_;  // weight [O,I], bias [O]
};

}  // namespace batchscope
