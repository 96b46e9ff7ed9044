// Relu layer over the op table's relu_fwd / relu_bwd.
#include "layers/relu.h"

#include "kernels/kernels.h"

namespace batchscope {

void Relu::forward(const Tensor& x, Tensor& y, const StepContext&) {
  ops_->relu_fwd(y.data(), x.data(), x.numel());
}

void Relu::backward(const Tensor&, const Tensor& y, const Tensor& dy, Tensor& dx) {
  if (!dx.empty()) ops_->relu_bwd(dx.data(), dy.data(), y.data(), y.numel());
}

}  // namespace batchscope
