// Max-pool kernels: every table on hand-computed cases (ties, overlapping windows), then
// every table against ref, exactly (pooling does no arithmetic but the backward sum, which
// runs in the same order), over edge shapes and the MNIST pool (2x2 on 64x24x24, N = 1, 64).
// One input is quantised to a few levels so that ties are everywhere.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "support/kernel_test_util.h"

namespace batchscope {
namespace {

using kernels::OpTable;
using kernels::PoolShape;
using test::describe;
using test::nan_floats;
using test::random_floats;
using test::to_string;

size_t x_size(const PoolShape& g) { return static_cast<size_t>(g.N * g.C * g.H * g.W); }
size_t y_size(const PoolShape& g) { return static_cast<size_t>(g.N * g.C * g.P() * g.Q()); }
std::array<int64_t, 4> x_dims(const PoolShape& g) { return {g.N, g.C, g.H, g.W}; }
std::array<int64_t, 4> y_dims(const PoolShape& g) { return {g.N, g.C, g.P(), g.Q()}; }

// {N, C, H, W, R, S, stride_h, stride_w}
const std::vector<PoolShape> kShapes = {
    {1, 64, 24, 24, 2, 2, 2, 2},   // MNIST, N = 1
    {64, 64, 24, 24, 2, 2, 2, 2},  // MNIST, N = 64 (takes the threaded path)
    {2, 3, 7, 7, 2, 2, 2, 2},      // odd size: the last row and column are never read
    {3, 16, 9, 11, 3, 3, 2, 2},    // overlapping windows
    {17, 1, 5, 5, 3, 3, 1, 1},     // stride 1: heavy overlap
    {1, 17, 6, 8, 2, 3, 2, 3},     // rectangular window and stride
    {2, 15, 4, 4, 4, 4, 4, 4},     // one window covers the whole plane
    {1, 32, 5, 5, 1, 1, 1, 1},     // 1x1: the identity
    {3, 32, 13, 13, 2, 2, 1, 2},   // mixed strides
    {2, 32, 7, 9, 2, 2, 2, 2},     // odd sizes, channels that block by 8 and 16
    {3, 24, 24, 24, 2, 2, 2, 2},   // the fast recipe's first pool: 3 blocks of 8, none of 16
};

std::vector<float> quantised(std::vector<float> v) {
  for (float& x : v) x = std::round(x * 2.0f);  // -2 .. 2: five levels
  return v;
}

void check(const PoolShape& g, const std::vector<float>& x, const char* input_kind) {
  std::vector<float> y_ref = nan_floats(y_size(g));
  std::vector<int32_t> arg_ref(y_size(g), -1);
  kernels::ref::maxpool2d_fwd(y_ref.data(), arg_ref.data(), x.data(), g);
  const std::vector<float> dy = random_floats(y_size(g), /*seed=*/72);
  std::vector<float> dx_ref = nan_floats(x_size(g));
  kernels::ref::maxpool2d_bwd(dx_ref.data(), dy.data(), arg_ref.data(), nullptr, g);
  const std::string extra = std::string(" input=") + input_kind;
  for (const OpTable* t : test::tables()) {
    std::vector<float> y = nan_floats(y_size(g));
    std::vector<int32_t> arg(y_size(g), -1);
    t->maxpool2d_fwd(y.data(), arg.data(), x.data(), g);
    EXPECT_TRUE(test::all_close(y, y_ref, test::kExact,
                                describe("maxpool2d_fwd", t->name, to_string(g), extra),
                                y_dims(g)));
    EXPECT_TRUE(test::all_equal(
        arg, arg_ref, describe("maxpool2d_fwd(argmax)", t->name, to_string(g), extra), y_dims(g)));
    std::vector<float> dx = nan_floats(x_size(g));
    t->maxpool2d_bwd(dx.data(), dy.data(), arg_ref.data(), nullptr, g);
    EXPECT_TRUE(test::all_close(dx, dx_ref, test::kExact,
                                describe("maxpool2d_bwd", t->name, to_string(g), extra),
                                x_dims(g)));
  }
}

// A channel-blocked input (8 or 16 channels to a block): the same outputs and argmax as ref
// on the plain input, bit for bit, and a blocked input gradient that unblocks to ref's, with
// and without a folded ReLU. For ref and every table.
TEST(MaxPool2d, BlockedInputMatchesPlainRef) {
  for (const PoolShape& plain : kShapes)
    for (int64_t b : {8, 16}) {
      if (plain.C % b != 0) continue;
      PoolShape g = plain;
      g.x_block = b;
      const int64_t HW = g.H * g.W;
      std::vector<float> x_pre = quantised(random_floats(x_size(g), /*seed=*/76)), x(x_pre.size());
      kernels::ref::relu_fwd(x.data(), x_pre.data(), static_cast<int64_t>(x.size()));
      std::vector<float> xb(x.size());
      kernels::block_channels(xb.data(), x.data(), g.N, g.C, HW, b);
      std::vector<float> y_ref(y_size(g));
      std::vector<int32_t> arg_ref(y_size(g), -1);
      kernels::ref::maxpool2d_fwd(y_ref.data(), arg_ref.data(), x.data(), plain);
      const std::vector<float> dy = random_floats(y_size(g), /*seed=*/77);
      const std::string extra = " x_block=" + std::to_string(b);
      auto check_one = [&](const kernels::MaxPool2dFwd fwd, const kernels::MaxPool2dBwd bwd, std::string_view name) {
        std::vector<float> y = nan_floats(y_size(g));
        std::vector<int32_t> arg(y_size(g), -1);
        fwd(y.data(), arg.data(), xb.data(), g);
        EXPECT_TRUE(test::all_close(y, y_ref, test::kExact, describe("maxpool2d_fwd", name, to_string(g), extra), y_dims(g)));
        EXPECT_TRUE(test::all_equal(arg, arg_ref, describe("maxpool2d_fwd(argmax)", name, to_string(g), extra), y_dims(g)));
        for (const float* relu_y : {static_cast<const float*>(nullptr), static_cast<const float*>(y_ref.data())}) {
          std::vector<float> want = nan_floats(x_size(g)), got = nan_floats(x_size(g)), got_plain(x_size(g));
          kernels::ref::maxpool2d_bwd(want.data(), dy.data(), arg_ref.data(), relu_y, plain);
          bwd(got.data(), dy.data(), arg_ref.data(), relu_y, g);
          kernels::unblock_channels(got_plain.data(), got.data(), g.N, g.C, HW, b);
          EXPECT_TRUE(test::all_close(got_plain, want, test::kExact,
                                      describe("maxpool2d_bwd", name, to_string(g), extra + (relu_y ? " relu-folded" : "")),
                                      x_dims(g)));
        }
      };
      check_one(&kernels::ref::maxpool2d_fwd, &kernels::ref::maxpool2d_bwd, "ref");
      for (const OpTable* t : test::tables()) check_one(t->maxpool2d_fwd, t->maxpool2d_bwd, t->name);
    }
}

// A ReLU before the pool, its backward folded into the pool's: must equal ref's ReLU
// backward applied to ref's plain pool backward, bit for bit, for ref and every table.
void check_relu_folded(const PoolShape& g, const std::vector<float>& x_pre, const char* input_kind) {
  std::vector<float> x(x_pre.size());
  kernels::ref::relu_fwd(x.data(), x_pre.data(), static_cast<int64_t>(x.size()));
  std::vector<float> y(y_size(g));
  std::vector<int32_t> arg(y_size(g), -1);
  kernels::ref::maxpool2d_fwd(y.data(), arg.data(), x.data(), g);
  const std::vector<float> dy = random_floats(y_size(g), /*seed=*/73);
  std::vector<float> expected = nan_floats(x_size(g));
  kernels::ref::maxpool2d_bwd(expected.data(), dy.data(), arg.data(), nullptr, g);
  kernels::ref::relu_bwd(expected.data(), expected.data(), x.data(), static_cast<int64_t>(x.size()));
  const std::string extra = std::string(" relu-folded input=") + input_kind;
  std::vector<float> got = nan_floats(x_size(g));
  kernels::ref::maxpool2d_bwd(got.data(), dy.data(), arg.data(), y.data(), g);
  EXPECT_TRUE(test::all_close(got, expected, test::kExact,
                              describe("maxpool2d_bwd", "ref", to_string(g), extra), x_dims(g)));
  for (const OpTable* t : test::tables()) {
    got = nan_floats(x_size(g));
    t->maxpool2d_bwd(got.data(), dy.data(), arg.data(), y.data(), g);
    EXPECT_TRUE(test::all_close(got, expected, test::kExact,
                                describe("maxpool2d_bwd", t->name, to_string(g), extra), x_dims(g)));
  }
}

TEST(MaxPool2d, ReluBackwardFoldedInMatchesReluAfterPoolBackward) {
  for (const PoolShape& g : kShapes) {
    // Half the inputs negative: many windows are all zero after the ReLU.
    check_relu_folded(g, random_floats(x_size(g), /*seed=*/74), "random");
    check_relu_folded(g, quantised(random_floats(x_size(g), /*seed=*/75)), "quantised");
  }
}

// Folded ReLU by hand: the window of zeros routes nothing; the others as without it.
TEST(MaxPool2d, ReluFoldedWindowOfZerosRoutesNothing) {
  const PoolShape g{1, 1, 2, 4, 2, 2, 2, 2};
  const std::vector<float> x = {0, 0, 3, 0,  //
                                0, 0, 1, 2};
  const std::vector<float> dy = {5, 7};
  for (const OpTable* t : test::tables()) {
    std::vector<float> y(2);
    std::vector<int32_t> arg(2, -1);
    t->maxpool2d_fwd(y.data(), arg.data(), x.data(), g);
    std::vector<float> dx = nan_floats(8);
    t->maxpool2d_bwd(dx.data(), dy.data(), arg.data(), y.data(), g);
    EXPECT_TRUE(test::all_close(dx, std::vector<float>{0, 0, 7, 0, 0, 0, 0, 0}, test::kExact,
                                describe("maxpool2d_bwd relu-folded", t->name, to_string(g)),
                                x_dims(g)));
  }
}

// 4x4, 2x2 windows: maxima 4 (at 4), 9 (tied at 6 and 7: the first, 6, wins), 0 (three-way
// tie: 8 wins), 7 (at 14). Backward routes dy = 1..4 to exactly those positions.
TEST(MaxPool2d, HandComputedWithTies) {
  const PoolShape g{1, 1, 4, 4, 2, 2, 2, 2};
  const std::vector<float> x = {1, 3,  2, 0,  //
                                4, 2,  9, 9,  //
                                0, 0,  5, 6,  //
                                0, -1, 7, 5};
  const std::vector<float> dy = {1, 2, 3, 4};
  std::vector<float> dx_expected(16, 0.0f);
  dx_expected[4] = 1;
  dx_expected[6] = 2;
  dx_expected[8] = 3;
  dx_expected[14] = 4;
  for (const OpTable* t : test::tables()) {
    std::vector<float> y = nan_floats(4);
    std::vector<int32_t> arg(4, -1);
    t->maxpool2d_fwd(y.data(), arg.data(), x.data(), g);
    EXPECT_TRUE(test::all_close(y, std::vector<float>{4, 9, 0, 7}, test::kExact,
                                describe("maxpool2d_fwd", t->name, to_string(g)), y_dims(g)));
    EXPECT_TRUE(test::all_equal(arg, std::vector<int32_t>{4, 6, 8, 14},
                                describe("maxpool2d_fwd(argmax)", t->name, to_string(g)),
                                y_dims(g)));
    std::vector<float> dx = nan_floats(16);
    t->maxpool2d_bwd(dx.data(), dy.data(), arg.data(), nullptr, g);
    EXPECT_TRUE(test::all_close(dx, dx_expected, test::kExact,
                                describe("maxpool2d_bwd", t->name, to_string(g)), x_dims(g)));
  }
}

// Overlapping 1x2 windows with stride 1 over (1, 5, 2): both pick the 5, whose gradient is
// the sum of both outputs' gradients.
TEST(MaxPool2d, HandComputedOverlapSumsGradients) {
  const PoolShape g{1, 1, 1, 3, 1, 2, 1, 1};
  const std::vector<float> x = {1, 5, 2}, dy = {1, 2};
  for (const OpTable* t : test::tables()) {
    std::vector<float> y = nan_floats(2);
    std::vector<int32_t> arg(2, -1);
    t->maxpool2d_fwd(y.data(), arg.data(), x.data(), g);
    EXPECT_TRUE(test::all_close(y, std::vector<float>{5, 5}, test::kExact,
                                describe("maxpool2d_fwd", t->name, to_string(g)), y_dims(g)));
    EXPECT_TRUE(test::all_equal(arg, std::vector<int32_t>{1, 1},
                                describe("maxpool2d_fwd(argmax)", t->name, to_string(g)),
                                y_dims(g)));
    std::vector<float> dx = nan_floats(3);
    t->maxpool2d_bwd(dx.data(), dy.data(), arg.data(), nullptr, g);
    EXPECT_TRUE(test::all_close(dx, std::vector<float>{0, 3, 0}, test::kExact,
                                describe("maxpool2d_bwd", t->name, to_string(g)), x_dims(g)));
  }
}

TEST(MaxPool2d, MatchesRefOnRandomInput) {
  for (const PoolShape& g : kShapes) check(g, random_floats(x_size(g), /*seed=*/71), "random");
}

TEST(MaxPool2d, MatchesRefOnInputFullOfTies) {
  for (const PoolShape& g : kShapes)
    check(g, quantised(random_floats(x_size(g), /*seed=*/73)), "quantised");
}

}  // namespace
}  // namespace batchscope
