// Weighted least-squares fit of the allreduce cost (see comm_cost.h).
#include "analysis/comm_cost.h"

#include <algorithm>
#include <cmath>

namespace batchscope {

namespace {

// Minimises sum w_i (alpha + beta x_i - y_i)^2, the 2x2 normal equations solved directly.
bool weighted_line(std::span<const AllreducePoint> p, double* alpha, double* beta) {
  double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const AllreducePoint& q : p) {
    if (!(q.seconds > 0)) continue;
    const double w = 1.0 / (q.seconds * q.seconds), x = static_cast<double>(q.bytes), y = q.seconds;
    sw += w;
    sx += w * x;
    sy += w * y;
    sxx += w * x * x;
    sxy += w * x * y;
  }
  // den is sw^2 times the weighted variance of the sizes: zero (to rounding) for one size.
  const double den = sw * sxx - sx * sx;
  if (!(sw > 0) || !(den > 1e-9 * sw * sxx)) return false;
  *beta = (sw * sxy - sx * sy) / den;
  *alpha = (sy - *beta * sx) / sw;
  return true;
}

}  // namespace

AllreduceFit fit_allreduce(std::span<const AllreducePoint> points) {
  AllreduceFit f;
  double alpha = 0, beta = 0;
  if (!weighted_line(points, &alpha, &beta)) return f;
  // A negative intercept or slope is noise around zero: refit the other term alone.
  if (alpha < 0 || beta < 0) {
    double sw = 0, s = 0;
    for (const AllreducePoint& q : points) {
      if (!(q.seconds > 0)) continue;
      const double w = 1.0 / (q.seconds * q.seconds), x = static_cast<double>(q.bytes);
      if (alpha < 0) {  // t = beta x: minimise sum w (beta x - y)^2
        sw += w * x * x;
        s += w * x * q.seconds;
      } else {  // t = alpha
        sw += w;
        s += w * q.seconds;
      }
    }
    if (alpha < 0) alpha = 0, beta = sw > 0 ? s / sw : 0;
    else beta = 0, alpha = sw > 0 ? s / sw : 0;
  }
  f.alpha = alpha;
  f.beta = beta;
  f.ok = true;
  for (const AllreducePoint& q : points)
    if (q.seconds > 0) f.max_relative_error = std::max(f.max_relative_error, std::fabs(f.seconds(q.bytes) - q.seconds) / q.seconds);
  return f;
}

}  // namespace batchscope
