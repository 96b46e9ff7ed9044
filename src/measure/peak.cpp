// Peak probes: an FMA loop with enough independent accumulators to hide FMA latency, and a
// STREAM-like triad over buffers far larger than the last-level cache. The FMA loop exists
// twice, for AVX2 and AVX-512F (function target attributes, so any x86-64 build has both),
// and is chosen at run time. Threads are plain std::threads pinned one per core (not OpenMP,
// so the probes never touch the kernels' pool).
//   batchscope peak --threads 2
#include "measure/peak.h"

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <thread>

#include "batchscope/error.h"
#include "core/cpu_flags.h"

namespace batchscope {

namespace {

using clock_type = std::chrono::steady_clock;
constexpr int kRepetitions = 7;
// Iterations between clock reads: 16384 x 12 ymm FMAs at 2 per cycle is about 100k cycles,
// ~25 us, so a clock read costs well under 1% even where it is a system call.
constexpr int64_t kBlock = 16384;

// One block of the probe: `iterations` rounds of acc[c] = acc[c]*m + a over every chain,
// the chains loaded from and stored back to `state` (chains x lanes floats), so the timing
// loop around it stays ISA-neutral at the cost of 2 x chains loads and stores per block.
// acc <- acc*m + a converges to a/(1-m) = 1: no overflow, and no subnormals to slow it.
// The AVX2 body must stay free of stack traffic: check with objdump -d on peak.cpp.o that
// the loop between the loads and stores of `state` holds only vfmadd and the loop counter.
__attribute__((target("avx2,fma"))) void fma_block_avx2(float* state, int64_t iterations) {
  constexpr int kChains = kFmaProbeAvx2.chains;
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_loadu_ps(state + kFmaProbeAvx2.lanes * c);
  const __m256 m = _mm256_set1_ps(0.9999f), a = _mm256_set1_ps(1e-4f);
  for (int64_t k = 0; k < iterations; ++k) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], m, a);
  }
  for (int c = 0; c < kChains; ++c) _mm256_storeu_ps(state + kFmaProbeAvx2.lanes * c, acc[c]);
}

__attribute__((target("avx512f"))) void fma_block_avx512f(float* state, int64_t iterations) {
  constexpr int kChains = kFmaProbeAvx512.chains;
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_loadu_ps(state + kFmaProbeAvx512.lanes * c);
  const __m512 m = _mm512_set1_ps(0.9999f), a = _mm512_set1_ps(1e-4f);
  for (int64_t k = 0; k < iterations; ++k) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], m, a);
  }
  for (int c = 0; c < kChains; ++c) _mm512_storeu_ps(state + kFmaProbeAvx512.lanes * c, acc[c]);
}

using FmaBlock = void (*)(float*, int64_t);
struct FmaProbe {
  FmaProbeLayout layout;
  FmaBlock block;
};
FmaProbe fma_probe_for(FmaIsa isa) {
  if (isa == FmaIsa::Avx512f) return {kFmaProbeAvx512, fma_block_avx512f};
  return {kFmaProbeAvx2, fma_block_avx2};
}

bool cpu_has_avx2_fma() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
// libgcc's check includes the OS: it reports avx512f only if XCR0 enables the zmm state.
bool cpu_has_avx512f() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}

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

// Runs the probe's FMA chains until `seconds` of wall-clock time have passed.
Rate fma_rate(const FmaProbe& probe, double seconds) {
  const int n = probe.layout.chains * probe.layout.lanes;
  static_assert(kFmaProbeAvx512.chains * kFmaProbeAvx512.lanes >= kFmaProbeAvx2.chains * kFmaProbeAvx2.lanes);
  alignas(64) float state[kFmaProbeAvx512.chains * kFmaProbeAvx512.lanes];
  for (int i = 0; i < n; ++i) state[i] = 1.0f + 1e-3f * static_cast<float>(i / probe.layout.lanes);
  int64_t blocks = 0;
  const double cpu0 = thread_cpu_seconds();
  const auto t0 = clock_type::now();
  const auto deadline = t0 + std::chrono::duration_cast<clock_type::duration>(
                                 std::chrono::duration<double>(seconds));
  auto now = t0;
  do {
    probe.block(state, kBlock);
    ++blocks;
    now = clock_type::now();
  } while (now < deadline);
  const double cpu = thread_cpu_seconds() - cpu0;
  float s = 0;
  for (int i = 0; i < n; ++i) s += state[i];
  g_sink = s;
  const double wall = std::chrono::duration<double>(now - t0).count();
  const double flops = static_cast<double>(blocks) * kBlock * probe.layout.chains * probe.layout.lanes * 2.0;
  return {flops / wall, cpu > 0 ? flops / cpu : flops / wall};
}

