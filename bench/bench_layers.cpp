// Microbenchmarks of every kernel op the mnist-cnn preset runs, forward and backward, layer by
// layer, at batch 1, 32 and 256, for the oneDNN op table and (at 1 and 32) the reference one.
// Each oneDNN op is first checked against the reference op on the same inputs. Counters: FLOPS
// (conv, dense) and bytes (memory-bound ops) per second of wall time. See bench/README.md.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/cpu_flags.h"
#include "core/rng.h"
#include "kernels/kernels.h"

namespace {

using batchscope::Rng;
using batchscope::kernels::Backend;
using batchscope::kernels::ConvShape;
using batchscope::kernels::OpTable;
using batchscope::kernels::PoolShape;

constexpr uint64_t kSeed = 1;
constexpr int kDefaultThreads = 2;
constexpr double kTolerance = 1e-3;  // max |onednn - ref| over max |ref|, per output
constexpr int64_t kClasses = 10;

// Uniform in [-1, 1): every product in a sum is at most 1, so the outputs' scale is set by the
// reduction length alone. Each buffer gets its own stream so that inputs do not depend on the
// order in which they are created.
std::vector<float> random_floats(int64_t n, uint64_t stream) {
  Rng rng(batchscope::derive_seed(kSeed, stream, static_cast<uint64_t>(n)));
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = rng.uniform(-1.0f, 1.0f);
  return v;
}

std::vector<int32_t> random_labels(int64_t n, uint64_t stream) {
  Rng rng(batchscope::derive_seed(kSeed, stream, static_cast<uint64_t>(n)));
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (int32_t& l : v) l = static_cast<int32_t>(rng.below(kClasses));
  return v;
}

// A snapshot of one output, for comparing two back-ends. Indices (argmax) must match exactly;
// floats within kTolerance of the output's scale.
struct Output {
  std::string name;
  std::vector<double> values;
  bool exact = false;
};

template <typename T>
Output snapshot(std::string name, const std::vector<T>& v, bool exact = false) {
  return Output{std::move(name), std::vector<double>(v.begin(), v.end()), exact};
}

// One op at one shape with its buffers, allocated and filled once.
class Case {
 public:
  virtual ~Case() = default;
  // One call on table t; returns the op's scalar result (the loss) or 0.
  virtual double run(const OpTable& t) = 0;
  // Puts the outputs in their pre-call state before a checked call: NaN where the op
  // overwrites, so an element it never writes cannot pass, and zero where it accumulates.
  virtual void reset() = 0;
  virtual std::vector<Output> outputs() const = 0;
  virtual std::string shape() const = 0;
  // Per call: floating-point operations (2 per multiply-add), and bytes read plus written.
  virtual double flops() const { return 0; }
  virtual double bytes() const { return 0; }
};

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

void fill(std::vector<float>& v, float value) { std::fill(v.begin(), v.end(), value); }

enum class Pass { kFwd, kBwdData, kBwdWeight };

class ConvCase final : public Case {
 public:
  ConvCase(Pass pass, const ConvShape& g) : pass_(pass), g_(g) {
    const int64_t xn = g.N * g.C * g.H * g.W, wn = g.K * g.C * g.R * g.S;
    const int64_t yn = g.N * g.K * g.P() * g.Q();
    switch (pass) {
      case Pass::kFwd:
        x_ = random_floats(xn, 1);
        w_ = random_floats(wn, 2);
        b_ = random_floats(g.K, 3);
        y_.resize(static_cast<size_t>(yn));
        break;
      case Pass::kBwdData:
        dy_ = random_floats(yn, 4);
        w_ = random_floats(wn, 2);
        dx_.resize(static_cast<size_t>(xn));
        break;
      case Pass::kBwdWeight:
        dy_ = random_floats(yn, 4);
        x_ = random_floats(xn, 1);
        dw_.resize(static_cast<size_t>(wn));
        db_.resize(static_cast<size_t>(g.K));
        break;
    }
  }
  double run(const OpTable& t) override {
    switch (pass_) {
      // Bias on and ReLU unfused, as layers/conv2d.cpp calls it.
      case Pass::kFwd:
        t.conv2d_fwd(y_.data(), x_.data(), w_.data(), b_.data(), g_, /*relu=*/false);
        break;
      case Pass::kBwdData:
        t.conv2d_bwd_data(dx_.data(), dy_.data(), w_.data(), g_);
        break;
      case Pass::kBwdWeight:
        t.conv2d_bwd_weight(dw_.data(), db_.data(), dy_.data(), x_.data(), g_);
        break;
    }
    return 0;
  }
  void reset() override {
    fill(y_, kNaN);
    fill(dx_, kNaN);
    fill(dw_, 0.0f);
    fill(db_, 0.0f);
  }
  std::vector<Output> outputs() const override {
    switch (pass_) {
      case Pass::kFwd:
        return {snapshot("y", y_)};
      case Pass::kBwdData:
        return {snapshot("dx", dx_)};
      case Pass::kBwdWeight:
        return {snapshot("dw", dw_), snapshot("db", db_)};
    }
    return {};
  }
  std::string shape() const override {
    return "N=" + std::to_string(g_.N) + " C=" + std::to_string(g_.C) + " " + std::to_string(g_.H) +
           "x" + std::to_string(g_.W) + " K=" + std::to_string(g_.K) + " " + std::to_string(g_.R) +
           "x" + std::to_string(g_.S);
  }
  // The same multiply-adds in all three passes; the bias terms are left out (under 0.5%).
  double flops() const override {
    return 2.0 * static_cast<double>(g_.N * g_.K * g_.P() * g_.Q() * g_.C * g_.R * g_.S);
  }

