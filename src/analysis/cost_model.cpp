// Least-squares fit of t_epoch(B) = N·(a/B + b).
#include "analysis/cost_model.h"

#include <algorithm>
#include <cmath>

namespace batchscope {

CostModelFit fit_cost_model(std::span<const int64_t> batch, std::span<const double> seconds,
                            int64_t images) {
  CostModelFit f;
  const size_t n = batch.size();
  if (n < 2 || seconds.size() != n || images <= 0) return f;
  // Ordinary least squares of y = t/N on x = 1/B.
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < n; ++i) {
    const double x = 1.0 / static_cast<double>(batch[i]);
    const double y = seconds[i] / static_cast<double>(images);
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const double dn = static_cast<double>(n);
  const double den = dn * sxx - sx * sx;
  if (std::fabs(den) < 1e-300) return f;  // all batch sizes equal
  f.a = (dn * sxy - sx * sy) / den;
  f.b = (sy - f.a * sx) / dn;
  double ss_res = 0, ss_tot = 0, mean = 0;
  for (size_t i = 0; i < n; ++i) mean += seconds[i] / dn;
  for (size_t i = 0; i < n; ++i) {
    const double pred = static_cast<double>(images) * (f.a / static_cast<double>(batch[i]) + f.b);
    ss_res += (seconds[i] - pred) * (seconds[i] - pred);
    ss_tot += (seconds[i] - mean) * (seconds[i] - mean);
  }
  f.r2 = ss_tot > 0 ? 1.0 - ss_res / ss_tot : 1.0;
  // The 1e-9 keeps an exact ratio (16.0000000001 after rounding) from moving up a batch.
  f.batch_within_10pct = f.b > 0 ? std::max(1.0, std::ceil(f.a / (0.1 * f.b) - 1e-9)) : 0;
  return f;
}

}  // namespace batchscope
