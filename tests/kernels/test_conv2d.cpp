// Conv2d kernels: ref against hand-computed cases and the adjoint identity (so the oracle is
// checked, not trusted), then every registered table against ref over edge shapes (1, 3, 15,
// 16, 17, 32 channels; 1x1, 3x3, 5x5 and rectangular filters; stride 1-2; pad 0-2; odd sizes)
// and the MNIST net's two convolutions at N = 1 and 64. Overwritten outputs are NaN-filled
// first; accumulated ones start from random values that the kernel must add to.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/cpu.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "support/kernel_test_util.h"

namespace batchscope {
namespace {

using kernels::ConvShape;
using kernels::OpTable;
using test::describe;
using test::nan_floats;
using test::random_floats;
using test::to_string;

size_t x_size(const ConvShape& g) { return static_cast<size_t>(g.N * g.C * g.H * g.W); }
size_t w_size(const ConvShape& g) { return static_cast<size_t>(g.K * g.C * g.R * g.S); }
size_t y_size(const ConvShape& g) { return static_cast<size_t>(g.N * g.K * g.P() * g.Q()); }
std::array<int64_t, 4> x_dims(const ConvShape& g) { return {g.N, g.C, g.H, g.W}; }
std::array<int64_t, 4> w_dims(const ConvShape& g) { return {g.K, g.C, g.R, g.S}; }
std::array<int64_t, 4> y_dims(const ConvShape& g) { return {g.N, g.K, g.P(), g.Q()}; }
std::array<int64_t, 1> b_dims(const ConvShape& g) { return {g.K}; }

// {N, C, H, W, K, R, S, stride_h, stride_w, pad_h, pad_w}
const std::vector<ConvShape> kEdgeShapes = {
    {1, 1, 5, 5, 1, 1, 1, 1, 1, 0, 0},      // smallest: 1x1 filter, one channel
    {2, 3, 7, 9, 15, 3, 3, 1, 1, 1, 1},     // odd sizes, "same" padding
    {3, 16, 8, 8, 17, 3, 3, 2, 2, 1, 1},    // stride 2, 16 -> 17 channels
    {1, 17, 11, 13, 16, 5, 5, 1, 1, 2, 2},  // 5x5, pad 2
    {17, 15, 6, 6, 3, 1, 1, 2, 2, 0, 0},    // 1x1 stride 2, N = 17
    {2, 32, 9, 9, 32, 3, 3, 2, 2, 0, 0},    // stride 2 without padding, odd input
    {3, 3, 10, 7, 32, 5, 5, 2, 2, 2, 2},    // 5x5 stride 2 pad 2
    {2, 16, 12, 12, 16, 3, 3, 1, 1, 0, 0},  // exactly one vector of channels
    {1, 17, 5, 6, 1, 3, 5, 1, 2, 2, 1},     // rectangular filter, mixed stride and pad
    {17, 1, 12, 12, 32, 3, 3, 1, 1, 0, 0},  // conv1-like with N = 17
    {2, 3, 4, 4, 16, 5, 5, 1, 1, 2, 2},     // filter larger than the input
    {3, 1, 3, 3, 1, 3, 3, 2, 2, 1, 1},      // padding-dominated
};
// The benchmark net: conv1 1 -> 32 on 28x28, conv2 32 -> 64 on 26x26, both 3x3.
const std::vector<ConvShape> kMnistShapes = {
    {1, 1, 28, 28, 32, 3, 3},
    {64, 1, 28, 28, 32, 3, 3},
    {1, 32, 26, 26, 64, 3, 3},
    {64, 32, 26, 26, 64, 3, 3},
};

// Inputs in [-1, 1], so every product is at most 1 in size.
struct ConvData {
  std::vector<float> x, w, b, dy;
  explicit ConvData(const ConvShape& g)
      : x(random_floats(x_size(g), /*seed=*/11)),
        w(random_floats(w_size(g), /*seed=*/12)),
        b(random_floats(static_cast<size_t>(g.K), /*seed=*/13)),
        dy(random_floats(y_size(g), /*seed=*/14)) {}
};

// Forward: ref once per (shape, bias); the ReLU expectation is ref's own max(·, 0) of it,
// and ref's fused ReLU is itself checked by the hand-computed case.
void check_fwd(const ConvShape& g, bool bias,
               const std::vector<const OpTable*>& tables = test::tables()) {
  const ConvData d(g);
  const float* b = bias ? d.b.data() : nullptr;
  std::vector<float> expected = nan_floats(y_size(g));
  kernels::ref::conv2d_fwd(expected.data(), d.x.data(), d.w.data(), b, g, /*relu=*/false);
  std::vector<float> expected_relu = expected;
  for (float& v : expected_relu) v = std::max(v, 0.0f);
  for (const OpTable* t : tables) {
    const auto tol = test::conv_tolerance(*t, g.C * g.R * g.S + 1);
    for (bool relu : {false, true}) {
      std::vector<float> got = nan_floats(y_size(g));
      if (t->conv2d_fwd == &kernels::ref::conv2d_fwd)
        got = relu ? expected_relu : expected;  // ref itself: only the NaN check remains
      else
        t->conv2d_fwd(got.data(), d.x.data(), d.w.data(), b, g, relu);
      const std::string extra = std::string(bias ? " bias" : " no-bias") + (relu ? " relu" : "");
      EXPECT_TRUE(test::all_close(got, relu ? expected_relu : expected, tol,
                                  describe("conv2d_fwd", t->name, to_string(g), extra), y_dims(g)));
    }
  }
}

void check_bwd_data(const ConvShape& g,
                    const std::vector<const OpTable*>& tables = test::tables()) {
  const ConvData d(g);
  std::vector<float> expected = nan_floats(x_size(g));
  kernels::ref::conv2d_bwd_data(expected.data(), d.dy.data(), d.w.data(), g);
  for (const OpTable* t : tables) {
    const auto tol = test::conv_tolerance(*t, g.K * g.R * g.S);
    std::vector<float> got = nan_floats(x_size(g));
    if (t->conv2d_bwd_data == &kernels::ref::conv2d_bwd_data)
      got = expected;  // ref itself: only the NaN check remains
    else
      t->conv2d_bwd_data(got.data(), d.dy.data(), d.w.data(), g);
    EXPECT_TRUE(test::all_close(got, expected, tol,
                                describe("conv2d_bwd_data", t->name, to_string(g)), x_dims(g)));
  }
}

void check_bwd_weight(const ConvShape& g, bool bias,
                      const std::vector<const OpTable*>& tables = test::tables()) {
  const ConvData d(g);
  // Accumulated outputs start from known random values, not zero.
  const std::vector<float> dw0 = random_floats(w_size(g), /*seed=*/21);
  const std::vector<float> db0 = random_floats(static_cast<size_t>(g.K), /*seed=*/22);
  std::vector<float> dw_ref = dw0, db_ref = db0;
  kernels::ref::conv2d_bwd_weight(dw_ref.data(), bias ? db_ref.data() : nullptr, d.dy.data(),
                                  d.x.data(), g);
  const std::string extra = bias ? " bias" : " no-bias";
  for (const OpTable* t : tables) {
    const auto tol = test::conv_tolerance(*t, g.N * g.P() * g.Q() + 1);
    std::vector<float> dw = dw_ref, db = db_ref;  // ref itself: nothing left to compare
    if (t->conv2d_bwd_weight != &kernels::ref::conv2d_bwd_weight) {
      dw = dw0;
      db = db0;
      t->conv2d_bwd_weight(dw.data(), bias ? db.data() : nullptr, d.dy.data(), d.x.data(), g);
    }
    EXPECT_TRUE(test::all_close(dw, dw_ref, tol,
                                describe("conv2d_bwd_weight(dw)", t->name, to_string(g), extra),
                                w_dims(g)));
    // Without a bias, db must be left alone: db_ref still holds db0 then.
    EXPECT_TRUE(test::all_close(db, db_ref, tol,
                                describe("conv2d_bwd_weight(db)", t->name, to_string(g), extra),
                                b_dims(g)));
  }
}

// ---- ref (and every table) against hand-computed numbers ----

// x = 1..9 as a 3x3 image, w = [[2, 0], [0, -1]], b = 0.5: y[p,q] = 2 x[p,q] - x[p+1,q+1] + .5
TEST(Conv2d, ForwardHandComputed2x2Filter) {
  const ConvShape g{1, 1, 3, 3, 1, 2, 2};
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w = {2, 0, 0, -1}, b = {0.5f};
  const std::vector<float> expected = {-2.5f, -1.5f, 0.5f, 1.5f};
  const std::vector<float> expected_relu = {0.0f, 0.0f, 0.5f, 1.5f};
  for (const OpTable* t : test::tables()) {
    for (bool relu : {false, true}) {
      std::vector<float> y = nan_floats(4);
      t->conv2d_fwd(y.data(), x.data(), w.data(), b.data(), g, relu);
      EXPECT_TRUE(test::all_close(y, relu ? expected_relu : expected, test::kExact,
                                  describe("conv2d_fwd", t->name, to_string(g)), y_dims(g)));
    }
  }
}

// Ones 3x3 filter with pad 1 sums each pixel's neighbourhood; stride 2 keeps the corners.
TEST(Conv2d, ForwardHandComputedPaddingAndStride) {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w(9, 1.0f);
  const ConvShape same{1, 1, 3, 3, 1, 3, 3, 1, 1, 1, 1};
  const ConvShape strided{1, 1, 3, 3, 1, 3, 3, 2, 2, 1, 1};
  const std::vector<float> expected_same = {12, 21, 16, 27, 45, 33, 24, 39, 28};
  const std::vector<float> expected_strided = {12, 16, 24, 28};
  for (const OpTable* t : test::tables()) {
    std::vector<float> y = nan_floats(9);
    t->conv2d_fwd(y.data(), x.data(), w.data(), nullptr, same, /*relu=*/false);
    EXPECT_TRUE(test::all_close(y, expected_same, test::kExact,
                                describe("conv2d_fwd", t->name, to_string(same)), y_dims(same)));
    y = nan_floats(4);
    t->conv2d_fwd(y.data(), x.data(), w.data(), nullptr, strided, /*relu=*/false);
    EXPECT_TRUE(test::all_close(y, expected_strided, test::kExact,
                                describe("conv2d_fwd", t->name, to_string(strided)),
                                y_dims(strided)));
  }
}

// 1x1 filter across channels: y[k] = sum_c w[k,c] x[c] pins down the [K,C] weight order and
// the per-image offsets (two images).
TEST(Conv2d, ForwardHandComputedChannelMixing) {
  const ConvShape g{2, 2, 1, 1, 3, 1, 1};
  const std::vector<float> x = {1, 10, 2, 20};      // image 0: (1, 10); image 1: (2, 20)
  const std::vector<float> w = {1, 2, 3, 4, 5, 6};  // rows k: (1,2) (3,4) (5,6)
  const std::vector<float> b = {0, 100, 0};
  const std::vector<float> expected = {21, 143, 65, 42, 186, 130};
  for (const OpTable* t : test::tables()) {
    std::vector<float> y = nan_floats(6);
    t->conv2d_fwd(y.data(), x.data(), w.data(), b.data(), g, /*relu=*/false);
    EXPECT_TRUE(test::all_close(y, expected, test::kExact,
                                describe("conv2d_fwd", t->name, to_string(g)), y_dims(g)));
  }
}

// Same geometry as the 2x2 forward case, dy = 1..4: dx[h,w] = 2 dy[h,w] - dy[h-1,w-1].
TEST(Conv2d, BackwardDataHandComputed) {
  const ConvShape g{1, 1, 3, 3, 1, 2, 2};
  const std::vector<float> dy = {1, 2, 3, 4}, w = {2, 0, 0, -1};
  const std::vector<float> expected = {2, 4, 0, 6, 7, -2, 0, -3, -4};
  for (const OpTable* t : test::tables()) {
    std::vector<float> dx = nan_floats(9);
    t->conv2d_bwd_data(dx.data(), dy.data(), w.data(), g);
    EXPECT_TRUE(test::all_close(dx, expected, test::kExact,
                                describe("conv2d_bwd_data", t->name, to_string(g)), x_dims(g)));
  }
}

// dw[r,s] = sum_{p,q} dy[p,q] x[p+r,q+s] = 37 47 67 77, db = 10, added to 1 and 0.5.
TEST(Conv2d, BackwardWeightHandComputedAccumulates) {
  const ConvShape g{1, 1, 3, 3, 1, 2, 2};
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, dy = {1, 2, 3, 4};
  for (const OpTable* t : test::tables()) {
    std::vector<float> dw(4, 1.0f), db(1, 0.5f);
    t->conv2d_bwd_weight(dw.data(), db.data(), dy.data(), x.data(), g);
    EXPECT_TRUE(test::all_close(dw, std::vector<float>{38, 48, 68, 78}, test::kExact,
                                describe("conv2d_bwd_weight(dw)", t->name, to_string(g)),
                                w_dims(g)));
    EXPECT_TRUE(test::all_close(db, std::vector<float>{10.5f}, test::kExact,
                                describe("conv2d_bwd_weight(db)", t->name, to_string(g)),
                                b_dims(g)));
  }
}

// The two gradients are the adjoints of the (linear, bias-free) forward map:
// <conv(x, w), dy> = <x, bwd_data(dy, w)> = <w, bwd_weight(dy, x)>. An independent check of
// ref's index arithmetic on every edge shape.
TEST(Conv2d, RefBackwardIsAdjointOfForward) {
  for (const ConvShape& g : kEdgeShapes) {
    const ConvData d(g);
    std::vector<float> y(y_size(g)), dx(x_size(g)), dw(w_size(g), 0.0f);
    kernels::ref::conv2d_fwd(y.data(), d.x.data(), d.w.data(), nullptr, g, /*relu=*/false);
    kernels::ref::conv2d_bwd_data(dx.data(), d.dy.data(), d.w.data(), g);
    kernels::ref::conv2d_bwd_weight(dw.data(), nullptr, d.dy.data(), d.x.data(), g);
    auto dot = [](const std::vector<float>& a, const std::vector<float>& b) {
      double s = 0.0;
      for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
      return s;
    };
    const double via_y = dot(y, d.dy), via_x = dot(dx, d.x), via_w = dot(dw, d.w);
    // Each side is a sum of float-rounded partial sums; their rounding bounds the gap.
    const double tol = 1e-6 * static_cast<double>(y_size(g)) * static_cast<double>(g.C * g.R * g.S);
    EXPECT_NEAR(via_x, via_y, tol) << to_string(g);
    EXPECT_NEAR(via_w, via_y, tol) << to_string(g);
  }
}

// ---- every kernel variant against ref ----

// One instance per variant in kernels::variants(), supported or not: a variant this CPU lacks
// (Winograd and bf16 need AVX-512 in oneDNN 2.6) is skipped with the reason, never run.
class ConvVariant : public ::testing::TestWithParam<size_t> {
 protected:
  void SetUp() override {
    ASSERT_LT(GetParam(), kernels::variants().size());
    const kernels::Variant& v = kernels::variants()[GetParam()];
    if (!v.supported)
      GTEST_SKIP() << v.table->name << " is not offered on this CPU: needs " << v.needs << "; "
                   << v.why_not;
  }
  std::vector<const OpTable*> table() const { return {kernels::variants()[GetParam()].table}; }
};

TEST_P(ConvVariant, ForwardMatchesRefOnEdgeShapes) {
  for (const ConvShape& g : kEdgeShapes) {
    check_fwd(g, /*bias=*/true, table());
    check_fwd(g, /*bias=*/false, table());
  }
}

TEST_P(ConvVariant, ForwardMatchesRefOnMnistShapes) {
  for (const ConvShape& g : kMnistShapes) check_fwd(g, /*bias=*/true, table());
}

TEST_P(ConvVariant, BackwardDataMatchesRefOnEdgeShapes) {
  for (const ConvShape& g : kEdgeShapes) check_bwd_data(g, table());
}

TEST_P(ConvVariant, BackwardDataMatchesRefOnMnistShapes) {
  // conv1's input gradient is never needed (its input is the image), so only conv2.
  for (const ConvShape& g : kMnistShapes)
    if (g.C > 1) check_bwd_data(g, table());
}

TEST_P(ConvVariant, BackwardWeightMatchesRefOnEdgeShapes) {
  for (const ConvShape& g : kEdgeShapes) {
    check_bwd_weight(g, /*bias=*/true, table());
    check_bwd_weight(g, /*bias=*/false, table());
  }
}

TEST_P(ConvVariant, BackwardWeightMatchesRefOnMnistShapes) {
  for (const ConvShape& g : kMnistShapes) check_bwd_weight(g, /*bias=*/true, table());
}

// Shapes the Winograd and bf16 paths take (3x3 stride 1 with 16-channel blocks, 16+ input
// channels) beside ones they hand to direct f32 (stride 2, one input channel).
TEST_P(ConvVariant, MatchesRefWhereTheVariantApplies) {
  const ConvShape shapes[] = {{2, 32, 26, 26, 64, 3, 3, 1, 1, 0, 0},
                              {1, 16, 7, 9, 16, 3, 3, 1, 1, 1, 1},
                              {1, 16, 7, 9, 16, 3, 3, 2, 2, 1, 1},
                              {3, 1, 28, 28, 32, 3, 3, 1, 1, 0, 0}};
  for (const ConvShape& g : shapes) {
    check_fwd(g, /*bias=*/true, table());
    check_bwd_data(g, table());
    check_bwd_weight(g, /*bias=*/true, table());
  }
}

// Channel-blocked activations (kernels.h): x, dx by x_block and y, dy by y_block, 8 or 16,
// either side alone or both. Inputs are blocked copies of plain data, outputs unblocked and
// compared with ref on the plain tensors: the layouts must change nothing but the order.
TEST_P(ConvVariant, BlockedActivationsMatchPlainRef) {
  const OpTable& t = *table()[0];
  const ConvShape shapes[] = {{2, 32, 26, 26, 64, 3, 3, 1, 1, 0, 0},
                              {2, 16, 8, 8, 32, 3, 3, 1, 1, 1, 1},
                              {3, 32, 9, 7, 16, 3, 3, 2, 2, 0, 0},
                              {1, 16, 5, 5, 16, 1, 1, 1, 1, 0, 0}};
  const std::pair<int64_t, int64_t> blocks[] = {{16, 16}, {16, 0}, {0, 16}, {8, 8}, {0, 8}};
  for (const ConvShape& plain : shapes)
    for (auto [xb, yb] : blocks) {
      ConvShape g = plain;
      g.x_block = xb;
      g.y_block = yb;
      const ConvData d(plain);
      const int64_t HW = g.H * g.W, PQ = g.P() * g.Q();
      auto blocked = [](const std::vector<float>& v, int64_t N, int64_t C, int64_t hw, int64_t b) {
        if (b == 0) return v;
        std::vector<float> o(v.size());
        kernels::block_channels(o.data(), v.data(), N, C, hw, b);
        return o;
      };
      auto unblocked = [](const std::vector<float>& v, int64_t N, int64_t C, int64_t hw, int64_t b) {
        if (b == 0) return v;
        std::vector<float> o(v.size());
        kernels::unblock_channels(o.data(), v.data(), N, C, hw, b);
        return o;
      };
      const std::string extra = " x_block=" + std::to_string(xb) + " y_block=" + std::to_string(yb);
      const std::vector<float> xb_in = blocked(d.x, g.N, g.C, HW, xb), dyb_in = blocked(d.dy, g.N, g.K, PQ, yb);

      std::vector<float> want = nan_floats(y_size(g)), got = nan_floats(y_size(g));
      kernels::ref::conv2d_fwd(want.data(), d.x.data(), d.w.data(), d.b.data(), plain, /*relu=*/true);
      t.conv2d_fwd(got.data(), xb_in.data(), d.w.data(), d.b.data(), g, /*relu=*/true);
      EXPECT_TRUE(test::all_close(unblocked(got, g.N, g.K, PQ, yb), want,
                                  test::conv_tolerance(t, g.C * g.R * g.S + 1),
                                  describe("conv2d_fwd", t.name, to_string(g), extra), y_dims(g)));

      std::vector<float> dx_want = nan_floats(x_size(g)), dx = nan_floats(x_size(g));
      kernels::ref::conv2d_bwd_data(dx_want.data(), d.dy.data(), d.w.data(), plain);
      t.conv2d_bwd_data(dx.data(), dyb_in.data(), d.w.data(), g);
      EXPECT_TRUE(test::all_close(unblocked(dx, g.N, g.C, HW, xb), dx_want,
                                  test::conv_tolerance(t, g.K * g.R * g.S),
                                  describe("conv2d_bwd_data", t.name, to_string(g), extra), x_dims(g)));

      std::vector<float> dw_want(w_size(g), 0.5f), dw(w_size(g), 0.5f);
      std::vector<float> db_want(static_cast<size_t>(g.K), 0.25f), db(static_cast<size_t>(g.K), 0.25f);
      kernels::ref::conv2d_bwd_weight(dw_want.data(), db_want.data(), d.dy.data(), d.x.data(), plain);
      t.conv2d_bwd_weight(dw.data(), db.data(), dyb_in.data(), xb_in.data(), g);
      const auto wtol = test::conv_tolerance(t, g.N * g.P() * g.Q() + 1);
      EXPECT_TRUE(test::all_close(dw, dw_want, wtol, describe("conv2d_bwd_weight(dw)", t.name, to_string(g), extra), w_dims(g)));
      EXPECT_TRUE(test::all_close(db, db_want, wtol, describe("conv2d_bwd_weight(db)", t.name, to_string(g), extra), b_dims(g)));
    }
}

// The weight gradient with the ReLU after the convolution folded in (conv2d_bwd_weight_relu):
// against ref's weight gradient of the masked dy, with dy and the mask in every layout the
// model can give. One-channel shapes take the fast tables' own kernel (filter widths 1-5 and
// 7, rows in register passes, stride, pad, odd sizes, K of one and several blocks, batch 1;
// on AVX-512, 8-wide blocks at stride 1 in pixel pairs, with odd widths);
// the others (C > 1, width 6, K not a whole block) its masked fallback. The mask has runs of
// zeros and exact zeros, as a ReLU's output does.
TEST_P(ConvVariant, WeightGradientWithFoldedReluMatchesRefOfMaskedDy) {
  const OpTable& t = *table()[0];
  const ConvShape shapes[] = {{3, 1, 28, 28, 32, 3, 3, 1, 1, 0, 0},  // mnist-cnn's conv1
                              {1, 1, 28, 28, 16, 3, 3, 1, 1, 0, 0},  // batch 1
                              {2, 1, 9, 11, 16, 5, 5, 2, 2, 2, 2},   // 5x5, stride, pad
                              {2, 1, 12, 10, 48, 7, 7, 1, 1, 3, 3},  // 7 rows: passes of rows
                              {2, 1, 6, 7, 16, 2, 2, 1, 1, 1, 1},    // even width, pad
                              {2, 1, 6, 6, 16, 1, 1, 1, 1, 0, 0},    // 1x1
                              {2, 1, 13, 13, 24, 4, 4, 3, 3, 0, 0},  // 24 = 3 blocks of 8
                              {2, 1, 28, 28, 24, 5, 5, 1, 1, 0, 0},  // the fast recipe's first layer
                              {2, 1, 9, 11, 8, 3, 3, 1, 1, 1, 0},    // odd Q = 9 (AVX-512 pixel pairs)
                              {1, 1, 9, 8, 16, 5, 4, 2, 1, 0, 0},    // odd Q = 5, stride 2 x 1
                              {2, 1, 9, 9, 16, 6, 6, 1, 1, 0, 0},    // width 6: fallback
                              {2, 2, 8, 8, 16, 3, 3, 1, 1, 0, 0},    // two channels: fallback
                              {2, 1, 8, 8, 12, 3, 3, 1, 1, 0, 0}};   // 12: no whole block
  for (const ConvShape& plain : shapes)
    for (int64_t yb : {0, 8, 16}) {
      if (yb != 0 && plain.K % yb != 0) continue;
      ConvShape g = plain;
      g.y_block = yb;
      const ConvData d(plain);
      const int64_t PQ = g.P() * g.Q();
      std::vector<float> relu_y = random_floats(y_size(g), /*seed=*/15);
      for (size_t i = 0; i < relu_y.size(); ++i)
        relu_y[i] = i % 7 == 3 ? 0.0f : std::max(relu_y[i], 0.0f);
      std::vector<float> masked(d.dy.size());
      for (size_t i = 0; i < masked.size(); ++i) masked[i] = relu_y[i] > 0.0f ? d.dy[i] : 0.0f;
      std::vector<float> dy_in = d.dy, y_in = relu_y;
      if (yb) {
        kernels::block_channels(dy_in.data(), d.dy.data(), g.N, g.K, PQ, yb);
        kernels::block_channels(y_in.data(), relu_y.data(), g.N, g.K, PQ, yb);
      }
      std::vector<float> dw_want(w_size(g), 0.5f), dw(w_size(g), 0.5f);
      std::vector<float> db_want(static_cast<size_t>(g.K), 0.25f), db(static_cast<size_t>(g.K), 0.25f);
      kernels::ref::conv2d_bwd_weight(dw_want.data(), db_want.data(), masked.data(), d.x.data(), plain);
      t.conv2d_bwd_weight_relu(dw.data(), db.data(), dy_in.data(), y_in.data(), d.x.data(), g);
      const auto wtol = test::conv_tolerance(t, g.N * PQ + 1);
      const std::string extra = " y_block=" + std::to_string(yb);
      EXPECT_TRUE(test::all_close(dw, dw_want, wtol, describe("conv2d_bwd_weight_relu(dw)", t.name, to_string(g), extra), w_dims(g)));
      EXPECT_TRUE(test::all_close(db, db_want, wtol, describe("conv2d_bwd_weight_relu(db)", t.name, to_string(g), extra), b_dims(g)));
      // Without a bias gradient too.
      std::vector<float> dw2(w_size(g), 0.5f);
      t.conv2d_bwd_weight_relu(dw2.data(), nullptr, dy_in.data(), y_in.data(), d.x.data(), g);
      EXPECT_TRUE(test::all_close(dw2, dw_want, wtol, describe("conv2d_bwd_weight_relu(dw, no db)", t.name, to_string(g), extra), w_dims(g)));
      // No ReLU (a max-pool after the convolution): the plain weight gradient of dy in the same
      // layouts, which one-channel shapes also send to the fast tables' own kernel.
      std::vector<float> dw3(w_size(g), 0.5f), dw3_want(w_size(g), 0.5f);
      std::vector<float> db3(static_cast<size_t>(g.K), 0.25f), db3_want(static_cast<size_t>(g.K), 0.25f);
      kernels::ref::conv2d_bwd_weight(dw3_want.data(), db3_want.data(), d.dy.data(), d.x.data(), plain);
      t.conv2d_bwd_weight(dw3.data(), db3.data(), dy_in.data(), d.x.data(), g);
      EXPECT_TRUE(test::all_close(dw3, dw3_want, wtol, describe("conv2d_bwd_weight(dw)", t.name, to_string(g), extra), w_dims(g)));
      EXPECT_TRUE(test::all_close(db3, db3_want, wtol, describe("conv2d_bwd_weight(db)", t.name, to_string(g), extra), b_dims(g)));
    }
}

INSTANTIATE_TEST_SUITE_P(Every, ConvVariant,
                         ::testing::Range<size_t>(0, kernels::variants().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           std::string name(kernels::variants()[info.param].table->name);
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// Cached primitives must follow the caller's buffers from call to call, with other shapes
// in between, and give bitwise-identical results for identical inputs.
TEST(Conv2d, RepeatedCallsFollowBuffersAndAreDeterministic) {
  const ConvShape a{2, 3, 7, 9, 15, 3, 3, 1, 1, 1, 1};
  const ConvShape other{3, 16, 8, 8, 17, 3, 3, 2, 2, 1, 1};
  const ConvData da(a), dother(other);
  std::vector<float> x2 = random_floats(x_size(a), /*seed=*/31);
  std::vector<float> expected1(y_size(a)), expected2(y_size(a));
  kernels::ref::conv2d_fwd(expected1.data(), da.x.data(), da.w.data(), da.b.data(), a, false);
  kernels::ref::conv2d_fwd(expected2.data(), x2.data(), da.w.data(), da.b.data(), a, false);
  const auto tol = test::reduction_tolerance(a.C * a.R * a.S + 1, 1.0);
  for (const OpTable* t : test::tables()) {
    std::vector<float> y1 = nan_floats(y_size(a)), y2 = nan_floats(y_size(a));
    std::vector<float> y1_again = nan_floats(y_size(a)), y_other = nan_floats(y_size(other));
    t->conv2d_fwd(y1.data(), da.x.data(), da.w.data(), da.b.data(), a, /*relu=*/false);
    t->conv2d_fwd(y_other.data(), dother.x.data(), dother.w.data(), dother.b.data(), other,
                  /*relu=*/false);
    t->conv2d_fwd(y2.data(), x2.data(), da.w.data(), da.b.data(), a, /*relu=*/false);
    t->conv2d_fwd(y1_again.data(), da.x.data(), da.w.data(), da.b.data(), a, /*relu=*/false);
    const std::string what = describe("conv2d_fwd", t->name, to_string(a));
    EXPECT_TRUE(test::all_close(y1, expected1, tol, what + " call 1", y_dims(a)));
    EXPECT_TRUE(test::all_close(y2, expected2, tol, what + " call 2", y_dims(a)));
    EXPECT_TRUE(test::all_close(y1_again, y1, test::kExact, what + " repeat", y_dims(a)));
  }
}

// The AVX2 build's own weight gradient for 8-wide blocked dy and blocked or plain x
// (cpu::conv2d_bwd_weight_b8), called directly against ref on the plain tensors: every filter width it takes (1-5: output
// channel tiles of 8, 4, 4, 2 and 2), rectangular filters, stride, pad (its zero-bordered copy),
// odd sizes, one and several blocks each side, batch 1, several images a pass with a short last
// pass (mnist-cnn's conv2 takes one a pass); with and without a bias; accumulating
// into dw and db; and the same bits at one thread as at several (threads own disjoint tiles).
TEST(Conv2d, BlockedEightWeightGradientMatchesRef) {
  // {N, C, H, W, K, R, S, stride_h, stride_w, pad_h, pad_w}
  const ConvShape shapes[] = {{3, 32, 26, 26, 64, 3, 3, 1, 1, 0, 0},  // mnist-cnn's conv2
                              {1, 8, 7, 9, 8, 3, 3, 1, 1, 1, 1},      // batch 1, one block, pad
                              {2, 24, 12, 12, 32, 5, 5, 1, 1, 0, 0},  // 5x5, 24 = 3 blocks
                              {11, 24, 12, 12, 32, 3, 3, 1, 1, 0, 0}, // fast's conv2: passes of 9 + 2 images
                              {2, 16, 9, 11, 24, 1, 1, 2, 2, 0, 0},   // 1x1 stride 2, odd sizes
                              {2, 8, 8, 7, 16, 2, 2, 1, 1, 1, 0},     // even width, pad one side
                              {3, 16, 10, 9, 8, 4, 4, 2, 1, 2, 1},    // width 4, mixed stride/pad
                              {2, 8, 11, 6, 16, 5, 3, 1, 2, 2, 1},    // rectangular 5x3
                              {2, 16, 6, 13, 8, 2, 5, 2, 1, 0, 2}};   // rectangular 2x5
  const int saved = omp_get_max_threads();
  for (const ConvShape& plain : shapes) {
   for (int64_t x_block : {8, 0}) {
    ConvShape g = plain;
    g.x_block = x_block;
    g.y_block = 8;
    const ConvData d(plain);
    const int64_t HW = g.H * g.W, PQ = g.P() * g.Q();
    std::vector<float> xb = d.x, dyb(d.dy.size());
    if (x_block) kernels::block_channels(xb.data(), d.x.data(), g.N, g.C, HW, 8);
    kernels::block_channels(dyb.data(), d.dy.data(), g.N, g.K, PQ, 8);
    const std::vector<float> dw0 = random_floats(w_size(g), /*seed=*/21);
    const std::vector<float> db0 = random_floats(static_cast<size_t>(g.K), /*seed=*/22);
    std::vector<float> dw_want = dw0, db_want = db0;
    kernels::ref::conv2d_bwd_weight(dw_want.data(), db_want.data(), d.dy.data(), d.x.data(), plain);
    const auto tol = test::reduction_tolerance(g.N * PQ + 1, 1.0);
    std::vector<float> dw = dw0, db = db0;
    if (!kernels::cpu::conv2d_bwd_weight_b8(dw.data(), db.data(), dyb.data(), xb.data(), g))
      GTEST_SKIP() << "conv2d_bwd_weight_b8 is built for AVX2 only (this build has AVX-512: "
                      "oneDNN's kernel is used)";
    const std::string what = describe("conv2d_bwd_weight_b8", "cpu", to_string(g), " x_block=" + std::to_string(x_block));
    EXPECT_TRUE(test::all_close(dw, dw_want, tol, what + " dw", w_dims(g)));
    EXPECT_TRUE(test::all_close(db, db_want, tol, what + " db", b_dims(g)));
    std::vector<float> dw_nob = dw0, db_untouched = db0;
    ASSERT_TRUE(kernels::cpu::conv2d_bwd_weight_b8(dw_nob.data(), nullptr, dyb.data(), xb.data(), g));
    EXPECT_TRUE(test::all_close(dw_nob, dw, test::kExact, what + " dw without db", w_dims(g)));
    EXPECT_TRUE(test::all_close(db_untouched, db0, test::kExact, what + " db left alone", b_dims(g)));
    omp_set_num_threads(1);
    std::vector<float> dw1 = dw0, db1 = db0;
    ASSERT_TRUE(kernels::cpu::conv2d_bwd_weight_b8(dw1.data(), db1.data(), dyb.data(), xb.data(), g));
    omp_set_num_threads(saved);
    EXPECT_TRUE(test::all_close(dw1, dw, test::kExact, what + " one thread vs several", w_dims(g)));
    EXPECT_TRUE(test::all_close(db1, db, test::kExact, what + " db one thread vs several", b_dims(g)));
   }
  }
}

// Where it does not apply it returns false and touches nothing: 16-wide or plain dy, 16-wide x,
// filter width 6.
TEST(Conv2d, BlockedEightWeightGradientDeclinesOtherLayouts) {
  const ConvShape base{2, 16, 9, 9, 16, 3, 3, 1, 1, 0, 0};
  std::vector<ConvShape> others;
  for (auto [xb, yb] : {std::pair<int64_t, int64_t>{16, 16}, {0, 0}, {8, 0}, {16, 8}, {8, 16}}) {
    ConvShape g = base;
    g.x_block = xb;
    g.y_block = yb;
    others.push_back(g);
  }
  ConvShape wide{2, 16, 9, 9, 16, 6, 6, 1, 1, 0, 0};
  wide.x_block = wide.y_block = 8;
  others.push_back(wide);
  for (const ConvShape& g : others) {
    const ConvData d(g);
    std::vector<float> dw(w_size(g), 0.5f), db(static_cast<size_t>(g.K), 0.25f);
    EXPECT_FALSE(kernels::cpu::conv2d_bwd_weight_b8(dw.data(), db.data(), d.dy.data(), d.x.data(), g))
        << to_string(g) << " x_block=" << g.x_block << " y_block=" << g.y_block;
    EXPECT_TRUE(std::all_of(dw.begin(), dw.end(), [](float v) { return v == 0.5f; })) << to_string(g);
    EXPECT_TRUE(std::all_of(db.begin(), db.end(), [](float v) { return v == 0.25f; })) << to_string(g);
  }
}

// The AVX-512 build's own forward for a one-channel plain input into 8-wide blocked output
// (cpu::conv2d_fwd_c1), called directly against ref on the plain tensors: 1, 2 and 3 blocks a
// tile and a short last group (K = 8 .. 40), the unrolled widths 3 and 5 and others (1, 7,
// rectangular), padding, odd output widths (a last pixel pair of one), rows of several tiles
// (Q = 38), batch 1, with and without bias and ReLU; the same bits at one thread as at several.
TEST(Conv2d, OneChannelForwardIntoEightWideBlocksMatchesRef) {
  // {N, C, H, W, K, R, S, stride_h, stride_w, pad_h, pad_w}
  const ConvShape shapes[] = {{3, 1, 28, 28, 24, 5, 5, 1, 1, 0, 0},  // the fast recipe's first layer
                              {1, 1, 28, 28, 32, 3, 3, 1, 1, 0, 0},  // batch 1, 4 blocks: 3 + 1
                              {2, 1, 9, 11, 8, 3, 3, 1, 1, 1, 1},    // one block, pad, Q = 11 odd
                              {2, 1, 12, 42, 40, 5, 5, 1, 1, 0, 0},  // Q = 38: three tiles a row, 3 + 2 blocks
                              {2, 1, 7, 8, 16, 1, 1, 1, 1, 0, 0},    // 1x1
                              {2, 1, 13, 13, 24, 7, 7, 1, 1, 3, 3},  // width 7 (not unrolled), pad 3
                              {3, 1, 10, 9, 16, 3, 5, 1, 1, 2, 1},   // rectangular 3x5, mixed pad
                              {1, 1, 5, 4, 8, 5, 4, 1, 1, 0, 0}};    // one output pixel
  const int saved = omp_get_max_threads();
  for (const ConvShape& plain : shapes) {
    ConvShape g = plain;
    g.y_block = 8;
    const ConvData d(plain);
    const int64_t PQ = g.P() * g.Q();
    for (bool bias : {true, false})
      for (bool relu : {false, true}) {
        const float* b = bias ? d.b.data() : nullptr;
        std::vector<float> want = nan_floats(y_size(g)), want_blocked(y_size(g));
        kernels::ref::conv2d_fwd(want.data(), d.x.data(), d.w.data(), b, plain, relu);
        kernels::block_channels(want_blocked.data(), want.data(), g.N, g.K, PQ, 8);
        std::vector<float> y = nan_floats(y_size(g));
        if (!kernels::cpu::conv2d_fwd_c1(y.data(), d.x.data(), d.w.data(), b, g, relu))
          GTEST_SKIP() << "conv2d_fwd_c1 is built for AVX-512 only (on AVX2 oneDNN's 8-wide "
                          "kernel is full width)";
        const std::string what = describe("conv2d_fwd_c1", "cpu", to_string(g),
                                          std::string(bias ? " bias" : "") + (relu ? " relu" : ""));
        EXPECT_TRUE(test::all_close(y, want_blocked, test::reduction_tolerance(g.R * g.S + 1, 1.0),
                                    what, y_dims(g)));
        omp_set_num_threads(1);
        std::vector<float> y1 = nan_floats(y_size(g));
        ASSERT_TRUE(kernels::cpu::conv2d_fwd_c1(y1.data(), d.x.data(), d.w.data(), b, g, relu));
        omp_set_num_threads(saved);
        EXPECT_TRUE(test::all_close(y1, y, test::kExact, what + " one thread vs several", y_dims(g)));
      }
  }
}

// Where it does not apply it returns false and touches nothing: two input channels, blocked
// input, 16-wide or plain output, K not a multiple of 8, stride 2.
TEST(Conv2d, OneChannelForwardDeclinesOtherShapes) {
  const ConvShape base{2, 1, 12, 12, 16, 3, 3, 1, 1, 0, 0};
  std::vector<ConvShape> others;
  for (auto [xb, yb] : {std::pair<int64_t, int64_t>{0, 16}, {0, 0}, {8, 8}}) {
    ConvShape g = base;
    g.x_block = xb;
    g.y_block = yb;
    others.push_back(g);
  }
  ConvShape two = base, k12 = base, strided = base;
  two.C = 2;
  k12.K = 12;
  strided.stride_h = strided.stride_w = 2;
  for (ConvShape* g : {&two, &k12, &strided}) {
    g->y_block = 8;
    others.push_back(*g);
  }
  for (const ConvShape& g : others) {
    const ConvData d(g);
    std::vector<float> y(y_size(g), 0.5f);
    EXPECT_FALSE(kernels::cpu::conv2d_fwd_c1(y.data(), d.x.data(), d.w.data(), d.b.data(), g, false))
        << to_string(g) << " x_block=" << g.x_block << " y_block=" << g.y_block;
    EXPECT_TRUE(std::all_of(y.begin(), y.end(), [](float v) { return v == 0.5f; })) << to_string(g);
  }
}

// oneDNN sizes a primitive for the thread count it was created under; after the count
// changes the back-end must build fresh plans, and results must still match ref.
TEST(Conv2d, ThreadCountChangeStillMatchesRef) {
  const ConvShape g{3, 32, 12, 12, 64, 3, 3, 1, 1, 1, 1};
  const int saved = omp_get_max_threads();
  for (int threads : {saved, 1, saved}) {
    omp_set_num_threads(threads);
    check_fwd(g, /*bias=*/true);
    check_bwd_data(g);
    check_bwd_weight(g, /*bias=*/true);
  }
  omp_set_num_threads(saved);
}

}  // namespace
}  // namespace batchscope
