// The cached roofline: stored per host, thread count and build; refused when stale, foreign,
// corrupt, written by an older probe or measured on a busy machine; a busy measurement keeps
// the wall-clock rate as the peak; --peak GFLOPS:GBS parsed strictly.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>

#include "batchscope/error.h"
#include "support/synthetic.h"
#include "measure/peak_cache.h"

namespace batchscope {
namespace {

class PeakCache : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* old = std::getenv("BATCHSCOPE_CACHE_DIR");
    had_ = old != nullptr;
    if (had_) old_ = old;
    ::setenv("BATCHSCOPE_CACHE_DIR", tmp.path().c_str(), 1);
  }
  void TearDown() override {
    if (had_) ::setenv("BATCHSCOPE_CACHE_DIR", old_.c_str(), 1);
    else ::unsetenv("BATCHSCOPE_CACHE_DIR");
  }
  static RooflinePeak sample(int threads) {
    const ReportContext ctx = report_context();
    RooflinePeak p;
    p.peak.threads = threads;
    p.peak.isa = "avx512f";
    p.peak.fma_chains = kFmaProbeAvx512.chains;
    p.peak.cores = {0, 1};
    p.peak.gflops_1t = p.peak.gflops_1t_max = p.peak.gflops_1t_cpu = 110;
    p.peak.gflops_all = p.peak.gflops_all_max = p.peak.gflops_all_cpu = 220;
    p.peak.triad_gbs = p.peak.triad_gbs_max = 25;
    p.peak.triad_bytes_per_array = int64_t{128} << 20;
    p.host = ctx.host;
    p.date = ctx.date;
    p.build = ctx.build;
    p.unix_time = static_cast<int64_t>(std::time(nullptr));
    return p;
  }
  testing::TempDir tmp;
  bool had_ = false;
  std::string old_;
};

TEST_F(PeakCache, StoresAndReloadsForTheSameHostAndThreads) {
  store_peak(sample(2));
  const auto p = load_cached_peak(2, 3600);
  ASSERT_TRUE(p.has_value());
  EXPECT_DOUBLE_EQ(p->peak.gflops_all, 220);
  EXPECT_DOUBLE_EQ(p->peak.triad_gbs, 25);
  EXPECT_EQ(p->origin, "cached from " + p->date);
  EXPECT_FALSE(load_cached_peak(1, 3600).has_value());  // another thread count
  // The report path uses it without measuring.
  EXPECT_EQ(peak_for_report(2, PeakChoice{}).origin, "cached from " + p->date);
}

TEST_F(PeakCache, RefusesStaleForeignCorruptAndBusyMeasurements) {
  RooflinePeak old = sample(2);
  old.unix_time -= 8 * 24 * 3600;
  store_peak(old);
  EXPECT_FALSE(load_cached_peak(2, 7 * 24 * 3600).has_value());

  RooflinePeak foreign = sample(2);
  foreign.host = "another-host";
  store_peak(foreign);
  EXPECT_FALSE(load_cached_peak(2, 3600).has_value());

  std::ofstream(tmp.file("peak-2threads.json")) << "{\"host\": ";
  EXPECT_FALSE(load_cached_peak(2, 3600).has_value());

  RooflinePeak busy = sample(2);
  busy.peak.gflops_all = 100;  // wall clock far below the 220 the CPU time allowed
  EXPECT_TRUE(measured_on_busy_machine(busy.peak));
  std::filesystem::remove(tmp.file("peak-2threads.json"));
  store_peak(busy);
  EXPECT_FALSE(std::filesystem::exists(tmp.file("peak-2threads.json")));

  // Two threads on two physical cores, CPU time full, yet no faster than one: the cores were
  // not independent (two vCPUs on one physical core). Unknown topology owes no scaling.
  RooflinePeak shared = sample(2);
  shared.peak.physical_cores = 2;
  shared.peak.gflops_all = shared.peak.gflops_all_cpu = 120;
  EXPECT_TRUE(measured_on_busy_machine(shared.peak));
  shared.peak.physical_cores = 0;
  EXPECT_FALSE(measured_on_busy_machine(shared.peak));
  RooflinePeak scaled = sample(2);
  scaled.peak.physical_cores = 2;
  EXPECT_FALSE(measured_on_busy_machine(scaled.peak));  // 220 of 2 x 110
}

