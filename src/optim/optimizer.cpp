// SGD (momentum, Nesterov, weight decay) and Adam, as torch.optim.SGD and torch.optim.Adam
// define them (PyTorch docs, "Algorithm" sections); Adam from Kingma & Ba, 2015.
#include "batchscope/optimizer.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "batchscope/error.h"
#include "optim/low_rank_grad.h"

namespace batchscope {

// Element-wise, so splitting across threads changes no result; below this the fork costs
// more than it saves.
constexpr int64_t kParallelMin = 1 << 15;
constexpr int64_t kChunk = 1 << 14;
// The most of x one panel of a low-rank gradient reads (see Optimizer::step).
constexpr int64_t kPanelBytes = 256 << 10;
constexpr int64_t kBlockTiles = 8;
constexpr int64_t kBlockCols = kBlockTiles * optim::kTileCols;
// Columns per panel: as many as fit kPanelBytes of packed x, in whole tiles, the panels
// equal so that a static split over them is balanced.
int64_t panel_cols(int64_t batch, int64_t cols) {
  const int64_t fit = kPanelBytes / (static_cast<int64_t>(sizeof(float)) * batch);
  const int64_t max_panel = std::max<int64_t>(1, fit / optim::kTileCols) * optim::kTileCols;
  const int64_t panels = optim::tiles_of(cols, max_panel);
  return optim::tiles_of(optim::tiles_of(cols, panels), optim::kTileCols) * optim::kTileCols;
}

std::string to_string(OptimizerKind k) { return k == OptimizerKind::Sgd ? "sgd" : "adam"; }

OptimizerKind parse_optimizer(const std::string& s) {
  if (s == "sgd") return OptimizerKind::Sgd;
  if (s == "adam") return OptimizerKind::Adam;
  throw UsageError("optimizer", "'" + s + "' is not an optimizer; expected sgd or adam");
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
    // The gradient comes in blocks of kTileRows rows x one panel of columns, built from the
    // packed factors (optim/low_rank_grad.h) into a per-thread buffer and used at once: the
    // [rows, cols] gradient never goes through memory. A panel's packed x (batch x panel
    // floats) stays within kPanelBytes, read from L2 by every row block; at small batches a
    // panel is the whole row, and the weights and their state stream as long runs.
    const int64_t panel = panel_cols(f.batch, f.cols);
    const int64_t panels = optim::tiles_of(f.cols, panel);
    const int64_t row_blocks = optim::tiles_of(f.rows, optim::kTileRows);
    const int64_t panel_padded = optim::tiles_of(panel, optim::kTileCols) * optim::kTileCols;
    dy_packed_.resize(static_cast<size_t>(row_blocks * optim::kTileRows * f.batch));
    optim::pack_dy(dy_packed_.data(), f);
#pragma omp parallel if (f.rows * f.cols >= kParallelMin)
    {
      alignas(64) float g_block[optim::kTileRows * kBlockCols];
      thread_local std::vector<float> x_packed;
      x_packed.resize(static_cast<size_t>(f.batch * panel_padded));
      float* const xp = x_packed.data();  // once: each use of a thread_local goes through its wrapper
      int64_t packed_panel = -1;
      // Static over (panel, row block) flattened: a thread's share is one contiguous run, so
      // it packs each of its panels once.
#pragma omp for collapse(2) schedule(static)
      for (int64_t p = 0; p < panels; ++p) {
        for (int64_t rb = 0; rb < row_blocks; ++rb) {
          const int64_t j0 = p * panel, nc = std::min(panel, f.cols - j0);
          if (p != packed_panel) {
            optim::pack_x(xp, f, j0, nc);
            packed_panel = p;
          }
          const int64_t r0 = rb * optim::kTileRows, nr = std::min(optim::kTileRows, f.rows - r0);
          const float* dyp = dy_packed_.data() + rb * optim::kTileRows * f.batch;
          // kBlockTiles tiles at a time: a block of g (at most 8 KiB) the update reads from L1.
          for (int64_t t0 = 0; t0 < optim::tiles_of(nc, optim::kTileCols); t0 += kBlockTiles) {
            const int64_t c0 = t0 * optim::kTileCols, cn = std::min(kBlockTiles * optim::kTileCols, nc - c0);
            optim::low_rank_block(g_block, kBlockCols, dyp, xp + t0 * f.batch * optim::kTileCols,
                                  f.batch, optim::tiles_of(cn, optim::kTileCols));
            for (int64_t r = 0; r < nr; ++r) {
              const int64_t o = f.offset + (r0 + r) * f.cols + j0 + c0;
              update_range(w + o, g_block + r * kBlockCols, m ? m + o : nullptr,
                           v ? v + o : nullptr, cn, c);
            }
          }
        }
      }
    }
    start = f.offset + f.rows * f.cols;
  }
  dense_part(n_);
}

