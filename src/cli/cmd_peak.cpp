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
#include "report/peak_report.h"

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

  report::PeakReport rep{command, ctx, r, kernels::onednn_isa(), "", "", cache.string()};
  for (const kernels::Variant& v : kernels::variants()) {
    std::string& list = v.supported ? rep.variants_offered : rep.variants_missing;
    list += (list.empty() ? "" : ", ") + std::string(v.table->name);
  }
  if (json) print_json(report::peak_json(rep));
  else std::fputs(report::peak_text(rep).c_str(), stdout);
  return 0;
}

}  // namespace batchscope::cli
