// Fused softmax + cross-entropy: every table on a hand-computed case, on huge logits (1e4,
// where a naive exp overflows), and against ref on random batches (N = 1, 2, 3, 17, 64, 256;
// L = 1, 10, 17). Also that the loss is bitwise reproducible from call to call.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <sstream>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "support/kernel_test_util.h"

namespace batchscope {
namespace {

using kernels::OpTable;
using test::describe;
using test::nan_floats;
using test::random_floats;

std::string size_str(int64_t N, int64_t L) {
  std::ostringstream os;
  os << "N=" << N << " L=" << L;
  return os.str();
}

// Row 0: logits (0, ln 3), label 0 -> probs (1/4, 3/4), loss ln 4.
// Row 1: logits (1, 1),    label 1 -> probs (1/2, 1/2), loss ln 2.
// Mean loss 1.5 ln 2; dlogits = (probs - onehot) / 2.
TEST(SoftmaxXent, HandComputed) {
  const std::vector<float> logits = {0.0f, std::log(3.0f), 1.0f, 1.0f};
  const std::vector<int32_t> labels = {0, 1};
  const std::array<int64_t, 2> dims{2, 2};
  const test::Tolerance tol{1e-6, 1e-6};
  for (const OpTable* t : test::tables()) {
    std::vector<float> probs = nan_floats(4);
    const double loss = t->softmax_xent_fwd(probs.data(), logits.data(), labels.data(), 2, 2);
    EXPECT_NEAR(loss, 1.5 * std::log(2.0), 1e-6) << t->name;
    EXPECT_TRUE(test::all_close(probs, std::vector<float>{0.25f, 0.75f, 0.5f, 0.5f}, tol,
                                describe("softmax_xent_fwd", t->name, size_str(2, 2)), dims));
    std::vector<float> dlogits = nan_floats(4);
    t->softmax_xent_bwd(dlogits.data(), probs.data(), labels.data(), 2, 2);
    EXPECT_TRUE(test::all_close(dlogits, std::vector<float>{-0.375f, 0.375f, 0.25f, -0.25f}, tol,
                                describe("softmax_xent_bwd", t->name, size_str(2, 2)), dims));
  }
}

// exp(1e4) overflows float and double; the stable form must still give probs (1, 0, 0) and
// losses 0 (label 0) and 1e4 (label 1): mean 5000.
TEST(SoftmaxXent, HugeLogitsStayFinite) {
  const std::vector<float> logits = {1e4f, 0.0f, -1e4f, 1e4f, 0.0f, -1e4f};
  const std::vector<int32_t> labels = {0, 1};
  const std::array<int64_t, 2> dims{2, 3};
  for (const OpTable* t : test::tables()) {
    std::vector<float> probs = nan_floats(6);
    const double loss = t->softmax_xent_fwd(probs.data(), logits.data(), labels.data(), 2, 3);
    EXPECT_TRUE(std::isfinite(loss)) << t->name;
    EXPECT_NEAR(loss, 5000.0, 1e-9) << t->name;
    EXPECT_TRUE(test::all_close(probs, std::vector<float>{1, 0, 0, 1, 0, 0}, test::kExact,
                                describe("softmax_xent_fwd", t->name, size_str(2, 3)), dims));
    std::vector<float> dlogits = nan_floats(6);
    t->softmax_xent_bwd(dlogits.data(), probs.data(), labels.data(), 2, 3);
    EXPECT_TRUE(test::all_close(dlogits, std::vector<float>{0, 0, 0, 0.5f, -0.5f, 0}, test::kExact,
                                describe("softmax_xent_bwd", t->name, size_str(2, 3)), dims));
  }
}

TEST(SoftmaxXent, MatchesRefAndIsReproducible) {
  for (int64_t N : {1, 2, 3, 17, 64, 256})
    for (int64_t L : {1, 10, 17}) {
      // Logits spread over [-8, 8] so the probabilities span many orders of magnitude.
      const std::vector<float> logits =
          random_floats(static_cast<size_t>(N * L), /*seed=*/91, -8.0f, 8.0f);
      const std::vector<int32_t> labels =
          test::random_labels(static_cast<size_t>(N), static_cast<int32_t>(L), /*seed=*/92);
      const size_t n = static_cast<size_t>(N * L);
      std::vector<float> probs_ref = nan_floats(n), dlogits_ref = nan_floats(n);
      const double loss_ref =
          kernels::ref::softmax_xent_fwd(probs_ref.data(), logits.data(), labels.data(), N, L);
      kernels::ref::softmax_xent_bwd(dlogits_ref.data(), probs_ref.data(), labels.data(), N, L);
      const std::array<int64_t, 2> dims{N, L};
      // exp / log in float: a few ulps per element.
      const test::Tolerance tol{1e-7, 1e-5};
      for (const OpTable* t : test::tables()) {
        std::vector<float> probs = nan_floats(n), dlogits = nan_floats(n);
        const double loss = t->softmax_xent_fwd(probs.data(), logits.data(), labels.data(), N, L);
        const double again = t->softmax_xent_fwd(probs.data(), logits.data(), labels.data(), N, L);
        EXPECT_EQ(loss, again) << t->name << " " << size_str(N, L) << ": loss not reproducible";
        EXPECT_NEAR(loss, loss_ref, 1e-5 * (1.0 + std::fabs(loss_ref)))
            << t->name << " " << size_str(N, L);
        EXPECT_TRUE(test::all_close(probs, probs_ref, tol,
                                    describe("softmax_xent_fwd", t->name, size_str(N, L)), dims));
        t->softmax_xent_bwd(dlogits.data(), probs.data(), labels.data(), N, L);
        EXPECT_TRUE(test::all_close(dlogits, dlogits_ref, tol,
                                    describe("softmax_xent_bwd", t->name, size_str(N, L)), dims));
        // Each row of the gradient sums to 0 (probabilities sum to 1, minus the one-hot).
        for (int64_t r = 0; r < N; ++r) {
          double row = 0.0;
          for (int64_t j = 0; j < L; ++j) row += dlogits[static_cast<size_t>(r * L + j)];
          EXPECT_NEAR(row, 0.0, 1e-6) << t->name << " " << size_str(N, L) << " row " << r;
        }
      }
    }
}

}  // namespace
}  // namespace batchscope
