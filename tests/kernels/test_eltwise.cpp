// ReLU kernels and the op registry. ReLU: every table against the definition on sizes around
// the vector width and past the threading threshold, in place and out of place, with exact
// zeros and negative zeros in the input. Registry: table names, slot completeness, and the
// --backend parser's error.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "batchscope/error.h"
#include "kernels/kernels.h"
#include "support/kernel_test_util.h"

namespace batchscope {
namespace {

using kernels::OpTable;
using test::describe;
using test::nan_floats;
using test::random_floats;

// 1..17 straddle a 16-float vector; 100003 is odd and above the 65536 threading threshold.
const std::vector<int64_t> kSizes = {1, 2, 15, 16, 17, 1000, 100003};

// Random in [-1, 1] with every 7th element an exact 0 and every 11th a -0.
std::vector<float> relu_input(int64_t n, uint64_t seed) {
  std::vector<float> v = random_floats(static_cast<size_t>(n), seed);
  for (size_t i = 0; i < v.size(); i += 7) v[i] = 0.0f;
  for (size_t i = 5; i < v.size(); i += 11) v[i] = -0.0f;
  return v;
}

std::string size_str(int64_t n) { return "n=" + std::to_string(n); }

TEST(Relu, HandComputed) {
  const std::vector<float> x = {-2, -0.0f, 0, 0.5f, 3}, dy = {1, 2, 3, 4, 5};
  const std::array<int64_t, 1> dims{5};
  for (const OpTable* t : test::tables()) {
    std::vector<float> y = nan_floats(5);
    t->relu_fwd(y.data(), x.data(), 5);
    EXPECT_TRUE(test::all_close(y, std::vector<float>{0, 0, 0, 0.5f, 3}, test::kExact,
                                describe("relu_fwd", t->name, "n=5"), dims));
    std::vector<float> dx = nan_floats(5);
    t->relu_bwd(dx.data(), dy.data(), y.data(), 5);
    EXPECT_TRUE(test::all_close(dx, std::vector<float>{0, 0, 0, 4, 5}, test::kExact,
                                describe("relu_bwd", t->name, "n=5"), dims));
  }
}

TEST(Relu, ForwardMatchesDefinition) {
  for (int64_t n : kSizes) {
    const std::vector<float> x = relu_input(n, /*seed=*/81);
    std::vector<float> expected(x.size());
    for (size_t i = 0; i < x.size(); ++i) expected[i] = x[i] > 0.0f ? x[i] : 0.0f;
    const std::array<int64_t, 1> dims{n};
    for (const OpTable* t : test::tables()) {
      std::vector<float> y = nan_floats(x.size());
      t->relu_fwd(y.data(), x.data(), n);
      EXPECT_TRUE(test::all_close(y, expected, test::kExact,
                                  describe("relu_fwd", t->name, size_str(n)), dims));
      std::vector<float> in_place = x;
      t->relu_fwd(in_place.data(), in_place.data(), n);
      EXPECT_TRUE(test::all_close(in_place, expected, test::kExact,
                                  describe("relu_fwd", t->name, size_str(n), " in-place"), dims));
    }
  }
}

TEST(Relu, BackwardMatchesDefinition) {
  for (int64_t n : kSizes) {
    std::vector<float> y = relu_input(n, /*seed=*/82);
    for (float& v : y) v = v > 0.0f ? v : 0.0f;  // a real forward output: >= 0
    const std::vector<float> dy = random_floats(static_cast<size_t>(n), /*seed=*/83);
    std::vector<float> expected(dy.size());
    for (size_t i = 0; i < dy.size(); ++i) expected[i] = y[i] > 0.0f ? dy[i] : 0.0f;
    const std::array<int64_t, 1> dims{n};
    for (const OpTable* t : test::tables()) {
      std::vector<float> dx = nan_floats(dy.size());
      t->relu_bwd(dx.data(), dy.data(), y.data(), n);
      EXPECT_TRUE(test::all_close(dx, expected, test::kExact,
                                  describe("relu_bwd", t->name, size_str(n)), dims));
      std::vector<float> in_place = dy;
      t->relu_bwd(in_place.data(), in_place.data(), y.data(), n);
      EXPECT_TRUE(test::all_close(in_place, expected, test::kExact,
                                  describe("relu_bwd", t->name, size_str(n), " in-place"), dims));
    }
  }
}

// ---- the registry (kernels.h's table plumbing; it has no test file of its own) ----

TEST(Registry, VariantsAreNamedCompleteAndReachableByBackend) {
  const std::vector<kernels::Variant>& all = kernels::variants();
  ASSERT_EQ(all.size(), 5u);
  const char* names[] = {"reference", "onednn", "onednn-winograd", "onednn-bf16", "onednn-winograd-bf16"};
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].table->name, names[i]);
  EXPECT_EQ(&kernels::ops(kernels::Backend::Reference), all[0].table);
  EXPECT_EQ(&kernels::ops(kernels::Backend::OneDnn), all[1].table);
  // The defaults run everywhere; a missing variant always says why and what it needs.
  EXPECT_TRUE(all[0].supported && all[1].supported);
  for (const kernels::Variant& v : all) {
    const OpTable* t = v.table;
    EXPECT_TRUE(t->conv2d_fwd && t->conv2d_bwd_data && t->conv2d_bwd_weight && t->dense_fwd &&
                t->dense_bwd_data && t->dense_bwd_weight && t->maxpool2d_fwd && t->maxpool2d_bwd &&
                t->relu_fwd && t->relu_bwd && t->softmax_xent_fwd && t->softmax_xent_bwd)
        << t->name << " has an empty slot";
    EXPECT_EQ(v.why_not.empty(), v.supported) << t->name << ": " << v.why_not;
    if (!v.supported) {
      EXPECT_FALSE(v.needs.empty()) << t->name;
    }
    // Each variant is its own set of conv functions, so models holding different ones coexist.
    if (t != all[1].table && t->backend == kernels::Backend::OneDnn) {
      EXPECT_NE(t->conv2d_fwd, all[1].table->conv2d_fwd) << t->name;
    }
  }
  EXPECT_EQ(test::tables().size(),
            static_cast<size_t>(std::count_if(all.begin(), all.end(), [](const auto& v) { return v.supported; })));
}