 private:
  Pass pass_;
  ConvShape g_;
  std::vector<float> x_, w_, b_, y_, dy_, dx_, dw_, db_;
};

class DenseCase final : public Case {
 public:
  DenseCase(Pass pass, int64_t n, int64_t in, int64_t out)
      : pass_(pass), n_(n), in_(in), out_(out) {
    switch (pass) {
      case Pass::kFwd:
        x_ = random_floats(n * in, 11);
        w_ = random_floats(out * in, 12);
        b_ = random_floats(out, 13);
        y_.resize(static_cast<size_t>(n * out));
        break;
      case Pass::kBwdData:
        dy_ = random_floats(n * out, 14);
        w_ = random_floats(out * in, 12);
        dx_.resize(static_cast<size_t>(n * in));
        break;
      case Pass::kBwdWeight:
        dy_ = random_floats(n * out, 14);
        x_ = random_floats(n * in, 11);
        dw_.resize(static_cast<size_t>(out * in));
        db_.resize(static_cast<size_t>(out));
        break;
    }
  }
  double run(const OpTable& t) override {
    switch (pass_) {
      case Pass::kFwd:
        t.dense_fwd(y_.data(), x_.data(), w_.data(), b_.data(), n_, in_, out_, /*relu=*/false);
        break;
      case Pass::kBwdData:
        t.dense_bwd_data(dx_.data(), dy_.data(), w_.data(), n_, in_, out_);
        break;
      case Pass::kBwdWeight:
        t.dense_bwd_weight(dw_.data(), db_.data(), dy_.data(), x_.data(), n_, in_, out_);
        break;
    }
    return 0;
  }
  void reset() override {
    fill(y_, kNaN);
    fill(dx_, kNaN);
    fill(dw_, 0.0f);
    fill(db_, 0.0f);
  }
  std::vector<Output> outputs() const override {
    switch (pass_) {
      case Pass::kFwd:
        return {snapshot("y", y_)};
      case Pass::kBwdData:
        return {snapshot("dx", dx_)};
      case Pass::kBwdWeight:
        return {snapshot("dw", dw_), snapshot("db", db_)};
    }
    return {};
  }
  std::string shape() const override {
    return "N=" + std::to_string(n_) + " " + std::to_string(in_) + "->" + std::to_string(out_);
  }
  double flops() const override { return 2.0 * static_cast<double>(n_ * in_ * out_); }

 private:
  Pass pass_;
  int64_t n_, in_, out_;
  std::vector<float> x_, w_, b_, y_, dy_, dx_, dw_, db_;
};

class ReluCase final : public Case {
 public:
  // Separate input and output buffers: in place, repeated calls would measure a different
  // (already non-negative) input from the second call on.
  ReluCase(bool forward, int64_t n) : forward_(forward), n_(n) {
    x_ = random_floats(n, 21);  // forward input, or the forward output y for backward
    if (!forward) dy_ = random_floats(n, 22);
    out_.resize(static_cast<size_t>(n));
  }
  double run(const OpTable& t) override {
    if (forward_)
      t.relu_fwd(out_.data(), x_.data(), n_);
    else
      t.relu_bwd(out_.data(), dy_.data(), x_.data(), n_);
    return 0;
  }
  void reset() override { fill(out_, kNaN); }
  std::vector<Output> outputs() const override { return {snapshot(forward_ ? "y" : "dx", out_)}; }
  std::string shape() const override { return "n=" + std::to_string(n_); }
  double bytes() const override { return (forward_ ? 8.0 : 12.0) * static_cast<double>(n_); }