void Optimizer::set_momentum(double m) {
  if (cfg_.kind == OptimizerKind::Adam) cfg_.beta1 = m;
  else cfg_.momentum = m;
}

std::string to_string(ScheduleKind k) {
  switch (k) {
    case ScheduleKind::Constant: return "constant";
    case ScheduleKind::Step: return "step";
    case ScheduleKind::Cosine: return "cosine";
    case ScheduleKind::OneCycle: return "onecycle";
  }
  return "?";
}

ScheduleKind parse_schedule(const std::string& s) {
  if (s == "constant") return ScheduleKind::Constant;
  if (s == "step") return ScheduleKind::Step;
  if (s == "cosine") return ScheduleKind::Cosine;
  if (s == "onecycle") return ScheduleKind::OneCycle;
  throw UsageError("schedule", "'" + s + "' is not a schedule; expected constant, step, cosine or onecycle");
}

namespace {
// OneCycleLR's two phases: (phase start, phase end, its fraction done) at `step`, as torch
// computes them: phase 1 ends at step pct_start·total − 1, phase 2 at total − 1.
struct OneCyclePoint {
  bool rising;  // phase 1
  double pct;   // 0 at the phase's first step, 1 at its last
};
OneCyclePoint one_cycle_point(const ScheduleConfig& s, int64_t step, int64_t total_steps) {
  const double end1 = s.pct_start * static_cast<double>(total_steps) - 1.0;
  const double end2 = static_cast<double>(total_steps) - 1.0;
  const double t = static_cast<double>(std::min<int64_t>(step, total_steps - 1));
  if (t <= end1) return {true, end1 > 0 ? t / end1 : 1.0};
  return {false, end2 > end1 ? (t - end1) / (end2 - end1) : 1.0};
}
// torch's _annealing_cos: from `from` at pct 0 to `to` at pct 1.
double anneal_cos(double from, double to, double pct) { return to + (from - to) / 2.0 * (std::cos(M_PI * pct) + 1.0); }
}  // namespace

double scheduled_momentum(const ScheduleConfig& s, double configured, int64_t step, int64_t total_steps) {
  if (s.kind != ScheduleKind::OneCycle || !s.cycle_momentum) return configured;
  const OneCyclePoint p = one_cycle_point(s, step, total_steps);
  return p.rising ? anneal_cos(s.max_momentum, s.base_momentum, p.pct) : anneal_cos(s.base_momentum, s.max_momentum, p.pct);
}

double scheduled_lr(const ScheduleConfig& s, double base_lr, int64_t step, int64_t total_steps,
                    int64_t steps_per_epoch) {
  if (s.kind == ScheduleKind::OneCycle) {
    const double initial = base_lr / s.div_factor, min_lr = initial / s.final_div_factor;
    const OneCyclePoint p = one_cycle_point(s, step, std::max<int64_t>(total_steps, 1));
    return p.rising ? anneal_cos(initial, base_lr, p.pct) : anneal_cos(base_lr, min_lr, p.pct);
  }
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
