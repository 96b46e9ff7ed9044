// The price of waking the kernel threads: the median time of an empty OpenMP parallel region
// (fork, a trivial body on every thread, join) on the same runtime and threads the kernels
// use. Each kernel call in a step pays it at least once, which is part of the fixed cost per
// iteration that large batches amortise.
//   double us = measure_fork_join_us();  // e.g. 1.8 µs on 2 threads
#pragma once

namespace batchscope {

// Microseconds per empty parallel region on omp_get_max_threads() threads: median of 7
// repetitions of 2000 regions each.
double measure_fork_join_us();

}  // namespace batchscope