 private:
  bool forward_;
  int64_t n_;
  std::vector<float> x_, dy_, out_;
};

class PoolCase final : public Case {
 public:
  PoolCase(bool forward, const PoolShape& g, const OpTable& ref) : forward_(forward), g_(g) {
    x_ = random_floats(in_size(), 31);
    y_.resize(static_cast<size_t>(out_size()));
    argmax_.resize(static_cast<size_t>(out_size()));
    if (!forward) {
      // Backward needs a consistent argmax: the reference forward's on the same input.
      ref.maxpool2d_fwd(y_.data(), argmax_.data(), x_.data(), g_);
      dy_ = random_floats(out_size(), 32);
      dx_.resize(static_cast<size_t>(in_size()));
    }
  }
  double run(const OpTable& t) override {
    if (forward_)
      t.maxpool2d_fwd(y_.data(), argmax_.data(), x_.data(), g_);
    else
      t.maxpool2d_bwd(dx_.data(), dy_.data(), argmax_.data(), nullptr, g_);
    return 0;
  }
  void reset() override {
    if (forward_) {
      fill(y_, kNaN);
      std::fill(argmax_.begin(), argmax_.end(), -1);
    } else {
      fill(dx_, kNaN);
    }
  }
  std::vector<Output> outputs() const override {
    if (forward_) return {snapshot("y", y_), snapshot("argmax", argmax_, /*exact=*/true)};
    return {snapshot("dx", dx_)};
  }
  std::string shape() const override {
    return "N=" + std::to_string(g_.N) + " C=" + std::to_string(g_.C) + " " + std::to_string(g_.H) +
           "x" + std::to_string(g_.W) + " window " + std::to_string(g_.R) + "x" +
           std::to_string(g_.S);
  }
  // Forward reads x, writes y and argmax; backward reads dy and argmax, writes dx.
  double bytes() const override {
    return 4.0 *
           static_cast<double>(forward_ ? in_size() + 2 * out_size() : 2 * out_size() + in_size());
  }

 private:
  int64_t in_size() const { return g_.N * g_.C * g_.H * g_.W; }
  int64_t out_size() const { return g_.N * g_.C * g_.P() * g_.Q(); }
  bool forward_;
  PoolShape g_;
  std::vector<float> x_, y_, dy_, dx_;
  std::vector<int32_t> argmax_;
};

class SoftmaxCase final : public Case {
 public:
  SoftmaxCase(bool forward, int64_t n) : forward_(forward), n_(n) {
    in_ = random_floats(n * kClasses, 41);
    labels_ = random_labels(n, 42);
    out_.resize(static_cast<size_t>(n * kClasses));
    if (!forward) {
      // Backward takes probabilities: rows that are positive and sum to 1.
      for (int64_t i = 0; i < n; ++i) {
        float* row = in_.data() + i * kClasses;
        float sum = 0;
        for (int64_t j = 0; j < kClasses; ++j) sum += row[j] = std::exp(row[j]);
        for (int64_t j = 0; j < kClasses; ++j) row[j] /= sum;
      }
    }
  }
  double run(const OpTable& t) override {
    if (forward_)
      return loss_ = t.softmax_xent_fwd(out_.data(), in_.data(), labels_.data(), n_, kClasses);
    t.softmax_xent_bwd(out_.data(), in_.data(), labels_.data(), n_, kClasses);
    return 0;
  }
  void reset() override {
    fill(out_, kNaN);
    loss_ = kNaN;
  }
  std::vector<Output> outputs() const override {
    if (forward_) return {snapshot("probs", out_), Output{"loss", {loss_}, false}};
    return {snapshot("dlogits", out_)};
  }
  std::string shape() const override {
    return "N=" + std::to_string(n_) + " L=" + std::to_string(kClasses);
  }
  // Reads [N,L] and the labels, writes [N,L].
  double bytes() const override { return 4.0 * static_cast<double>(2 * n_ * kClasses + n_); }

