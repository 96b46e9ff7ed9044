// The kernel back-ends a Model can run on, named in the public API so that a program built
// against include/ alone can choose one: Model m("mnist-cnn", {1, 28, 28}, 10, Backend::OneDnn, 1).
#pragma once
#include <string_view>

namespace batchscope::kernels {

// Reference: plain loops, the twins every fast kernel is tested against. OneDnn: oneDNN
// primitives and the project's own SIMD kernels, chosen at run time for the CPU.
enum class Backend { Reference, OneDnn };

struct OpTable;
// The kernel variant for back-end `backend` ("onednn" or "reference"), convolution algorithm
// `conv_algo` ("direct", "winograd", or "auto": Winograd where this CPU runs it, else direct)
// and `precision` ("f32" or "bf16"), for Model's constructor. UsageError naming the option
// (conv_algo, precision) this CPU cannot run, the feature it lacks and what to use instead.
const OpTable& kernel_table(std::string_view backend, std::string_view conv_algo = "direct",
                            std::string_view precision = "f32");

}  // namespace batchscope::kernels
