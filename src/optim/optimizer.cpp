// SGD (momentum, Nesterov, weight decay) and Adam, as torch.optim.SGD and torch.optim.Adam
// define them (PyTorch docs, "Algorithm" sections); Adam from Kingma & Ba, 2015.
#include "batchscope/optimizer.h"

#include <algorithm>
#include <cmath>

#include "batchscope/error.h"

namespace batchscope {

// Element-wise, so splitting across threads changes no result; below this the fork costs
// more than it saves.
constexpr int64_t kParallelMin = 1 << 15;
constexpr int64_t kChunk = 1 << 14;

std::string to_string(OptimizerKind k) { return k == OptimizerKind::Sgd ? "sgd" : "adam"; }

OptimizerKind parse_optimizer(const std::string& s) {
  if (s == "sgd") return OptimizerKind::Sgd;
  if (s == "adam") return OptimizerKind::Adam;
  throw UsageError("--optimizer: '" + s + "' is not an optimizer; expected sgd or adam");
}

Optimizer::Optimizer(const OptimizerConfig& cfg, int64_t num_params) : cfg_(cfg), n_(num_params) {
  if (cfg_.kind == OptimizerKind::Sgd) {
    if (cfg_.momentum != 0.0) m_.assign(static_cast<size_t>(n_), 0.f);
  } else {
    m_.assign(static_cast<size_t>(n_), 0.f);
    v_.assign(static_cast<size_t>(n_), 0.f);
  }
}

std::vector<std::pair<std::string, std::vector<float>*>> Optimizer::state() {
  if (cfg_.kind == OptimizerKind::Sgd) {
    if (m_.empty()) return {};
    return {{"momentum_buffer", &m_}};
  }
  return {{"exp_avg", &m_}, {"exp_avg_sq", &v_}};
}

// One step's coefficients, computed once and shared by every range of the update.
struct Optimizer::Coeffs {
  float lr, wd, mu;                        // SGD
  float b1, b2, step_size, inv_sqrt_bc2, eps;  // Adam
};

// w, g, m, v: [n] slices at the same offset of the flat buffers (m, v may be null when the
// optimizer keeps no such state). The single place where the update rule is written.
void Optimizer::update_range(float* w, const float* g, float* m, float* v, int64_t n,
                             const Coeffs& c) const {
  if (cfg_.kind == OptimizerKind::Sgd) {
    if (!m) {
      for (int64_t i = 0; i < n; ++i) w[i] -= c.lr * (g[i] + c.wd * w[i]);
    } else if (cfg_.nesterov) {
      // torch initialises the buffer to the first gradient; with dampening 0 that equals
      // mu·0 + g, so a zero-initialised buffer gives the same numbers without a branch.
      for (int64_t i = 0; i < n; ++i) {
        const float gi = g[i] + c.wd * w[i];
        m[i] = c.mu * m[i] + gi;
        w[i] -= c.lr * (gi + c.mu * m[i]);
      }
    } else {
      for (int64_t i = 0; i < n; ++i) {
        const float gi = g[i] + c.wd * w[i];
        m[i] = c.mu * m[i] + gi;
        w[i] -= c.lr * m[i];
      }
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i] + c.wd * w[i];
    m[i] = c.b1 * m[i] + (1.f - c.b1) * gi;
    v[i] = c.b2 * v[i] + (1.f - c.b2) * gi * gi;
    w[i] -= c.step_size * m[i] / (std::sqrt(v[i]) * c.inv_sqrt_bc2 + c.eps);
  }
}

void Optimizer::step(float* w, const float* g, double lr_d,
                     std::span<const LowRankGrad> low_rank) {
  ++t_;
  Coeffs c{};
  c.lr = static_cast<float>(lr_d);
  c.wd = static_cast<float>(cfg_.weight_decay);
  c.mu = static_cast<float>(cfg_.momentum);
  if (cfg_.kind == OptimizerKind::Adam) {
    c.b1 = static_cast<float>(cfg_.beta1);
    c.b2 = static_cast<float>(cfg_.beta2);
    const double bc1 = 1.0 - std::pow(cfg_.beta1, static_cast<double>(t_));
    const double bc2 = 1.0 - std::pow(cfg_.beta2, static_cast<double>(t_));
    c.step_size = static_cast<float>(lr_d / bc1);
    c.inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
    c.eps = static_cast<float>(cfg_.eps);
  }
  float* m = m_.empty() ? nullptr : m_.data();
  float* v = v_.empty() ? nullptr : v_.data();
  // Everything outside the low-rank ranges reads its gradient from g, in chunks split
  // statically across threads (element-wise, so the split changes no result).
  int64_t start = 0;
  auto dense_part = [&](int64_t end) {
    const int64_t len = end - start;
    const int64_t chunks = (len + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (len >= kParallelMin)
    for (int64_t k = 0; k < chunks; ++k) {
      const int64_t o = start + k * kChunk, n = std::min(kChunk, end - o);
      update_range(w + o, g + o, m ? m + o : nullptr, v ? v + o : nullptr, n, c);
    }
  };
  for (const LowRankGrad& f : low_rank) {
    dense_part(f.offset);
    // Row r of the gradient is Σ_b dy[b,r]·x[b,:], built in a per-thread row buffer that
    // stays in L1/L2, so the [rows, cols] gradient never goes through memory.
#pragma omp parallel
    {
      std::vector<float> row(static_cast<size_t>(f.cols));
#pragma omp for schedule(static)
      for (int64_t r = 0; r < f.rows; ++r) {
        const float d0 = f.dy[r];
        for (int64_t j = 0; j < f.cols; ++j) row[static_cast<size_t>(j)] = d0 * f.x[j];
        for (int64_t b = 1; b < f.batch; ++b) {
          const float d = f.dy[b * f.rows + r];
          const float* xb = f.x + b * f.cols;
          for (int64_t j = 0; j < f.cols; ++j) row[static_cast<size_t>(j)] += d * xb[j];
        }
        const int64_t o = f.offset + r * f.cols;
        update_range(w + o, row.data(), m ? m + o : nullptr, v ? v + o : nullptr, f.cols, c);
      }
    }
    start = f.offset + f.rows * f.cols;
  }
  dense_part(n_);
}

std::string to_string(ScheduleKind k) {
  switch (k) {
    case ScheduleKind::Constant: return "constant";
    case ScheduleKind::Step: return "step";
    case ScheduleKind::Cosine: return "cosine";
  }
  return "?";
}

ScheduleKind parse_schedule(const std::string& s) {
  if (s == "constant") return ScheduleKind::Constant;
  if (s == "step") return ScheduleKind::Step;
  if (s == "cosine") return ScheduleKind::Cosine;
  throw UsageError("--schedule: '" + s + "' is not a schedule; expected constant, step or cosine");
}

double scheduled_lr(const ScheduleConfig& s, double base_lr, int64_t step, int64_t total_steps,
                    int64_t steps_per_epoch) {
  if (step < s.warmup_steps)
    return base_lr * static_cast<double>(step + 1) / static_cast<double>(s.warmup_steps);
  switch (s.kind) {
    case ScheduleKind::Constant: return base_lr;
    case ScheduleKind::Step: {
      double epoch = static_cast<double>(step) / static_cast<double>(std::max<int64_t>(steps_per_epoch, 1));
      return base_lr * std::pow(s.gamma, std::floor(epoch / s.step_epochs));
    }
    case ScheduleKind::Cosine: {
      // Cosine annealing (Loshchilov & Hutter, 2017, without restarts) over the steps
      // after warm-up, from base_lr down to min_lr_ratio·base_lr at the last step.
      const double span = static_cast<double>(std::max<int64_t>(total_steps - s.warmup_steps, 1));
      const double t = std::min(1.0, static_cast<double>(step - s.warmup_steps) / span);
      const double lo = base_lr * s.min_lr_ratio;
      return lo + (base_lr - lo) * 0.5 * (1.0 + std::cos(M_PI * t));
    }
  }
  return base_lr;
}

}  // namespace batchscope