 private:
  bool forward_;
  int64_t n_;
  std::vector<float> in_, out_;
  std::vector<int32_t> labels_;
  double loss_ = 0;
};

// The empty string when a matches ref within tolerance, else what differs.
std::string compare(const std::vector<Output>& got, const std::vector<Output>& want) {
  for (size_t i = 0; i < want.size(); ++i) {
    const Output& g = got[i];
    const Output& w = want[i];
    double scale = 0, err = 0;
    for (double v : w.values) scale = std::max(scale, std::abs(v));
    if (scale == 0) scale = 1;
    for (size_t j = 0; j < w.values.size(); ++j) {
      const double d = std::abs(g.values[j] - w.values[j]);
      // NaN: an element the op never wrote (reset() filled it with NaN).
      if (std::isnan(d)) {
        err = d;
        break;
      }
      err = std::max(err, d);
    }
    const double rel = err / scale;
    const bool ok = w.exact ? err == 0 : rel <= kTolerance;
    if (!ok) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "%s: max error %.3g (relative to scale %.3g: %.3g)",
                    w.name.c_str(), err, scale, rel);
      return buf;
    }
  }
  return "";
}

// One benchmark: a layer's op, on one table, over the batch sizes given as its argument.
struct Spec {
  std::string layer, op;
  std::function<std::unique_ptr<Case>(int64_t n)> make;
};

// The check runs once per op and batch size, not once per run of the benchmark function
// (Google Benchmark calls it again for each trial iteration count).
struct CheckCache {
  std::map<int64_t, std::string> errors;  // batch size -> "" or the failure
};

