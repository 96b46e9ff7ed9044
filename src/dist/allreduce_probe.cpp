// The allreduce probe (see allreduce_probe.h).
#include "dist/allreduce_probe.h"

#include <algorithm>
#include <chrono>

#include "dist/comm.h"

namespace batchscope::dist {

std::vector<int64_t> probe_sizes(int64_t gradient_bytes) {
  std::vector<int64_t> s;
  for (int64_t b = 4; b <= (int64_t{4} << 20); b *= 16) s.push_back(b);
  s.push_back(int64_t{16} << 20);
  if (gradient_bytes > 0 && std::find(s.begin(), s.end(), gradient_bytes) == s.end()) s.push_back(gradient_bytes);
  std::sort(s.begin(), s.end());
  return s;
}

std::vector<AllreducePoint> probe_allreduce(const std::vector<int64_t>& sizes) {
  std::vector<AllreducePoint> out;
  using clock = std::chrono::steady_clock;
  for (int64_t bytes : sizes) {
    const int64_t n = std::max<int64_t>(1, bytes / 4);
    // Zeros: their sum stays 0 however many calls (ones would double with 2 ranks and pass
    // FLT_MAX within a round of 256).
    std::vector<float> buf(static_cast<size_t>(n), 0.0f);
    const int64_t k = std::clamp<int64_t>((int64_t{4} << 20) / (4 * n), 1, 256);
    AllreducePoint p{4 * n, 0, k};
    if (world().parallel()) {
      barrier();
      for (int i = 0; i < 3; ++i) allreduce_sum(buf.data(), n);
      std::vector<double> rounds;
      for (int r = 0; r < 7; ++r) {
        barrier();
        const auto t0 = clock::now();
        for (int64_t i = 0; i < k; ++i) allreduce_sum(buf.data(), n);
        rounds.push_back(std::chrono::duration<double>(clock::now() - t0).count() / static_cast<double>(k));
      }
      std::sort(rounds.begin(), rounds.end());
      p.seconds = rounds[rounds.size() / 2];
    }
    out.push_back(p);
  }
  return out;
}

}  // namespace batchscope::dist
