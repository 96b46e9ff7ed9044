// Empty-parallel-region timing (see sync_cost.h).
#include "measure/sync_cost.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <vector>

namespace batchscope {

double measure_fork_join_us() {
  constexpr int kRegions = 2000, kRepetitions = 7;
  std::atomic<int> sink{0};
  std::vector<double> us;
  for (int rep = -1; rep < kRepetitions; ++rep) {  // rep -1 warms the pool up, untimed
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kRegions; ++i) {
#pragma omp parallel
      { sink.fetch_add(omp_get_thread_num() == 0, std::memory_order_relaxed); }
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rep >= 0) us.push_back(1e6 * secs / kRegions);
  }
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

}  // namespace batchscope