void run_case(benchmark::State& state, const Spec& spec, const OpTable& table, CheckCache& checks) {
  const int64_t n = state.range(0);
  std::unique_ptr<Case> c = spec.make(n);
  const OpTable& ref = batchscope::kernels::ops(Backend::Reference);

  if (&table != &ref) {
    auto it = checks.errors.find(n);
    if (it == checks.errors.end()) {
      c->reset();
      c->run(ref);
      const std::vector<Output> want = c->outputs();
      c->reset();
      c->run(table);
      const std::string diff = compare(c->outputs(), want);
      it = checks.errors
               .emplace(n, diff.empty()
                               ? diff
                               : std::string(table.name) + " " + spec.layer + " " + spec.op + " (" +
                                     c->shape() + ") differs from reference: " + diff)
               .first;
    }
    if (!it->second.empty()) {
      state.SkipWithError(it->second.c_str());
      return;
    }
  }

  // Untimed first call: page faults on the fresh buffers, and oneDNN builds its primitives.
  c->run(table);
  for (auto _ : state) {
    benchmark::DoNotOptimize(c->run(table));
    benchmark::ClobberMemory();
  }
  if (c->flops() > 0)
    state.counters["FLOPS"] = benchmark::Counter(
        c->flops(), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  if (c->bytes() > 0)
    state.counters["bytes"] = benchmark::Counter(
        c->bytes(), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

// mnist-cnn: conv2d:32:3, relu, conv2d:64:3, relu, maxpool2d:2, flatten, dense:128, relu,
// dense:10, then softmax cross-entropy. Flatten is a reshape and has no op.
std::vector<Spec> mnist_cnn_specs() {
  // A pointer, so that the makers' [=] copies the address and not the table.
  const OpTable* ref = &batchscope::kernels::ops(Backend::Reference);
  auto conv = [](int64_t c, int64_t hw, int64_t k) {
    return [=](int64_t n) { return ConvShape{n, c, hw, hw, k, 3, 3}; };
  };
  const auto conv1 = conv(1, 28, 32), conv2 = conv(32, 26, 64);
  std::vector<Spec> specs;
  auto add_conv = [&](const std::string& layer, auto shape) {
    specs.push_back({layer, "fwd",
                     [=](int64_t n) { return std::make_unique<ConvCase>(Pass::kFwd, shape(n)); }});
    specs.push_back({layer, "bwd_data", [=](int64_t n) {
                       return std::make_unique<ConvCase>(Pass::kBwdData, shape(n));
                     }});
    specs.push_back({layer, "bwd_weight", [=](int64_t n) {
                       return std::make_unique<ConvCase>(Pass::kBwdWeight, shape(n));
                     }});
  };
  auto add_relu = [&](const std::string& layer, int64_t per_sample) {
    specs.push_back({layer, "fwd",
                     [=](int64_t n) { return std::make_unique<ReluCase>(true, n * per_sample); }});
    specs.push_back({layer, "bwd",
                     [=](int64_t n) { return std::make_unique<ReluCase>(false, n * per_sample); }});
  };
  auto add_dense = [&](const std::string& layer, int64_t in, int64_t out) {
    specs.push_back({layer, "fwd", [=](int64_t n) {
                       return std::make_unique<DenseCase>(Pass::kFwd, n, in, out);
                     }});
    specs.push_back({layer, "bwd_data", [=](int64_t n) {
                       return std::make_unique<DenseCase>(Pass::kBwdData, n, in, out);
                     }});
    specs.push_back({layer, "bwd_weight", [=](int64_t n) {
                       return std::make_unique<DenseCase>(Pass::kBwdWeight, n, in, out);
                     }});
  };
  auto pool = [](int64_t n) { return PoolShape{n, 64, 24, 24, 2, 2, 2, 2}; };

  add_conv("conv1", conv1);
  add_relu("relu1", 32 * 26 * 26);
  add_conv("conv2", conv2);
  add_relu("relu2", 64 * 24 * 24);
  specs.push_back(
      {"pool", "fwd", [=](int64_t n) { return std::make_unique<PoolCase>(true, pool(n), *ref); }});
  specs.push_back(
      {"pool", "bwd", [=](int64_t n) { return std::make_unique<PoolCase>(false, pool(n), *ref); }});
  add_dense("dense1", 64 * 12 * 12, 128);
  add_relu("relu3", 128);
  add_dense("dense2", 128, 10);
  specs.push_back(
      {"softmax_xent", "fwd", [](int64_t n) { return std::make_unique<SoftmaxCase>(true, n); }});
  specs.push_back(
      {"softmax_xent", "bwd", [](int64_t n) { return std::make_unique<SoftmaxCase>(false, n); }});
  return specs;
}

void register_all() {
  const std::vector<Spec> specs = mnist_cnn_specs();
  // The reference kernels are plain single-threaded loops: batch 256 would take minutes.
  const std::pair<Backend, std::vector<int64_t>> backends[] = {
      {Backend::OneDnn, {1, 32, 256}},
      {Backend::Reference, {1, 32}},
  };
  for (const auto& [backend, batches] : backends) {
    const OpTable* table = &batchscope::kernels::ops(backend);
    for (const Spec& spec : specs) {
      auto checks = std::make_shared<CheckCache>();
      const std::string name = std::string(table->name) + "/" + spec.layer + "/" + spec.op;
      auto* b = benchmark::RegisterBenchmark(name.c_str(),
                                             [spec, table, checks](benchmark::State& state) {
                                               run_case(state, spec, *table, *checks);
                                             });
      b->ArgName("N")->Unit(benchmark::kMicrosecond)->UseRealTime();
      for (int64_t n : batches) b->Arg(n);
    }
  }
}

// --threads T (or --threads=T) overrides BATCHSCOPE_BENCH_THREADS, which overrides the
// default of 2. The flag is removed from argv, since benchmark::Initialize rejects flags it
// does not know. Returns 0 on a malformed value.
int take_threads(int& argc, char** argv) {
  std::string value;
  if (const char* env = std::getenv("BATCHSCOPE_BENCH_THREADS")) value = env;
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--threads" && i + 1 < argc) {
      value = argv[++i];
    } else if (arg.starts_with("--threads=")) {
      value = std::string(arg.substr(10));
    } else {
      argv[out++] = argv[i];
    }
  }
  argc = out;
  if (value.empty()) return kDefaultThreads;
  char* end = nullptr;
  const long t = std::strtol(value.c_str(), &end, 10);
  if (*end != '\0' || t < 1 || t > 1024) return 0;
  return static_cast<int>(t);
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = take_threads(argc, argv);
  if (threads == 0) {
    std::fprintf(stderr,
                 "bench_layers: --threads / BATCHSCOPE_BENCH_THREADS: expected an integer "
                 "from 1 to 1024\n");
    return 2;
  }
  omp_set_num_threads(threads);
  // As the trainer does: without it a kernel can hit the slow subnormal path that training
  // never takes.
  batchscope::enable_flush_denormals();
  benchmark::AddCustomContext("omp_threads", std::to_string(threads));
  // libgomp reads it at start-up, before main; with the default (spinning) policy on cores
  // that other processes keep busy, a 2-thread op can cost a whole scheduler time slice.
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  benchmark::AddCustomContext("OMP_WAIT_POLICY", wait_policy ? wait_policy : "(unset)");

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
