// The roofline the sweep and profile reports measure against, without re-measuring it on every
// run: `batchscope peak` (and any report that had to measure) stores its result per host and
// thread count, with the date, in the user's cache folder; reports reuse it while it is fresh.
//   RooflinePeak p = peak_for_report(2, PeakPolicy::Auto);  // cached or measured now
//   p.origin  // "measured now" or "cached from 2026-11-29T09:30:00+0000"
// The peak is always the wall-clock rate; a machine busy with other processes gets up to 3
// attempts, the fastest kept, and its result is said to be possibly low and is not cached.
#pragma once
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "measure/peak.h"

namespace batchscope {

struct RooflinePeak {
  PeakResult peak;
  std::string host, date, build;  // where and when it was measured
  int64_t unix_time = 0;
  std::string origin;  // "measured now", "cached from <date>", "given with --peak" or, busy,
                       // "measured now on a busy machine: ..."
  std::filesystem::path file;  // the cache file used or written ("" if none)
};

enum class PeakPolicy {
  Auto,     // use the cache if it is for this host, thread count and ISA and under a week old
  Measure,  // always measure (and refresh the cache)
  Given,    // the user's own figures ("GFLOPS:GBS"), e.g. from an earlier `batchscope peak`
};
struct PeakChoice {
  PeakPolicy policy = PeakPolicy::Auto;
  double gflops = 0, gbs = 0;  // Given
};
// "auto", "measure" or "GFLOPS:GBS" (e.g. 233:25); UsageError naming --peak otherwise.
PeakChoice parse_peak_choice(const std::string& s);

// $BATCHSCOPE_CACHE_DIR, else $XDG_CACHE_HOME/batchscope, else $HOME/.cache/batchscope; empty
// if none of them is set.
std::filesystem::path peak_cache_dir();

nlohmann::ordered_json peak_to_json(const PeakResult& r);
PeakResult peak_from_json(const nlohmann::json& j);  // throws nlohmann exceptions on bad input

// The probe was disturbed: wall-clock rates >10% below CPU-time ones (other processes held
// the cores), or threads on distinct physical cores that together did under 80% of threads x
// the one-thread rate (the hypervisor ran two vCPUs on one physical core meanwhile: seen on
// this project's VM, 239 GFLOP/s on 2 threads against 240 on 1, CPU time full for both).
// The CPU-time rates serve only this check; the peak stays the wall-clock rate.
bool measured_on_busy_machine(const PeakResult& r);
// Stores a fresh measurement (best effort: a cache that cannot be written is skipped, and so
// is a measurement taken on a busy machine).
void store_peak(const RooflinePeak& p);
// The cached result for this host/threads/build (whose line names the probe's run-time ISA)
// if present, readable, written by this probe version (kPeakProbeVersion) and fresh enough.
std::optional<RooflinePeak> load_cached_peak(int threads, int64_t max_age_seconds);
// Measures (0.35 s per probe) or loads, per the policy; measuring also stores.
RooflinePeak peak_for_report(int threads, const PeakChoice& choice);
// The measuring half of peak_for_report with the probe passed in (tests pass a fake one):
// up to 3 attempts while measured_on_busy_machine, the highest wall-clock gflops_all kept;
// stored unless that one was busy.
RooflinePeak measure_peak_for_report(int threads, const std::function<PeakResult(int threads)>& probe);
// Runs probe() up to 3 times while measured_on_busy_machine, keeping the highest wall-clock
// gflops_all; *attempts says how many ran. `batchscope peak` and measure_peak_for_report.
PeakResult measure_until_undisturbed(const std::function<PeakResult()>& probe, int* attempts);

}  // namespace batchscope
