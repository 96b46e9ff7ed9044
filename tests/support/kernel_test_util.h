// Helpers for the kernel tests: deterministic random data (same numbers on every platform),
// NaN pre-fill so unwritten outputs fail, a tolerance compare that reports op, impl, shape,
// index, got and expected, and printers for the geometry structs. No kernels live here.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace batchscope::test {

// n uniform floats in [lo, hi) from a splitmix64 stream seeded with `seed`.
std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f);
// n labels uniform in [0, L).
std::vector<int32_t> random_labels(size_t n, int32_t L, uint64_t seed);
// n quiet NaNs: the pre-fill for every overwritten output.
std::vector<float> nan_floats(size_t n);

// |got - expected| <= atol + rtol * |expected|, per element.
struct Tolerance {
  double atol = 0.0;
  double rtol = 0.0;
};
// Exact agreement (element-wise ops, max-pool): only -0 == +0 is forgiven.
constexpr Tolerance kExact{};
// For outputs that are float sums of `terms` products each at most max_abs_product in size:
// worst-case rounding grows like terms · eps · max|a·b|, so both parts scale with the length.
Tolerance reduction_tolerance(int64_t terms, double max_abs_product);

// Compares element-wise; a NaN in got (an element the kernel never wrote) always fails.
// `what` names op, impl and shape; `dims` turns the first bad flat index into a multi-index.
::testing::AssertionResult all_close(std::span<const float> got, std::span<const float> expected,
                                     Tolerance tol, const std::string& what,
                                     std::span<const int64_t> dims);
::testing::AssertionResult all_equal(std::span<const int32_t> got,
                                     std::span<const int32_t> expected, const std::string& what,
                                     std::span<const int64_t> dims);

// Every table this CPU runs (reference first); kernels::variants() also lists the others.
std::vector<const kernels::OpTable*> tables();

// The tolerance of a convolution output that sums `terms` products of inputs in [-1, 1], as
// table t computes it. Direct f32: reduction_tolerance. Winograd F(4x4,3x3) trades the direct
// summation order for fewer multiplies: within 2e-3 of outputs of order 10 for sums of up to a
// thousand terms. bf16 rounds every input to 8 significant bits (relative error up to 2^-9)
// and accumulates in f32, so for random data the error of a sum of K products grows like
// sqrt(K) * 2^-8; the bound is about 4x that. A wrong kernel (a lost channel, a shifted
// window) is off by O(1) under all of them.
Tolerance conv_tolerance(const kernels::OpTable& t, int64_t terms);

// "N=2 C=3 H=7 W=9 K=15 R=3 S=3 stride=1x1 pad=1x1", "N=.. C=.. H=.. W=.. win=2x2 stride=2x2".
std::string to_string(const kernels::ConvShape& g);
std::string to_string(const kernels::PoolShape& g);
// "op=conv2d_fwd impl=onednn shape=..." (extra appended verbatim, e.g. " bias relu").
std::string describe(const char* op, std::string_view impl, const std::string& shape,
                     const std::string& extra = "");

}  // namespace batchscope::test
