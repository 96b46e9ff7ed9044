// Implementation of the kernel-test helpers: splitmix64 random numbers (libstdc++'s
// distributions are not specified bit-for-bit, these are), and the reporting compare.
#include "support/kernel_test_util.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace batchscope::test {

namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::string multi_index(size_t flat, std::span<const int64_t> dims) {
  std::vector<int64_t> idx(dims.size());
  for (size_t d = dims.size(); d-- > 0;) {
    idx[d] = static_cast<int64_t>(flat) % dims[d];
    flat /= static_cast<size_t>(dims[d]);
  }
  std::ostringstream os;
  os << "[";
  for (size_t d = 0; d < idx.size(); ++d) os << (d ? "," : "") << idx[d];
  os << "]";
  return os.str();
}

// Shared report for both comparisons: first mismatch in full, plus how many there were.
template <typename T>
::testing::AssertionResult report(size_t bad, size_t first_bad, size_t n, T got, T expected,
                                  const std::string& what, std::span<const int64_t> dims,
                                  const std::string& tol) {
  if (bad == 0) return ::testing::AssertionSuccess();
  std::ostringstream os;
  os.precision(9);
  os << what << ": " << bad << " of " << n << " elements differ; first at flat " << first_bad
     << " index " << multi_index(first_bad, dims) << ": got " << got << ", expected " << expected
     << tol;
  return ::testing::AssertionFailure() << os.str();
}

}  // namespace

std::vector<float> random_floats(size_t n, uint64_t seed, float lo, float hi) {
  std::vector<float> v(n);
  uint64_t state = seed;
  for (float& x : v) {
    // The top 24 bits give a float in [0,1) exactly.
    const float unit = static_cast<float>(splitmix64(state) >> 40) * 0x1.0p-24f;
    x = lo + (hi - lo) * unit;
  }
  return v;
}

std::vector<int32_t> random_labels(size_t n, int32_t L, uint64_t seed) {
  std::vector<int32_t> v(n);
  uint64_t state = seed;
  for (int32_t& x : v) x = static_cast<int32_t>(splitmix64(state) % static_cast<uint64_t>(L));
  return v;
}

std::vector<float> nan_floats(size_t n) {
  return std::vector<float>(n, std::numeric_limits<float>::quiet_NaN());
}

Tolerance reduction_tolerance(int64_t terms, double max_abs_product) {
  const double eps = std::numeric_limits<float>::epsilon();
  // Factor 2 for slack: blocked summation orders (and an FMA's single rounding) can put the
  // error a little above the naive bound's leading term on short sums.
  const double scaled = 2.0 * static_cast<double>(terms + 1) * eps;
  return {scaled * max_abs_product, scaled};
}

::testing::AssertionResult all_close(std::span<const float> got, std::span<const float> expected,
                                     Tolerance tol, const std::string& what,
                                     std::span<const int64_t> dims) {
  if (got.size() != expected.size())
    return ::testing::AssertionFailure()
           << what << ": size " << got.size() << " vs " << expected.size();
  size_t bad = 0, first_bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double diff = std::fabs(static_cast<double>(got[i]) - expected[i]);
    // Written as !(diff <= limit) so that a NaN on either side counts as a mismatch.
    if (!(diff <= tol.atol + tol.rtol * std::fabs(static_cast<double>(expected[i])))) {
      if (bad++ == 0) first_bad = i;
    }
  }
  std::ostringstream t;
  t << " (atol " << tol.atol << ", rtol " << tol.rtol << ")";
  return report(bad, first_bad, got.size(), bad ? got[first_bad] : 0.0f,
                bad ? expected[first_bad] : 0.0f, what, dims, t.str());
}

::testing::AssertionResult all_equal(std::span<const int32_t> got,
                                     std::span<const int32_t> expected, const std::string& what,
                                     std::span<const int64_t> dims) {
  if (got.size() != expected.size())
    return ::testing::AssertionFailure()
           << what << ": size " << got.size() << " vs " << expected.size();
  size_t bad = 0, first_bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (got[i] != expected[i] && bad++ == 0) first_bad = i;
  return report(bad, first_bad, got.size(), bad ? got[first_bad] : 0, bad ? expected[first_bad] : 0,
                what, dims, "");
}

std::vector<const kernels::OpTable*> tables() { return kernels::supported_tables(); }

Tolerance conv_tolerance(const kernels::OpTable& t, int64_t terms) {
  Tolerance tol = reduction_tolerance(terms, 1.0);
  if (t.conv_algo == kernels::ConvAlgo::Winograd) {
    tol.atol = std::max(tol.atol, 2e-3 * std::max(1.0, static_cast<double>(terms) / 1000));
    tol.rtol = std::max(tol.rtol, 2e-3);
  }
  if (t.precision == kernels::Precision::Bf16) {
    tol.atol = std::max(tol.atol, 0.016 * std::sqrt(static_cast<double>(terms)));
    tol.rtol = std::max(tol.rtol, 0.01);
  }
  return tol;
}

std::string to_string(const kernels::ConvShape& g) {
  std::ostringstream os;
  os << "N=" << g.N << " C=" << g.C << " H=" << g.H << " W=" << g.W << " K=" << g.K << " R=" << g.R
     << " S=" << g.S << " stride=" << g.stride_h << "x" << g.stride_w << " pad=" << g.pad_h << "x"
     << g.pad_w;
  return os.str();
}

std::string to_string(const kernels::PoolShape& g) {
  std::ostringstream os;
  os << "N=" << g.N << " C=" << g.C << " H=" << g.H << " W=" << g.W << " win=" << g.R << "x" << g.S
     << " stride=" << g.stride_h << "x" << g.stride_w;
  return os.str();
}

std::string describe(const char* op, std::string_view impl, const std::string& shape,
                     const std::string& extra) {
  return std::string("op=") + op + " impl=" + std::string(impl) + " shape=" + shape + extra;
}

}  // namespace batchscope::test