// Pins the calling thread to one CPU; false if the kernel refuses or the thread is not on
// it afterwards. The thread inherits its creator's mask, which pin_threads() may have
// narrowed to another CPU; pthread_setaffinity_np replaces the mask (it may widen it again
// within the process's cpuset) and migrates the thread before it returns.
bool pin_to(int core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0 && sched_getcpu() == core;
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

ProbeRates fma_probe(const FmaProbe& probe, int threads, const std::vector<int>& cores,
                     double rep_seconds, bool* pinned) {
  std::vector<Rate> rates(static_cast<size_t>(kRepetitions * threads));
  std::barrier sync(threads);
  *pinned = run_pinned(threads, cores, [&](int t) {
    // Untimed warm-up: lets the core reach its AVX-512 clock before the first timed rep.
    sync.arrive_and_wait();
    fma_rate(probe, std::min(0.05, rep_seconds));
    for (int r = 0; r < kRepetitions; ++r) {
      sync.arrive_and_wait();
      rates[static_cast<size_t>(r * threads + t)] = fma_rate(probe, rep_seconds);
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

// The first CPU of `cpu`'s SMT sibling list names its physical core; -1 if sysfs lacks it.
int physical_core_of(int cpu) {
  std::ifstream in("/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/thread_siblings_list");
  int first = -1;
  if (!(in >> first)) return -1;
  return first;
}

std::string lower(std::string_view s) {
  std::string o(s);
  for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};

void triad(float* __restrict a, const float* __restrict b, const float* __restrict c, float s,
           int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; ++i) a[i] = b[i] + s * c[i];
}

}  // namespace

const FmaProbeLayout& fma_probe_layout(FmaIsa isa) {
  return isa == FmaIsa::Avx512f ? kFmaProbeAvx512 : kFmaProbeAvx2;
}

bool onednn_max_isa_allows_avx512(std::string_view value) {
  const std::string v = lower(value);
  return v.empty() || v == "default" || v == "all" || v.rfind("avx512", 0) == 0 || v.rfind("avx10", 0) == 0;
}

FmaIsaChoice fma_isa_for_this_machine() {
  if (!cpu_has_avx2_fma())
    throw Error("measuring the FP32 peak: this CPU has no AVX2 with FMA; the probe needs AVX2+FMA or AVX-512F");
  if (!cpu_has_avx512f()) return {FmaIsa::Avx2, "avx2"};
  for (const char* name : {"ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"})
    if (const char* v = std::getenv(name); v && *v) {
      if (onednn_max_isa_allows_avx512(v)) break;
      return {FmaIsa::Avx2, std::string("avx2 (") + name + "=" + v + ")"};
    }
  return {FmaIsa::Avx512f, "avx512f"};
}

std::vector<int> allowed_cores() {
  std::vector<int> first, siblings;
  std::set<int> seen;
  for (int cpu : process_cpus()) {
    const int core = physical_core_of(cpu);
    if (core < 0 || seen.insert(core).second) first.push_back(cpu);
    else siblings.push_back(cpu);
  }
  first.insert(first.end(), siblings.begin(), siblings.end());
  if (first.empty()) first.push_back(0);
  return first;
}

PeakResult measure_peak(int threads, double seconds_per_probe, int64_t triad_bytes_per_array,
                        std::optional<FmaIsa> isa) {
  BS_CHECK(threads >= 1, "measure_peak: threads must be positive");
  BS_CHECK(seconds_per_probe > 0, "measure_peak: seconds_per_probe must be positive");
  FmaIsaChoice choice;
  if (!isa) {
    choice = fma_isa_for_this_machine();
  } else if (*isa == FmaIsa::Avx512f) {
    if (!cpu_has_avx512f()) throw Error("peak: the AVX-512F probe was asked for, but this CPU (or OS) has no AVX-512F");
    choice = {FmaIsa::Avx512f, "avx512f"};
  } else {
    if (!cpu_has_avx2_fma()) throw Error("peak: the AVX2 probe was asked for, but this CPU has no AVX2 with FMA");
    choice = {FmaIsa::Avx2, "avx2"};
  }
  const FmaProbe probe = fma_probe_for(choice.isa);
  PeakResult r;
  r.threads = threads;
  r.isa = choice.name;
  r.fma_chains = probe.layout.chains;
  r.repetitions = kRepetitions;
  r.seconds_per_repetition = seconds_per_probe / kRepetitions;
  const std::vector<int> cores = allowed_cores();
  for (int t = 0; t < threads; ++t) r.cores.push_back(cores[static_cast<size_t>(t) % cores.size()]);
  {
    std::set<int> physical;
    for (int cpu : r.cores) physical.insert(physical_core_of(cpu));
    r.physical_cores = physical.count(-1) ? 0 : static_cast<int>(physical.size());
  }

  bool pinned_one = false, pinned_all = false, pinned_triad = false;
  const ProbeRates one = fma_probe(probe, 1, cores, r.seconds_per_repetition, &pinned_one);
  r.gflops_1t = median(one.wall);
  r.gflops_1t_max = *std::max_element(one.wall.begin(), one.wall.end());
  r.gflops_1t_cpu = median(one.cpu);
  const ProbeRates all = fma_probe(probe, threads, cores, r.seconds_per_repetition, &pinned_all);
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
#if defined(__AVX512F__)
  c.build += ", compiled for avx512f";
#elif defined(__AVX2__)
  c.build += ", compiled for avx2";
#else
  c.build += ", compiled for x86-64";
#endif
  // The probe's ISA is chosen at run time, so it names what this machine measured.
  try {
    c.build += ", peak probe " + fma_isa_for_this_machine().name;
  } catch (const Error&) {
    c.build += ", no peak probe (no AVX2+FMA)";
  }
#if defined(__clang__)
  c.build += ", clang " __clang_version__;
#elif defined(__GNUC__)
  c.build += ", gcc " __VERSION__;
#endif
  return c;
}

}  // namespace batchscope
