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

void Optimizer::step(float* w, const float* g, double lr_d) {
  ++t_;
  const float lr = static_cast<float>(lr_d);
  const float wd = static_cast<float>(cfg_.weight_decay);
  const int64_t n = n_;
  if (cfg_.kind == OptimizerKind::Sgd) {
    const float mu = static_cast<float>(cfg_.momentum);
    if (m_.empty()) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) w[i] -= lr * (g[i] + wd * w[i]);
      return;
    }
    // torch initialises the buffer to the first gradient; with dampening 0 that equals
    // mu·0 + g, so a zero-initialised buffer gives the same numbers without a branch.
    float* buf = m_.data();
    if (cfg_.nesterov) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) {
        const float gi = g[i] + wd * w[i];
        buf[i] = mu * buf[i] + gi;
        w[i] -= lr * (gi + mu * buf[i]);
      }
    } else {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) {
        const float gi = g[i] + wd * w[i];
        buf[i] = mu * buf[i] + gi;
        w[i] -= lr * buf[i];
      }
    }
    return;
  }
  const float b1 = static_cast<float>(cfg_.beta1), b2 = static_cast<float>(cfg_.beta2);
  const double bc1 = 1.0 - std::pow(cfg_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(cfg_.beta2, static_cast<double>(t_));
  const float step_size = static_cast<float>(lr_d / bc1);
  const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  const float eps = static_cast<float>(cfg_.eps);
  float* m = m_.data();
  float* v = v_.data();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i] + wd * w[i];
    m[i] = b1 * m[i] + (1.f - b1) * gi;
    v[i] = b2 * v[i] + (1.f - b2) * gi * gi;
    w[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
  }
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
