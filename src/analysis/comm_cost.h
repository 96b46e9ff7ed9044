// The price of the gradient allreduce that data-parallel ranks pay every step, as the classic
// latency-bandwidth model t(bytes) = alpha + beta * bytes (Hockney), fitted to a probe that
// times MPI_Allreduce over message sizes from a few bytes to past the model's gradient.
//   AllreduceFit f = fit_allreduce(points);   // points: {bytes, median seconds}
//   f.seconds(4 * params)                     // one step's allreduce, predicted
#pragma once
#include <cstdint>
#include <span>

namespace batchscope {

struct AllreducePoint {
  int64_t bytes = 0;
  double seconds = 0;  // median of the repetitions
  int64_t repetitions = 0;
};

struct AllreduceFit {
  double alpha = 0;  // seconds per allreduce, whatever its size (latency, synchronisation)
  double beta = 0;   // seconds per byte
  double max_relative_error = 0;  // the worst |fit - measured| / measured over the points
  bool ok = false;   // at least two distinct sizes
  double seconds(int64_t bytes) const { return alpha + beta * static_cast<double>(bytes); }
  double gigabytes_per_second() const { return beta > 0 ? 1e-9 / beta : 0; }
};

// Least squares weighted by 1/t^2 (relative errors), so that microsecond latencies at a few
// bytes count as much as milliseconds at megabytes; alpha and beta are kept >= 0.
AllreduceFit fit_allreduce(std::span<const AllreducePoint> points);

}  // namespace batchscope
