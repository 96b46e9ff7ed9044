// Peak probes: an FMA loop with enough independent accumulators to hide FMA latency, and a
// STREAM-like triad over buffers far larger than the last-level cache. Threads are plain
// std::threads pinned one per core (not OpenMP, so the probes never touch the kernels' pool).
//   batchscope peak --threads 2
#include "train/peak.h"

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <memory>
#include <thread>

#include "batchscope/error.h"

namespace batchscope {

namespace {

using clock_type = std::chrono::steady_clock;
constexpr int kRepetitions = 7;

// The widest FMA this build may use. 16 chains: Zen 4 issues one zmm FMA per cycle with a
// 4-cycle latency and Intel cores two per cycle with 4 cycles, so 8 chains would already
// keep either busy; 16 leaves slack for the loop's own instructions.
#if defined(__AVX512F__)
using vec = __m512;
constexpr int kLanes = 16;
constexpr const char* kIsa = "avx512f";
inline vec vset1(float x) { return _mm512_set1_ps(x); }
inline vec vfma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
// A store and a scalar sum rather than _mm512_reduce_add_ps, whose GCC 12 header trips
// -Wuninitialized; this runs once per repetition.
inline float vsum(vec a) {
  alignas(64) float t[16];
  _mm512_store_ps(t, a);
  float s = 0;
  for (float x : t) s += x;
  return s;
}
#elif defined(__AVX2__) && defined(__FMA__)
using vec = __m256;
constexpr int kLanes = 8;
constexpr const char* kIsa = "avx2";
inline vec vset1(float x) { return _mm256_set1_ps(x); }
inline vec vfma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
inline float vsum(vec a) {
  alignas(32) float t[8];
  _mm256_store_ps(t, a);
  float s = 0;
  for (float x : t) s += x;
  return s;
}
#else
#error "the peak probe needs AVX2 with FMA or AVX-512F (build with -march=native)"
#endif
constexpr int kChains = 16;
// Iterations between clock reads: 4096 × 16 FMAs is about 65k cycles, ~20 µs.
constexpr int64_t kBlock = 4096;

// Sink for the accumulators so the compiler cannot drop the loop.
volatile float g_sink;

// FLOP/s of one timed run: per wall-clock second, and per second this thread was on a core
// (CPU time), which leaves out time slices the OS gave to other processes on a busy machine.
struct Rate {
  double wall = 0, cpu = 0;
};

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Runs the FMA chains until `seconds` of wall-clock time have passed.
Rate fma_rate(double seconds) {
  vec acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = vset1(1.0f + 1e-3f * static_cast<float>(c));
  // acc <- acc*m + a converges to a/(1-m) = 1: no overflow, and no subnormals to slow it.
  const vec m = vset1(0.9999f), a = vset1(1e-4f);
  int64_t blocks = 0;
  const double cpu0 = thread_cpu_seconds();
  const auto t0 = clock_type::now();
  const auto deadline = t0 + std::chrono::duration_cast<clock_type::duration>(
                                 std::chrono::duration<double>(seconds));
  auto now = t0;
  do {
    for (int64_t k = 0; k < kBlock; ++k) {
#pragma GCC unroll 16
      for (int c = 0; c < kChains; ++c) acc[c] = vfma(acc[c], m, a);
    }
    ++blocks;
    now = clock_type::now();
  } while (now < deadline);
  const double cpu = thread_cpu_seconds() - cpu0;
  float s = 0;
  for (int c = 0; c < kChains; ++c) s += vsum(acc[c]);
  g_sink = s;
  const double wall = std::chrono::duration<double>(now - t0).count();
  const double flops = static_cast<double>(blocks) * kBlock * kChains * kLanes * 2.0;
  return {flops / wall, cpu > 0 ? flops / cpu : flops / wall};
}

// Pins the calling thread to one core; false if the kernel refuses.
bool pin_to(int core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// Runs body(thread index) on `threads` std::threads, thread i pinned to cores[i % size].
// Returns whether every thread was pinned.
bool run_pinned(int threads, const std::vector<int>& cores, const std::function<void(int)>& body) {
  std::vector<std::thread> pool;
  std::vector<char> pinned(static_cast<size_t>(threads), 0);
  pool.reserve(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      pinned[static_cast<size_t>(t)] = pin_to(cores[static_cast<size_t>(t) % cores.size()]);
      body(t);
    });
  for (auto& th : pool) th.join();
  return std::all_of(pinned.begin(), pinned.end(), [](char p) { return p != 0; });
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The FMA probe on `threads` threads: per repetition the sum of the threads' rates, GFLOP/s.
struct ProbeRates {
  std::vector<double> wall, cpu;
};

ProbeRates fma_probe(int threads, const std::vector<int>& cores, double rep_seconds, bool* pinned) {
  std::vector<Rate> rates(static_cast<size_t>(kRepetitions * threads));
  std::barrier sync(threads);
  *pinned = run_pinned(threads, cores, [&](int t) {
    // Untimed warm-up: lets the core reach its AVX-512 clock before the first timed rep.
    sync.arrive_and_wait();
    fma_rate(std::min(0.05, rep_seconds));
    for (int r = 0; r < kRepetitions; ++r) {
      sync.arrive_and_wait();
      rates[static_cast<size_t>(r * threads + t)] = fma_rate(rep_seconds);
    }
  });
  ProbeRates total{std::vector<double>(kRepetitions, 0.0), std::vector<double>(kRepetitions, 0.0)};
  for (int r = 0; r < kRepetitions; ++r)
    for (int t = 0; t < threads; ++t) {
      total.wall[static_cast<size_t>(r)] += 1e-9 * rates[static_cast<size_t>(r * threads + t)].wall;
      total.cpu[static_cast<size_t>(r)] += 1e-9 * rates[static_cast<size_t>(r * threads + t)].cpu;
    }
  return total;
}

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};

void triad(float* __restrict a, const float* __restrict b, const float* __restrict c, float s,
           int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; ++i) a[i] = b[i] + s * c[i];
}

}  // namespace