TEST(Registry, SelectTableReturnsTheVariantOrAUsageErrorNamingTheFlag) {
  using kernels::ConvAlgo;
  using kernels::Precision;
  for (const kernels::Variant& v : kernels::variants()) {
    const OpTable& t = *v.table;
    if (v.supported) {
      EXPECT_EQ(&kernels::select_table(t.backend, t.conv_algo, t.precision), &t) << t.name;
      continue;
    }
    try {
      kernels::select_table(t.backend, t.conv_algo, t.precision);
      ADD_FAILURE() << t.name << " is unsupported yet was selected";
    } catch (const UsageError& e) {
      const std::string msg = e.what();
      // Winograd is named first where both are missing; bf16 alone otherwise.
      EXPECT_EQ(e.option(), t.conv_algo == ConvAlgo::Winograd ? "conv_algo" : "precision") << msg;
      EXPECT_NE(msg.find(t.conv_algo == ConvAlgo::Winograd ? "winograd" : "bf16"), std::string::npos) << msg;
      EXPECT_NE(msg.find(std::string(v.needs)), std::string::npos) << msg;
      EXPECT_NE(msg.find("; use "), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
  EXPECT_THROW(kernels::select_table(kernels::Backend::Reference, ConvAlgo::Winograd, Precision::F32),
               UsageError);
  EXPECT_THROW(kernels::select_table(kernels::Backend::Reference, ConvAlgo::Direct, Precision::Bf16),
               UsageError);
  // auto never picks what this CPU lacks.
  const ConvAlgo fastest = kernels::fastest_conv_algo(Precision::F32);
  EXPECT_NO_THROW(kernels::select_table(kernels::Backend::OneDnn, fastest, Precision::F32));
}

TEST(Registry, ParseBackend) {
  EXPECT_EQ(kernels::parse_backend("reference"), kernels::Backend::Reference);
  EXPECT_EQ(kernels::parse_backend("onednn"), kernels::Backend::OneDnn);
  try {
    kernels::parse_backend("xyz");
    FAIL() << "parse_backend accepted 'xyz'";
  } catch (const UsageError& e) {
    EXPECT_EQ(e.option(), "backend");
    EXPECT_STREQ(e.what(), "'xyz' is not a back-end; expected reference or onednn");
    EXPECT_EQ(option_message(e, /*flag_style=*/true), "--backend: 'xyz' is not a back-end; expected reference or onednn");
  }
  EXPECT_THROW(kernels::parse_backend(""), UsageError);
  EXPECT_THROW(kernels::parse_backend("OneDNN"), UsageError);
}

}  // namespace
}  // namespace batchscope
