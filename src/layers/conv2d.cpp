// Conv2d layer: shape checks and parameter declaration here; the arithmetic is the op
// table's conv2d_fwd / conv2d_bwd_data / conv2d_bwd_weight.
#include "layers/conv2d.h"

#include "batchscope/error.h"
#include "core/step_profiler.h"

namespace batchscope {

Conv2d::Conv2d(const LayerArgs& a) {
  a.check_known(2, {"filters", "kernel", "stride", "pad"});
  s_.K = a.get_int(0, "filters", 0, /*required=*/true, /*min_value=*/1);
  s_.R = s_.S = a.get_int(1, "kernel", 0, /*required=*/true, /*min_value=*/1);
  s_.stride_h = s_.stride_w = a.get_int(2, "stride", 1, false, /*min_value=*/1);
  s_.pad_h = s_.pad_w = a.get_int(3, "pad", 0, false, /*min_value=*/0);
}

std::string Conv2d::spec() const {
  return "conv2d:" + std::to_string(s_.K) + ":" + std::to_string(s_.R) +
         ":stride=" + std::to_string(s_.stride_h) + ":pad=" + std::to_string(s_.pad_h);
}

Shape Conv2d::setup(const Shape& in) {
  if (in.rank() != 3)
    throw ShapeError(spec() + " expects an image input [C,H,W]; got " + in.str());
  s_.C = in[0];
  s_.H = in[1];
  s_.W = in[2];
  if (s_.H + 2 * s_.pad_h < s_.R || s_.W + 2 * s_.pad_w < s_.S)
    throw ShapeError(spec() + ": kernel " + std::to_string(s_.R) + "x" + std::to_string(s_.S) +
                     " does not fit input " + in.str() + " with pad " + std::to_string(s_.pad_h));
  if (s_.pad_h >= s_.R)
    throw ShapeError(spec() + ": pad " + std::to_string(s_.pad_h) +
                     " must be smaller than the kernel size " + std::to_string(s_.R));
  int64_t fan_in = s_.C * s_.R * s_.S;
  params_.clear();
  params_.push_back(Param{"weight", Shape{s_.K, s_.C, s_.R, s_.S}, fan_in, {}, {}});
  params_.push_back(Param{"bias", Shape{s_.K}, fan_in, {}, {}});
  return Shape{s_.K, s_.P(), s_.Q()};
}

void Conv2d::forward(const Tensor& x, Tensor& y, const StepContext&) {
  BS_CHECK(x.shape()[0] == s_.N, "conv2d forward before reshape");
  ops_->conv2d_fwd(y.data(), x.data(), params_[0].value.data(), params_[1].value.data(), s_,
                   /*relu=*/relu_);
}

void Conv2d::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) {
  {
    TimedScope t(Phase::BackwardWeights);
    if (relu_bwd_folded_) {
      // dy is the ReLU's output gradient; y, this layer's output after the fused ReLU, is its mask.
      BS_CHECK(dx.empty(), "conv2d: a folded ReLU backward leaves no input gradient to compute");
      ops_->conv2d_bwd_weight_relu(params_[0].grad.data(), params_[1].grad.data(), dy.data(),
                                   y.data(), x.data(), s_);
    } else {
      ops_->conv2d_bwd_weight(params_[0].grad.data(), params_[1].grad.data(), dy.data(), x.data(),
                              s_);
    }
  }
  // The first layer's input gradient is never used; the model passes an empty dx for it.
  if (!dx.empty()) {
    TimedScope t(Phase::BackwardData);
    ops_->conv2d_bwd_data(dx.data(), dy.data(), params_[0].value.data(), s_);
  }
}

int64_t Conv2d::macs_per_sample() const { return s_.K * s_.P() * s_.Q() * s_.C * s_.R * s_.S; }

std::vector<LayerTestConfig> Conv2d::test_configs() {
  return {{"conv2d:2:3", Shape{1, 5, 5}},
          {"conv2d:3:3:stride=2:pad=1", Shape{2, 7, 6}},
          {"conv2d:2:2:stride=1:pad=1", Shape{3, 4, 4}},
          {"conv2d:4:1", Shape{3, 3, 3}},
          {"conv2d:2:5:pad=2:stride=3", Shape{2, 8, 9}}};
}

}  // namespace batchscope