std::vector<int> allowed_cores() {
  std::vector<int> cores;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cores.push_back(c);
  if (cores.empty()) cores.push_back(0);
  return cores;
}

PeakResult measure_peak(int threads, double seconds_per_probe, int64_t triad_bytes_per_array) {
  BS_CHECK(threads >= 1, "measure_peak: threads must be positive");
  BS_CHECK(seconds_per_probe > 0, "measure_peak: seconds_per_probe must be positive");
  PeakResult r;
  r.threads = threads;
  r.isa = kIsa;
  r.fma_chains = kChains;
  r.repetitions = kRepetitions;
  r.seconds_per_repetition = seconds_per_probe / kRepetitions;
  const std::vector<int> cores = allowed_cores();
  for (int t = 0; t < threads; ++t) r.cores.push_back(cores[static_cast<size_t>(t) % cores.size()]);

  bool pinned_one = false, pinned_all = false, pinned_triad = false;
  const ProbeRates one = fma_probe(1, cores, r.seconds_per_repetition, &pinned_one);
  r.gflops_1t = median(one.wall);
  r.gflops_1t_max = *std::max_element(one.wall.begin(), one.wall.end());
  r.gflops_1t_cpu = median(one.cpu);
  const ProbeRates all = fma_probe(threads, cores, r.seconds_per_repetition, &pinned_all);
  r.gflops_all = median(all.wall);
  r.gflops_all_max = *std::max_element(all.wall.begin(), all.wall.end());
  r.gflops_all_cpu = median(all.cpu);

  // Triad: each thread owns one contiguous slice (whole cache lines) of all three arrays,
  // first touches it so its pages are mapped by the thread that streams them, then every
  // pass is timed between two barriers. The barrier's completion step stamps the clock.
  const int64_t n = std::max<int64_t>(triad_bytes_per_array / 4 / 16 * 16, 16 * threads);
  r.triad_bytes_per_array = n * 4;
  std::unique_ptr<float, FreeDeleter> a(static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>(n) * 4)));
  std::unique_ptr<float, FreeDeleter> b(static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>(n) * 4)));
  std::unique_ptr<float, FreeDeleter> c(static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>(n) * 4)));
  if (!a || !b || !c)
    throw Error("peak: cannot allocate 3 x " + std::to_string(r.triad_bytes_per_array >> 20) +
                " MiB for the bandwidth probe");
  constexpr int kPasses = 1 + kRepetitions;  // the first pass is an untimed warm-up
  clock_type::time_point stamps[kPasses + 1];
  int phase = 0;
  auto stamp = [&]() noexcept {
    if (phase <= kPasses) stamps[phase] = clock_type::now();
    ++phase;
  };
  std::barrier sync(threads, stamp);
  const int64_t per = (n / 16 + threads - 1) / threads * 16;
  pinned_triad = run_pinned(threads, cores, [&](int t) {
    const int64_t lo = std::min(n, t * per), hi = std::min(n, lo + per);
    for (int64_t i = lo; i < hi; ++i) {
      a.get()[i] = 0.0f;
      b.get()[i] = 1.0f;
      c.get()[i] = 2.0f;
    }
    sync.arrive_and_wait();
    for (int p = 0; p < kPasses; ++p) {
      triad(a.get(), b.get(), c.get(), 0.5f, lo, hi);
      sync.arrive_and_wait();
    }
  });
  g_sink = a.get()[n - 1];
  std::vector<double> gbs;
  for (int p = 1; p < kPasses; ++p) {
    const double secs = std::chrono::duration<double>(stamps[p + 1] - stamps[p]).count();
    gbs.push_back(12.0 * static_cast<double>(n) / secs * 1e-9);
  }
  r.triad_gbs = median(gbs);
  r.triad_gbs_max = *std::max_element(gbs.begin(), gbs.end());
  r.triad_gbs_write_allocate = r.triad_gbs * 16.0 / 12.0;
  r.pinned = pinned_one && pinned_all && pinned_triad;
  return r;
}

ReportContext report_context() {
  ReportContext c;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) c.host = host;
  else c.host = "unknown";
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S%z", &tm);
  c.date = date;
#if defined(__OPTIMIZE__) && defined(NDEBUG)
  c.build = "release (optimised, NDEBUG)";
#elif defined(__OPTIMIZE__)
  c.build = "optimised with assertions";
#else
  c.build = "debug (unoptimised)";
#endif
  c.build += std::string(", ") + kIsa;
#if defined(__clang__)
  c.build += ", clang " __clang_version__;
#elif defined(__GNUC__)
  c.build += ", gcc " __VERSION__;
#endif
  return c;
}

}  // namespace batchscope
