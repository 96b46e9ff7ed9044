// MXCSR set-up and pinning for the calling thread and the OpenMP pool, and the process's
// affinity mask as it was at start-up.
#include "core/cpu_flags.h"

#include <omp.h>
#include <sched.h>

#include <vector>
#include <pmmintrin.h>
#include <xmmintrin.h>

namespace batchscope {

namespace {
void set_this_thread() {
  _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
  _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
}
}  // namespace

void enable_flush_denormals() {
  set_this_thread();
  // Workers are long-lived: one parallel region reaches each of them (static schedule of one
  // iteration per thread), and threads created later inherit the creating thread's MXCSR.
  const int n = omp_get_max_threads();
#pragma omp parallel for schedule(static, 1) num_threads(n)
  for (int i = 0; i < n; ++i) set_this_thread();
}

}  // namespace batchscope

namespace batchscope {

namespace {
std::vector<int> read_process_affinity() {
  std::vector<int> cpus;
  cpu_set_t mask;
  if (sched_getaffinity(0, sizeof mask, &mask) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &mask)) cpus.push_back(c);
  return cpus;
}
}  // namespace

const std::vector<int>& process_cpus() {
  static const std::vector<int> cpus = read_process_affinity();
  return cpus;
}

namespace {
// Reads the mask while the program loads, before main() can pin a thread; the function-local
// static above also covers a caller that runs earlier, in another file's initialiser.
[[maybe_unused]] const std::vector<int>& g_process_cpus_at_load = process_cpus();
}  // namespace

UnpinnedForChildren::UnpinnedForChildren() {
  const std::vector<int>& cpus = process_cpus();
  if (cpus.empty() || sched_getaffinity(0, sizeof saved_, &saved_) != 0) return;
  cpu_set_t all;
  CPU_ZERO(&all);
  for (int c : cpus) CPU_SET(c, &all);
  restore_ = sched_setaffinity(0, sizeof all, &all) == 0;
}

UnpinnedForChildren::~UnpinnedForChildren() {
  if (restore_) sched_setaffinity(0, sizeof saved_, &saved_);
}

bool pin_threads(int first_slot) {
  // Not this thread's mask: a second call would find the main thread already pinned to one
  // CPU, and the threads it creates inherit that.
  const std::vector<int>& cpus = process_cpus();
  if (cpus.size() < 2) return false;
  const int n = omp_get_max_threads();
#pragma omp parallel for schedule(static, 1) num_threads(n)
  for (int i = 0; i < n; ++i) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpus[static_cast<size_t>(first_slot + omp_get_thread_num()) % cpus.size()], &one);
    sched_setaffinity(0, sizeof one, &one);  // 0: the calling thread
  }
  return true;
}

}  // namespace batchscope
