// `batchscope peak`: the machine's measured FP32 FMA peak (one thread and T pinned threads) and
// triad memory bandwidth: the roofline the sweep's GFLOP/s are read against. The text report
// starts with '#' lines saying what ran where, then one aligned row per probe.
//   batchscope peak [--threads T] [--seconds S] [--json]
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "batchscope/error.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "kernels/kernels.h"
#include "measure/peak.h"
#include "measure/peak_cache.h"

namespace batchscope::cli {

int cmd_peak(int argc, char** argv) {
  // The probe's width is chosen at run time; the help says which one this machine gets.
  std::string here;
  try {
    here = fma_isa_for_this_machine().name;
  } catch (const Error&) {
    here = "none, it lacks AVX2+FMA";
  }
  const auto layout_text = [](const FmaProbeLayout& l) {
    return std::to_string(l.chains) + " chains in " + std::to_string(l.vector_registers) + " registers";
  };
  Flags f("peak", "[flags]",
          "Measures FP32 peak FLOP/s with an FMA loop of independent accumulator chains on one\n"
          "thread and on --threads threads, each pinned to its own core, and memory bandwidth with\n"
          "a STREAM-like triad a[i] = b[i] + s*c[i] over buffers far larger than the last-level\n"
          "cache. The FMA loop is picked at run time: AVX-512F (" + layout_text(kFmaProbeAvx512) +
              ") where\nthe CPU has it and ONEDNN_MAX_CPU_ISA does not cap the kernels below it, else AVX2\n(" +
              layout_text(kFmaProbeAvx2) + "); this machine: " + here +
              ". The peak is the wall-clock rate;\nrates per CPU-second are printed as a diagnostic. "
              "Each probe reports the median and\nthe max of 7 repetitions after a warm-up.");
  f.add("threads", std::to_string(default_threads()), "probe threads, pinned one per allowed core");
  f.add("seconds", "0.35", "time per probe, split into 7 repetitions");
  f.add("triad-mib", "128", "MiB per triad array (three arrays)");
  f.add_bool("json", "print one JSON object on stdout");
  f.add_bool("no-cache", "do not store the result for sweep and profile (see --help of either)");
  if (!f.parse(argc, argv)) return 0;
  if (!f.positional().empty())
    throw UsageError("batchscope peak: unexpected argument '" + f.positional()[0] + "'");
  const int threads = clamp_threads(static_cast<int>(f.i64("threads", 1, 1024)), "--threads");
  const double seconds = f.dbl("seconds", 0.007, 60.0);
  const int64_t triad_mib = f.i64("triad-mib", 1, 65536);
  const bool json = f.boolean("json");

  std::string command = "batchscope peak";
  for (int i = 0; i < argc; ++i) command += std::string(" ") + argv[i];
  const ReportContext ctx = report_context();
  // A disturbed measurement (see measured_on_busy_machine) is taken again, up to three times
  // in all, and the fastest kept, as sweep and profile do.
  int attempts = 0;
  const PeakResult r = measure_until_undisturbed(
      [&] { return measure_peak(threads, seconds, triad_mib << 20); }, &attempts);
  // Stored for sweep and profile, which otherwise measure it themselves.
  std::filesystem::path cache;
  if (triad_mib >= 128 && !f.boolean("no-cache")) {
    RooflinePeak stored{r, ctx.host, ctx.date, ctx.build, static_cast<int64_t>(std::time(nullptr)),
                        "measured now", {}};
    store_peak(stored);
    if (load_cached_peak(threads, 60)) cache = peak_cache_dir();
  }

  std::string cores;
  for (size_t i = 0; i < r.cores.size(); ++i) {
    if (i) cores += ',';
    cores += std::to_string(r.cores[i]);
  }
  if (json) {
    nlohmann::ordered_json j = {{"command", command}, {"host", ctx.host}, {"date", ctx.date},
                                {"build", ctx.build}};
    j.update(peak_to_json(r));
    j["busy_machine"] = measured_on_busy_machine(r);
    if (!cache.empty()) j["cached_in"] = cache.string();
    print_json(j);
    return 0;
  }
  std::printf("# batchscope peak: measured FP32 FMA peak and memory bandwidth\n");
  std::printf("# command   %s\n", command.c_str());
  std::printf("# host      %s\n", ctx.host.c_str());
  std::printf("# date      %s\n", ctx.date.c_str());
  std::printf("# build     %s\n", ctx.build.c_str());
  std::printf("# threads   %d (%s cores %s)\n", r.threads, r.pinned ? "pinned to" : "NOT pinned; asked for",
              cores.c_str());
  const FmaProbeLayout& layout =
      fma_probe_layout(r.isa.rfind("avx512", 0) == 0 ? FmaIsa::Avx512f : FmaIsa::Avx2);
  std::printf("# fma       %s, chosen at run time; %d independent accumulator chains per thread "
              "(+%d constants in %d registers), 2 FLOP per lane\n",
              r.isa.c_str(), r.fma_chains, layout.constants, layout.vector_registers);
  {
    // What the kernels can use of that peak: the variants oneDNN runs here (`models` says why
    // any is missing).
    std::string offered, missing;
    for (const kernels::Variant& v : kernels::variants()) {
      std::string& list = v.supported ? offered : missing;
      list += (list.empty() ? "" : ", ") + std::string(v.table->name);
    }
    std::printf("# kernels   oneDNN %s; variants offered: %s%s\n", kernels::onednn_isa().c_str(),
                offered.c_str(), missing.empty() ? "" : ("; not here: " + missing + " (see batchscope models)").c_str());
  }
  std::printf("# triad     a[i] = b[i] + s*c[i] over 3 x %lld MiB; 12 B/element as STREAM counts, "
              "16 B with the write-allocate read of a\n",
              static_cast<long long>(r.triad_bytes_per_array >> 20));
  std::printf("# timing    median and max of %d repetitions x %.0f ms per probe, after a warm-up\n",
              r.repetitions, 1e3 * r.seconds_per_repetition);
  // Wall-clock rates well below the CPU-time ones mean other processes held these cores;
  // threads that do not scale on distinct cores, that those cores were not independent.
  const bool busy = measured_on_busy_machine(r);
  std::printf("# cpu time  diagnostic, not the peak: %.1f GFLOP/s per CPU-second (1 thread), %.1f (%d threads)%s\n",
              r.gflops_1t_cpu, r.gflops_all_cpu, r.threads,
              busy ? "; disturbed after 3 tries (busy machine, or cores not independent): the "
                     "wall-clock peak below may be low" : "");
  if (!cache.empty())
    std::printf("# cached    in %s for sweep and profile (used for a week on this host)\n",
                cache.string().c_str());
  else if (busy)
    std::printf("# cached    no: the probe was disturbed, so sweep and profile will measure again\n");
  std::printf("#\n");
  std::printf("%-22s %7s %10s %10s  %s\n", "probe", "threads", "median", "max", "unit");
  std::printf("%-22s %7d %10.1f %10.1f  %s\n", "fma_fp32", 1, r.gflops_1t, r.gflops_1t_max, "GFLOP/s");
  std::printf("%-22s %7d %10.1f %10.1f  %s\n", "fma_fp32", r.threads, r.gflops_all, r.gflops_all_max,
              "GFLOP/s");
  std::printf("%-22s %7d %10.2f %10.2f  %s\n", "triad", r.threads, r.triad_gbs, r.triad_gbs_max,
              "GB/s (12 B/element, STREAM)");
  std::printf("%-22s %7d %10.2f %10.2f  %s\n", "triad_write_allocate", r.threads,
              r.triad_gbs_write_allocate, r.triad_gbs_max * 16.0 / 12.0, "GB/s (16 B/element)");
  return 0;
}

}  // namespace batchscope::cli
