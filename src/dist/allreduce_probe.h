// Times MPI_Allreduce (sum of floats, in place, as the trainer calls it) over message sizes
// from one float to past the model's gradient, on every rank of the world at once, for the
// latency-bandwidth fit of train/comm_cost.h. Every rank must call it with the same sizes.
//   auto pts = dist::probe_allreduce(dist::probe_sizes(4 * params));
#pragma once
#include <cstdint>
#include <vector>

#include "analysis/comm_cost.h"

namespace batchscope::dist {

// Powers of 16 from 4 bytes to 4 MiB, 16 MiB, and `gradient_bytes` itself, ascending.
std::vector<int64_t> probe_sizes(int64_t gradient_bytes);

// Per size: a barrier, three untimed calls, then 7 timed rounds of k back-to-back calls (k
// from the size alone, so every rank runs the same count: about 4 MiB moved per round, 1 to
// 256 calls); the median round over k, on this rank's clock. A world of one returns zeros.
std::vector<AllreducePoint> probe_allreduce(const std::vector<int64_t>& sizes);

}  // namespace batchscope::dist
