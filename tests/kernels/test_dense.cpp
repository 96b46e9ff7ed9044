// Dense kernels: every table on a hand-computed case (which also pins ref down), then every
// table against ref over edge sizes (1, 2, 3, 17 rows; 1-32 and 128 / 9216 features) and the
// MNIST net's two layers (9216 -> 128, 128 -> 10) at N = 1 and 64, with and without bias and
// fused ReLU. Overwritten outputs are NaN-filled; accumulated ones start from random values.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <sstream>
#include <vector>

#include "kernels/cpu/cpu.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "support/kernel_test_util.h"

namespace batchscope {
namespace {

using kernels::OpTable;
using test::describe;
using test::nan_floats;
using test::random_floats;

struct DenseSize {
  int64_t N, I, O;
};

const std::vector<DenseSize> kEdgeSizes = {
    {1, 1, 1},    {2, 3, 10},   {3, 15, 16}, {17, 16, 17}, {17, 32, 1},
    {2, 17, 128}, {3, 9216, 3}, {1, 33, 15}, {2, 1, 32},
};
const std::vector<DenseSize> kMnistSizes = {
    {1, 9216, 128},
    {64, 9216, 128},
    {1, 128, 10},
    {64, 128, 10},
};

std::string to_string(const DenseSize& s) {
  std::ostringstream os;
  os << "N=" << s.N << " I=" << s.I << " O=" << s.O;
  return os.str();
}
size_t sz(int64_t a, int64_t b) { return static_cast<size_t>(a * b); }

// Inputs in [-1, 1], so every product is at most 1 in size.
struct DenseData {
  std::vector<float> x, w, b, dy;
  explicit DenseData(const DenseSize& s)
      : x(random_floats(sz(s.N, s.I), /*seed=*/41)),
        w(random_floats(sz(s.O, s.I), /*seed=*/42)),
        b(random_floats(static_cast<size_t>(s.O), /*seed=*/43)),
        dy(random_floats(sz(s.N, s.O), /*seed=*/44)) {}
};

void check_fwd(const DenseSize& s, bool bias) {
  const DenseData d(s);
  const float* b = bias ? d.b.data() : nullptr;
  std::vector<float> expected = nan_floats(sz(s.N, s.O));
  kernels::ref::dense_fwd(expected.data(), d.x.data(), d.w.data(), b, s.N, s.I, s.O, false);
  std::vector<float> expected_relu = expected;
  for (float& v : expected_relu) v = std::max(v, 0.0f);
  const auto tol = test::reduction_tolerance(s.I + 1, 1.0);
  const std::array<int64_t, 2> dims{s.N, s.O};
  for (const OpTable* t : test::tables()) {
    for (bool relu : {false, true}) {
      std::vector<float> got = nan_floats(sz(s.N, s.O));
      if (t->dense_fwd == &kernels::ref::dense_fwd)
        got = relu ? expected_relu : expected;  // ref itself: only the NaN check remains
      else
        t->dense_fwd(got.data(), d.x.data(), d.w.data(), b, s.N, s.I, s.O, relu);
      const std::string extra = std::string(bias ? " bias" : " no-bias") + (relu ? " relu" : "");
      EXPECT_TRUE(test::all_close(got, relu ? expected_relu : expected, tol,
                                  describe("dense_fwd", t->name, to_string(s), extra), dims));
    }
  }
}

void check_bwd_data(const DenseSize& s) {
  const DenseData d(s);
  std::vector<float> expected = nan_floats(sz(s.N, s.I));
  kernels::ref::dense_bwd_data(expected.data(), d.dy.data(), d.w.data(), s.N, s.I, s.O);
  const auto tol = test::reduction_tolerance(s.O, 1.0);
  const std::array<int64_t, 2> dims{s.N, s.I};
  for (const OpTable* t : test::tables()) {
    std::vector<float> got = nan_floats(sz(s.N, s.I));
    t->dense_bwd_data(got.data(), d.dy.data(), d.w.data(), s.N, s.I, s.O);
    EXPECT_TRUE(test::all_close(got, expected, tol,
                                describe("dense_bwd_data", t->name, to_string(s)), dims));
  }
}

void check_bwd_weight(const DenseSize& s, bool bias) {
  const DenseData d(s);
  const std::vector<float> dw0 = random_floats(sz(s.O, s.I), /*seed=*/51);
  const std::vector<float> db0 = random_floats(static_cast<size_t>(s.O), /*seed=*/52);
  std::vector<float> dw_ref = dw0, db_ref = db0;
  kernels::ref::dense_bwd_weight(dw_ref.data(), bias ? db_ref.data() : nullptr, d.dy.data(),
                                 d.x.data(), s.N, s.I, s.O);
  const auto tol = test::reduction_tolerance(s.N + 1, 1.0);
  const std::array<int64_t, 2> w_dims{s.O, s.I};
  const std::array<int64_t, 1> b_dims{s.O};
  const std::string extra = bias ? " bias" : " no-bias";
  for (const OpTable* t : test::tables()) {
    std::vector<float> dw = dw0, db = db0;
    t->dense_bwd_weight(dw.data(), bias ? db.data() : nullptr, d.dy.data(), d.x.data(), s.N, s.I,
                        s.O);
    EXPECT_TRUE(test::all_close(
        dw, dw_ref, tol, describe("dense_bwd_weight(dw)", t->name, to_string(s), extra), w_dims));
    // Without a bias, db must be left alone: db_ref still holds db0 then.
    EXPECT_TRUE(test::all_close(
        db, db_ref, tol, describe("dense_bwd_weight(db)", t->name, to_string(s), extra), b_dims));
  }
}

// x = (1, 2, 3), w = [[1, 0, -1], [2, 1, 0]], b = (0.5, -1): y = (-1.5, 3), ReLU (0, 3).
// dy = (1, 2): dx = dy·w = (5, 2, -1); dw += dyᵀx = [[1, 2, 3], [2, 4, 6]]; db += (1, 2).
TEST(Dense, HandComputed) {
  const std::vector<float> x = {1, 2, 3}, w = {1, 0, -1, 2, 1, 0}, b = {0.5f, -1}, dy = {1, 2};
  const DenseSize s{1, 3, 2};
  const std::array<int64_t, 2> y_dims{1, 2}, x_dims{1, 3}, w_dims{2, 3};
  const std::array<int64_t, 1> b_dims{2};
  for (const OpTable* t : test::tables()) {
    const std::string shape = to_string(s);
    std::vector<float> y = nan_floats(2);
    t->dense_fwd(y.data(), x.data(), w.data(), b.data(), 1, 3, 2, /*relu=*/false);
    EXPECT_TRUE(test::all_close(y, std::vector<float>{-1.5f, 3}, test::kExact,
                                describe("dense_fwd", t->name, shape), y_dims));
    y = nan_floats(2);
    t->dense_fwd(y.data(), x.data(), w.data(), b.data(), 1, 3, 2, /*relu=*/true);
    EXPECT_TRUE(test::all_close(y, std::vector<float>{0, 3}, test::kExact,
                                describe("dense_fwd", t->name, shape, " relu"), y_dims));
    std::vector<float> dx = nan_floats(3);
    t->dense_bwd_data(dx.data(), dy.data(), w.data(), 1, 3, 2);
    EXPECT_TRUE(test::all_close(dx, std::vector<float>{5, 2, -1}, test::kExact,
                                describe("dense_bwd_data", t->name, shape), x_dims));
    std::vector<float> dw(6, 1.0f), db = {10, 20};
    t->dense_bwd_weight(dw.data(), db.data(), dy.data(), x.data(), 1, 3, 2);
    EXPECT_TRUE(test::all_close(dw, std::vector<float>{2, 3, 4, 3, 5, 7}, test::kExact,
                                describe("dense_bwd_weight(dw)", t->name, shape), w_dims));
    EXPECT_TRUE(test::all_close(db, std::vector<float>{11, 22}, test::kExact,
                                describe("dense_bwd_weight(db)", t->name, shape), b_dims));
  }
}

TEST(Dense, ForwardMatchesRef) {
  for (const auto* sizes : {&kEdgeSizes, &kMnistSizes})
    for (const DenseSize& s : *sizes) {
      check_fwd(s, /*bias=*/true);
      check_fwd(s, /*bias=*/false);
    }
}

TEST(Dense, BackwardDataMatchesRef) {
  for (const auto* sizes : {&kEdgeSizes, &kMnistSizes})
    for (const DenseSize& s : *sizes) check_bwd_data(s);
}

TEST(Dense, BackwardWeightMatchesRef) {
  for (const auto* sizes : {&kEdgeSizes, &kMnistSizes})
    for (const DenseSize& s : *sizes) {
      check_bwd_weight(s, /*bias=*/true);
      check_bwd_weight(s, /*bias=*/false);
    }
}

// Accumulating twice must add twice (a cached primitive that overwrote, or a "sum" that read a
// stale buffer, would not), and identical inputs must give bitwise-identical outputs.
TEST(Dense, BackwardWeightAccumulatesAcrossCallsAndIsDeterministic) {
  const DenseSize s{17, 32, 16};
  const DenseData d(s);
  const std::vector<float> dw0 = random_floats(sz(s.O, s.I), /*seed=*/61);
  std::vector<float> once = dw0;
  kernels::ref::dense_bwd_weight(once.data(), nullptr, d.dy.data(), d.x.data(), s.N, s.I, s.O);
  std::vector<float> twice = once;
  kernels::ref::dense_bwd_weight(twice.data(), nullptr, d.dy.data(), d.x.data(), s.N, s.I, s.O);
  const auto tol = test::reduction_tolerance(2 * s.N + 1, 1.0);
  const std::array<int64_t, 2> dims{s.O, s.I};
  for (const OpTable* t : test::tables()) {
    std::vector<float> a = dw0, b = dw0;
    t->dense_bwd_weight(a.data(), nullptr, d.dy.data(), d.x.data(), s.N, s.I, s.O);
    t->dense_bwd_weight(b.data(), nullptr, d.dy.data(), d.x.data(), s.N, s.I, s.O);
    EXPECT_TRUE(test::all_close(
        a, b, test::kExact, describe("dense_bwd_weight", t->name, to_string(s), " repeat"), dims));
    t->dense_bwd_weight(a.data(), nullptr, d.dy.data(), d.x.data(), s.N, s.I, s.O);
    EXPECT_TRUE(test::all_close(
        a, twice, tol, describe("dense_bwd_weight", t->name, to_string(s), " twice"), dims));
  }
}

// The fast tables' own forward for one or two rows (cpu::dense_fwd_small), called directly:
// against ref where the vector loop has a tail and where it has none, the same bits at one
// thread as at several (threads split the outputs), and no answer (nothing touched) outside
// its row limits.
TEST(Dense, SmallBatchForwardMatchesRefAndDeclinesLargerBatches) {
  const int saved = omp_get_max_threads();
  for (const DenseSize& s : {DenseSize{1, 9216, 128}, DenseSize{2, 9216, 128}, DenseSize{2, 70, 33},
                             DenseSize{1, 5, 3}}) {
    const DenseData d(s);
    std::vector<float> want = nan_floats(sz(s.N, s.O)), got(sz(s.N, s.O), 0.5f);
    kernels::ref::dense_fwd(want.data(), d.x.data(), d.w.data(), d.b.data(), s.N, s.I, s.O, true);
    if (s.N < kernels::cpu::kDenseSmallMinRows) {  // one row on AVX2 builds: oneDNN's
      EXPECT_FALSE(kernels::cpu::dense_fwd_small(got.data(), d.x.data(), d.w.data(), d.b.data(),
                                                 s.N, s.I, s.O, true));
      EXPECT_TRUE(std::all_of(got.begin(), got.end(), [](float v) { return v == 0.5f; }));
      continue;
    }
    ASSERT_TRUE(kernels::cpu::dense_fwd_small(got.data(), d.x.data(), d.w.data(), d.b.data(), s.N,
                                              s.I, s.O, true));
    const std::array<int64_t, 2> dims{s.N, s.O};
    const std::string what = describe("dense_fwd_small", "cpu", to_string(s), " bias relu");
    EXPECT_TRUE(test::all_close(got, want, test::reduction_tolerance(s.I + 1, 1.0), what, dims));
    omp_set_num_threads(1);
    std::vector<float> one = nan_floats(sz(s.N, s.O));
    ASSERT_TRUE(kernels::cpu::dense_fwd_small(one.data(), d.x.data(), d.w.data(), d.b.data(), s.N,
                                              s.I, s.O, true));
    omp_set_num_threads(saved);
    EXPECT_TRUE(test::all_close(one, got, test::kExact, what + " one thread vs several", dims));
  }
  const DenseSize big{kernels::cpu::kDenseSmallMaxRows + 1, 64, 8};
  const DenseData d(big);
  std::vector<float> y(sz(big.N, big.O), 0.5f);
  EXPECT_FALSE(kernels::cpu::dense_fwd_small(y.data(), d.x.data(), d.w.data(), d.b.data(), big.N,
                                             big.I, big.O, false));
  EXPECT_TRUE(std::all_of(y.begin(), y.end(), [](float v) { return v == 0.5f; }));
}

}  // namespace
}  // namespace batchscope
