// Dropout (inverted, as PyTorch's nn.Dropout): in training each element is zeroed with
// probability p and the survivors scaled by 1/(1-p); in evaluation it is the identity.
// Spec: dropout[:p=0.5]. The mask of element i at step s is a pure function of
// (run seed, step, i), so runs are reproducible and resumable.
#pragma once
#include <vector>

#include "batchscope/layer.h"
#include "layers/layer_args.h"

namespace batchscope {

class Dropout final : public Layer {
 public:
  explicit Dropout(const LayerArgs& a);
  std::string_view kind() const override { return "dropout"; }
  std::string spec() const override;
  Shape setup(const Shape& in_sample) override { return in_sample; }
  void reshape(int64_t batch) override { n_ = batch; }
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  static std::vector<LayerTestConfig> test_configs() {
    return {{"dropout:0.3", Shape{2, 3, 3}}, {"dropout", Shape{9}}};
  }

 private:
  double p_ = 0.5;
  int64_t n_ = 0;
  bool last_training_ = false;
  std::vector<float> scale_;  // per element: 0 or 1/(1-p); empty after an eval forward
};

}  // namespace batchscope
