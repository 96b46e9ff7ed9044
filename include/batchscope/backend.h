// The kernel back-ends a Model can run on, named in the public API so that a program built
// against include/ alone can choose one: Model m("mnist-cnn", {1, 28, 28}, 10, Backend::OneDnn, 1).
#pragma once

namespace batchscope::kernels {

// Reference: plain loops, the twins every fast kernel is tested against. OneDnn: oneDNN
// primitives and the project's own SIMD kernels, chosen at run time for the CPU.
enum class Backend { Reference, OneDnn };

}  // namespace batchscope::kernels
