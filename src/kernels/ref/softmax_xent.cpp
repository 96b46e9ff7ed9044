// Reference fused softmax + cross-entropy (mean over the batch) and its gradient.
// Stable form: subtract the row maximum before exp, so logits of any size stay finite.
// The loss is summed serially in double, so it does not depend on the thread count.
#include <algorithm>
#include <cmath>

#include "batchscope/error.h"
#include "kernels/ref/ref.h"

namespace batchscope::kernels::ref {

// probs[n,j] = exp(z[n,j] - m_n) / sum_j' exp(z[n,j'] - m_n),  m_n = max_j z[n,j]
// loss = mean_n ( log sum_j exp(z[n,j] - m_n) - (z[n,label_n] - m_n) )
double softmax_xent_fwd(float* probs, const float* logits, const int32_t* labels, int64_t N,
                        int64_t L) {
  BS_CHECK(N > 0 && L > 0, "softmax_xent_fwd: sizes must be positive");
  double loss_sum = 0.0;
  for (int64_t n = 0; n < N; ++n) {
    const float* z = logits + n * L;
    float* pr = probs + n * L;
    const int32_t label = labels[n];
    BS_CHECK(label >= 0 && label < L, "softmax_xent_fwd: label out of range");
    double m = z[0];
    for (int64_t j = 1; j < L; ++j) m = std::max(m, static_cast<double>(z[j]));
    double sum = 0.0;
    for (int64_t j = 0; j < L; ++j) sum += std::exp(z[j] - m);
    for (int64_t j = 0; j < L; ++j) pr[j] = static_cast<float>(std::exp(z[j] - m) / sum);
    loss_sum += std::log(sum) - (z[label] - m);
  }
  return loss_sum / static_cast<double>(N);
}

// dlogits[n,j] = (probs[n,j] - [j == label_n]) / N
void softmax_xent_bwd(float* dlogits, const float* probs, const int32_t* labels, int64_t N,
                      int64_t L) {
  BS_CHECK(N > 0 && L > 0, "softmax_xent_bwd: sizes must be positive");
  const double inv_n = 1.0 / static_cast<double>(N);
  for (int64_t n = 0; n < N; ++n) {
    const int32_t label = labels[n];
    BS_CHECK(label >= 0 && label < L, "softmax_xent_bwd: label out of range");
    for (int64_t j = 0; j < L; ++j) {
      const double onehot = j == label ? 1.0 : 0.0;
      dlogits[n * L + j] = static_cast<float>((probs[n * L + j] - onehot) * inv_n);
    }
  }
}

}  // namespace batchscope::kernels::ref
