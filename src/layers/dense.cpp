// Dense layer: shape checks and parameters; arithmetic in the op table's dense_* ops.
#include "layers/dense.h"

#include "batchscope/error.h"
#include "core/step_profiler.h"

namespace batchscope {

Dense::Dense(const LayerArgs& a) {
  a.check_known(1, {"units"});
  O_ = a.get_int(0, "units", 0, /*required=*/true, /*min_value=*/1);
}

Shape Dense::setup(const Shape& in) {
  if (in.rank() != 1)
    throw ShapeError(spec() + " expects a flat input [F]; got " + in.str() +
                     " (put 'flatten' before it)");
  I_ = in[0];
  params_.clear();
  params_.push_back(Param{"weight", Shape{O_, I_}, I_, {}, {}});
  params_.push_back(Param{"bias", Shape{O_}, I_, {}, {}});
  return Shape{O_};
}

void Dense::forward(const Tensor& x, Tensor& y, const StepContext&) {
  BS_CHECK(x.shape()[0] == N_, "dense forward before reshape");
  ops_->dense_fwd(y.data(), x.data(), params_[0].value.data(), params_[1].value.data(), N_, I_,
                  O_, /*relu=*/relu_);
}

void Dense::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor& dx) {
  TimedScope tw(Phase::BackwardWeights);
  if (defers_weight_grad_at(N_)) {
    deferred_ = LowRankGrad{/*offset=*/0, O_, I_, N_, dy.data(), x.data()};
    float* db = params_[1].grad.data();  // db += Σ_n dy[n, :]
    for (int64_t n = 0; n < N_; ++n)
      for (int64_t o = 0; o < O_; ++o) db[o] += dy[n * O_ + o];
  } else {
    ops_->dense_bwd_weight(params_[0].grad.data(), params_[1].grad.data(), dy.data(), x.data(),
                           N_, I_, O_);
  }
  tw.stop();
  if (!dx.empty()) {
    TimedScope t(Phase::BackwardData);
    ops_->dense_bwd_data(dx.data(), dy.data(), params_[0].value.data(), N_, I_, O_);
  }
}

std::vector<LayerTestConfig> Dense::test_configs() {
  return {{"dense:3", Shape{5}}, {"dense:1", Shape{7}}, {"dense:17", Shape{16}}};
}

}  // namespace batchscope
