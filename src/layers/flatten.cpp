// Flatten layer: a straight copy each way when not aliased (inside a Model it is a view).
#include "layers/flatten.h"

#include <algorithm>

namespace batchscope {

void Flatten::forward(const Tensor& x, Tensor& y, const StepContext&) {
  if (y.data() != x.data()) std::copy_n(x.data(), x.numel(), y.data());
}

void Flatten::backward(const Tensor&, const Tensor&, const Tensor& dy, Tensor& dx) {
  if (!dx.empty() && dx.data() != dy.data()) std::copy_n(dy.data(), dy.numel(), dx.data());
}

}  // namespace batchscope