TEST_F(PeakCache, RefusesCachesWrittenByAnOlderProbe) {
  store_peak(sample(2));
  ASSERT_TRUE(load_cached_peak(2, 3600).has_value());
  // What the 16-chain probe (no probe_version) wrote: same host, build and threads.
  std::stringstream ss;
  ss << std::ifstream(tmp.file("peak-2threads.json")).rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str());
  j["peak"].erase("probe_version");
  j["peak"]["fma_chains"] = 16;
  j["peak"]["isa"] = "avx2";
  std::ofstream(tmp.file("peak-2threads.json")) << j.dump(2);
  EXPECT_FALSE(load_cached_peak(2, 3600).has_value());
  j["peak"]["probe_version"] = kPeakProbeVersion - 1;
  std::ofstream(tmp.file("peak-2threads.json")) << j.dump(2);
  EXPECT_FALSE(load_cached_peak(2, 3600).has_value());
}

TEST_F(PeakCache, BusyMachineKeepsTheFastestWallClockRateUncached) {
  // Every attempt busy: wall clock far below CPU time. The peak is the best wall-clock rate,
  // never the CPU-time one, and it is not cached.
  int calls = 0;
  const double walls[] = {100, 150, 120};
  const RooflinePeak p = measure_peak_for_report(2, [&](int threads) {
    RooflinePeak s = sample(threads);
    s.peak.gflops_all = s.peak.gflops_all_max = walls[calls++];
    return s.peak;
  });
  EXPECT_EQ(calls, 3);
  EXPECT_DOUBLE_EQ(p.peak.gflops_all, 150);
  EXPECT_DOUBLE_EQ(p.peak.gflops_all_cpu, 220);  // kept as the diagnostic
  EXPECT_NE(p.origin.find("busy"), std::string::npos) << p.origin;
  EXPECT_NE(p.origin.find("may be low"), std::string::npos) << p.origin;
  EXPECT_FALSE(std::filesystem::exists(tmp.file("peak-2threads.json")));
  EXPECT_TRUE(p.file.empty());

  // Busy once, then quiet: the quiet attempt is kept and cached.
  calls = 0;
  const RooflinePeak q = measure_peak_for_report(2, [&](int threads) {
    RooflinePeak s = sample(threads);
    if (calls++ == 0) s.peak.gflops_all = 100;
    return s.peak;
  });
  EXPECT_EQ(calls, 2);
  EXPECT_DOUBLE_EQ(q.peak.gflops_all, 220);
  EXPECT_EQ(q.origin, "measured now");
  EXPECT_TRUE(load_cached_peak(2, 3600).has_value());
}

TEST(PeakChoice, ParsesAutoMeasureAndGivenFigures) {
  EXPECT_EQ(parse_peak_choice("auto").policy, PeakPolicy::Auto);
  EXPECT_EQ(parse_peak_choice("measure").policy, PeakPolicy::Measure);
  const PeakChoice g = parse_peak_choice("233.5:24");
  EXPECT_EQ(g.policy, PeakPolicy::Given);
  EXPECT_DOUBLE_EQ(g.gflops, 233.5);
  EXPECT_DOUBLE_EQ(g.gbs, 24);
  for (const char* bad : {"", "fast", "100", "100:", ":5", "0:5", "5:-1", "1e400:5", "5:x", "5:5:5"})
    EXPECT_THROW(parse_peak_choice(bad), UsageError) << bad;
  const RooflinePeak p = peak_for_report(2, g);
  EXPECT_EQ(p.origin, "given with --peak");
  EXPECT_DOUBLE_EQ(p.peak.gflops_all, 233.5);
}

}  // namespace
}  // namespace batchscope
