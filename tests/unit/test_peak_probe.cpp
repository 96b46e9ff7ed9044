// The FMA peak probe: its accumulator chains fit each ISA's register file and hide the FMA
// latency, the run-time ISA choice honours ONEDNN_MAX_CPU_ISA, and its threads land on
// distinct CPUs even after pin_threads() narrowed the main thread's mask (as sweep and
// profile do before they measure). Probes run for milliseconds: this checks the plumbing,
// not the machine's speed.
#include <gtest/gtest.h>
#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <string>

#include "batchscope/error.h"
#include "core/cpu_flags.h"
#include "measure/peak.h"

namespace batchscope {
namespace {

constexpr double kTinySeconds = 0.007;          // 7 repetitions of 1 ms
constexpr int64_t kTinyTriadBytes = 256 << 10;  // per array

TEST(PeakProbe, ChainsFitTheRegisterFileAndHideLatency) {
  for (const FmaIsa isa : {FmaIsa::Avx2, FmaIsa::Avx512f}) {
    const FmaProbeLayout& l = fma_probe_layout(isa);
    const char* name = isa == FmaIsa::Avx2 ? "avx2" : "avx512f";
    // More live vectors than registers spill accumulators to the stack every iteration.
    EXPECT_LE(l.chains + l.constants, l.vector_registers) << name;
    // 4 cycles of FMA latency on 2 pipes: 8 chains in flight keep both busy.
    EXPECT_GE(l.chains, 8) << name;
  }
  EXPECT_EQ(kFmaProbeAvx2.vector_registers, 16);
  EXPECT_EQ(kFmaProbeAvx512.vector_registers, 32);
  EXPECT_EQ(kFmaProbeAvx2.lanes, 8);
  EXPECT_EQ(kFmaProbeAvx512.lanes, 16);
}

TEST(PeakProbe, OnednnMaxIsaBelowAvx512SelectsAvx2) {
  for (const char* v : {"AVX2", "avx2", "AVX2_VNNI", "avx2_vnni_2", "AVX", "SSE41"})
    EXPECT_FALSE(onednn_max_isa_allows_avx512(v)) << v;
  for (const char* v : {"", "DEFAULT", "all", "AVX512_CORE", "avx512_core_amx", "AVX10_1_512"})
    EXPECT_TRUE(onednn_max_isa_allows_avx512(v)) << v;
}

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) {
      old_ = old;
      had_ = true;
    }
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (had_) ::setenv(name_, old_.c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

TEST(PeakProbe, RunTimeIsaFollowsTheCpuAndOnednnCap) {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    EXPECT_THROW(fma_isa_for_this_machine(), Error);
    GTEST_SKIP() << "this CPU has no AVX2+FMA: the probe refuses with an Error, checked above";
  }
  ScopedEnv dnnl("DNNL_MAX_CPU_ISA", nullptr);
  {
    ScopedEnv onednn("ONEDNN_MAX_CPU_ISA", nullptr);
    const FmaIsaChoice c = fma_isa_for_this_machine();
    EXPECT_EQ(c.isa, __builtin_cpu_supports("avx512f") ? FmaIsa::Avx512f : FmaIsa::Avx2);
    EXPECT_EQ(c.name, __builtin_cpu_supports("avx512f") ? "avx512f" : "avx2");
  }
  ScopedEnv onednn("ONEDNN_MAX_CPU_ISA", "avx2_vnni");
  const FmaIsaChoice capped = fma_isa_for_this_machine();
  EXPECT_EQ(capped.isa, FmaIsa::Avx2);
  const PeakResult r = measure_peak(1, kTinySeconds, kTinyTriadBytes);
  EXPECT_EQ(r.fma_chains, kFmaProbeAvx2.chains);
  EXPECT_EQ(r.isa.rfind("avx2", 0), 0u) << r.isa;
  if (__builtin_cpu_supports("avx512f")) {
    EXPECT_EQ(r.isa, "avx2 (ONEDNN_MAX_CPU_ISA=avx2_vnni)");
    EXPECT_NE(report_context().build.find("peak probe avx2 (ONEDNN_MAX_CPU_ISA=avx2_vnni)"), std::string::npos)
        << report_context().build;
  }
  EXPECT_GT(r.gflops_1t, 0.0);
}

TEST(PeakProbe, ForcedIsaRunsThatLoopOrRefuses) {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    GTEST_SKIP() << "this CPU has no AVX2+FMA";
  const PeakResult r2 = measure_peak(1, kTinySeconds, kTinyTriadBytes, FmaIsa::Avx2);
  EXPECT_EQ(r2.isa, "avx2");
  EXPECT_EQ(r2.fma_chains, kFmaProbeAvx2.chains);
  EXPECT_GT(r2.gflops_1t, 0.0);
  if (!__builtin_cpu_supports("avx512f")) {
    EXPECT_THROW(measure_peak(1, kTinySeconds, kTinyTriadBytes, FmaIsa::Avx512f), Error);
    return;
  }
  const PeakResult r5 = measure_peak(1, kTinySeconds, kTinyTriadBytes, FmaIsa::Avx512f);
  EXPECT_EQ(r5.isa, "avx512f");
  EXPECT_EQ(r5.fma_chains, kFmaProbeAvx512.chains);
  EXPECT_GT(r5.gflops_1t, 0.0);
}

std::vector<int> this_thread_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

TEST(PeakProbe, ThreadsLandOnDistinctCpusAfterPinThreads) {
  if (process_cpus().size() < 2)
    GTEST_SKIP() << "the process may run on " << process_cpus().size()
                 << " CPU(s); distinct cores need at least 2";
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    GTEST_SKIP() << "this CPU has no AVX2+FMA";
  // What sweep and profile do before they measure: OpenMP thread 0, the main thread, is
  // pinned to one CPU, and a later sched_getaffinity from it sees only that one.
  omp_set_num_threads(2);
  ASSERT_TRUE(pin_threads());
  ASSERT_EQ(this_thread_cpus().size(), 1u) << "pin_threads() did not narrow the main thread";
  EXPECT_GE(process_cpus().size(), 2u) << "process_cpus() must keep the mask from start-up";

  const PeakResult r = measure_peak(2, kTinySeconds, kTinyTriadBytes);
  ASSERT_EQ(r.cores.size(), 2u);
  EXPECT_NE(r.cores[0], r.cores[1]);
  EXPECT_EQ(std::set<int>(r.cores.begin(), r.cores.end()).size(), 2u);
  // Each probe thread was created with the main thread's one-CPU mask and widened it to its
  // own CPU (checked with sched_getcpu inside the probe).
  EXPECT_TRUE(r.pinned);
  for (int c : r.cores)
    EXPECT_NE(std::find(process_cpus().begin(), process_cpus().end(), c), process_cpus().end()) << c;

  // Leave the main thread as it started, for tests that run after this one in-process.
  cpu_set_t all;
  CPU_ZERO(&all);
  for (int c : process_cpus()) CPU_SET(c, &all);
  sched_setaffinity(0, sizeof all, &all);
}

}  // namespace
}  // namespace batchscope
