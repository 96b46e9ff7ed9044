// The dense layer's weight gradient and the optimizer step over mnist-cnn's 9216 -> 128 layer,
// two ways, per batch: "materialised" (zero the gradient, oneDNN's dyᵀ·x into it, then the
// update reads it back) and "fused" (the update builds each block of the gradient from dy and
// x and uses it at once, Optimizer::step with a LowRankGrad). Dense::defers_weight_grad_at
// follows this benchmark (the fused path won at every batch measured). Counter: weights
// updated per second.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "batchscope/optimizer.h"
#include "core/rng.h"
#include "kernels/kernels.h"

namespace {

constexpr int64_t kRows = 128, kCols = 9216;  // dense:128 after mnist-cnn's flatten

std::vector<float> random_floats(int64_t n, uint64_t stream) {
  batchscope::Rng rng(batchscope::derive_seed(1, stream, static_cast<uint64_t>(n)));
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = rng.uniform(-1.0f, 1.0f);
  return v;
}

struct Setup {
  int64_t batch;
  std::vector<float> w, g, dy, x;
  batchscope::Optimizer opt;
  explicit Setup(int64_t b)
      : batch(b), w(random_floats(kRows * kCols, 1)), g(static_cast<size_t>(kRows * kCols)),
        dy(random_floats(b * kRows, 2)), x(random_floats(b * kCols, 3)),
        opt(batchscope::OptimizerConfig{}, kRows * kCols) {}
};

void materialised(benchmark::State& state) {
  omp_set_num_threads(static_cast<int>(state.range(1)));
  Setup s(state.range(0));
  const auto& ops = batchscope::kernels::ops(batchscope::kernels::Backend::OneDnn);
  for (auto _ : state) {
    std::fill(s.g.begin(), s.g.end(), 0.0f);
    ops.dense_bwd_weight(s.g.data(), nullptr, s.dy.data(), s.x.data(), s.batch, kCols, kRows);
    s.opt.step(s.w.data(), s.g.data(), 1e-6);
    benchmark::DoNotOptimize(s.w.data());
  }
  state.counters["weights/s"] =
      benchmark::Counter(static_cast<double>(kRows * kCols), benchmark::Counter::kIsIterationInvariantRate);
}

void fused(benchmark::State& state) {
  omp_set_num_threads(static_cast<int>(state.range(1)));
  Setup s(state.range(0));
  const batchscope::LowRankGrad f{0, kRows, kCols, s.batch, s.dy.data(), s.x.data()};
  for (auto _ : state) {
    s.opt.step(s.w.data(), s.g.data(), 1e-6, {&f, 1});
    benchmark::DoNotOptimize(s.w.data());
  }
  state.counters["weights/s"] =
      benchmark::Counter(static_cast<double>(kRows * kCols), benchmark::Counter::kIsIterationInvariantRate);
}

void batches(benchmark::internal::Benchmark* b) {
  for (int64_t batch : {1, 4, 8, 16, 32, 64, 128, 256}) b->Args({batch, 2});
  b->ArgNames({"batch", "threads"})->Unit(benchmark::kMicrosecond)->UseRealTime();
}

BENCHMARK(materialised)->Apply(batches);
BENCHMARK(fused)->Apply(batches);

}  // namespace

BENCHMARK_MAIN();
