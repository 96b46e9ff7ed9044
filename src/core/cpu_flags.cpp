// MXCSR set-up for the calling thread and the OpenMP pool.
#include "core/cpu_flags.h"

#include <omp.h>
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
