// MaxPool2d layer: shape checks and the argmax cache; arithmetic in maxpool2d_fwd/bwd.
#include "layers/maxpool2d.h"

#include "batchscope/error.h"

namespace batchscope {

MaxPool2d::MaxPool2d(const LayerArgs& a) {
  a.check_known(1, {"kernel", "stride"});
  s_.R = s_.S = a.get_int(0, "kernel", 0, /*required=*/true, /*min_value=*/1);
  s_.stride_h = s_.stride_w = a.get_int(1, "stride", s_.R, false, /*min_value=*/1);
}

std::string MaxPool2d::spec() const {
  return "maxpool2d:" + std::to_string(s_.R) + ":stride=" + std::to_string(s_.stride_h);
}

Shape MaxPool2d::setup(const Shape& in) {
  if (in.rank() != 3)
    throw ShapeError(spec() + " expects an image input [C,H,W]; got " + in.str());
  s_.C = in[0];
  s_.H = in[1];
  s_.W = in[2];
  if (s_.H < s_.R || s_.W < s_.S)
    throw ShapeError(spec() + ": window " + std::to_string(s_.R) + "x" + std::to_string(s_.S) +
                     " does not fit input " + in.str());
  return Shape{s_.C, s_.P(), s_.Q()};
}

void MaxPool2d::reshape(int64_t batch) {
  s_.N = batch;
  argmax_.resize(static_cast<size_t>(s_.N * s_.C * s_.P() * s_.Q()));
}

void MaxPool2d::forward(const Tensor& x, Tensor& y, const StepContext&) {
  BS_CHECK(x.shape()[0] == s_.N, "maxpool2d forward before reshape");
  ops_->maxpool2d_fwd(y.data(), argmax_.data(), x.data(), s_);
}

void MaxPool2d::backward(const Tensor&, const Tensor& y, const Tensor& dy, Tensor& dx) {
  if (!dx.empty())
    ops_->maxpool2d_bwd(dx.data(), dy.data(), argmax_.data(), relu_folded_ ? y.data() : nullptr, s_);
}

std::vector<LayerTestConfig> MaxPool2d::test_configs() {
  return {{"maxpool2d:2", Shape{2, 6, 6}},
          {"maxpool2d:3:stride=2", Shape{1, 7, 8}},
          {"maxpool2d:2", Shape{3, 5, 5}}};
}

}  // namespace batchscope
