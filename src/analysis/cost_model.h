// The epoch-time cost model of the batch-size sweep: t_epoch(B) = N·(a/B + b), where a is the
// fixed cost of one iteration and b the cost of one image. Fitted by least squares on the
// per-image time t/N = a·(1/B) + b, which is linear in 1/B.
#pragma once
#include <cstdint>
#include <span>

namespace batchscope {

struct CostModelFit {
  double a = 0;   // seconds per iteration, independent of the batch
  double b = 0;   // seconds per image
  double r2 = 0;  // coefficient of determination of the fit on t_epoch
  // Smallest batch size at which an epoch is within 10% of its floor N·b (a/B ≤ 0.1·b).
  double batch_within_10pct = 0;
};

// batch: the batch sizes; seconds: the epoch time measured at each; images: N. Needs at least
// two distinct batch sizes (else a and b are not identifiable: returns all zeros).
CostModelFit fit_cost_model(std::span<const int64_t> batch, std::span<const double> seconds,
                            int64_t images);

}  // namespace batchscope
