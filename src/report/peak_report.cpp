// Rendering of `batchscope peak` (peak_report.h).
#include "report/peak_report.h"

#include "measure/peak_cache.h"
#include "report/table.h"

namespace batchscope::report {

std::string peak_text(const PeakReport& p) {
  const PeakResult& r = p.result;
  std::string cores;
  for (size_t i = 0; i < r.cores.size(); ++i) {
    if (i) cores += ',';
    cores += std::to_string(r.cores[i]);
  }
  std::string s;
  s += fmt("# batchscope peak: measured FP32 FMA peak and memory bandwidth\n");
  s += fmt("# command   %s\n", p.command.c_str());
  s += fmt("# host      %s\n", p.ctx.host.c_str());
  s += fmt("# date      %s\n", p.ctx.date.c_str());
  s += fmt("# build     %s\n", p.ctx.build.c_str());
  s += fmt("# threads   %d (%s cores %s)\n", r.threads, r.pinned ? "pinned to" : "NOT pinned; asked for",
              cores.c_str());
  const FmaProbeLayout& layout =
      fma_probe_layout(r.isa.rfind("avx512", 0) == 0 ? FmaIsa::Avx512f : FmaIsa::Avx2);
  s += fmt("# fma       %s, chosen at run time; %d independent accumulator chains per thread "
              "(+%d constants in %d registers), 2 FLOP per lane\n",
              r.isa.c_str(), r.fma_chains, layout.constants, layout.vector_registers);
  // What the kernels can use of that peak: the variants oneDNN runs here (`models` says why
  // any is missing).
  s += fmt("# kernels   oneDNN %s; variants offered: %s%s\n", p.onednn_isa.c_str(), p.variants_offered.c_str(),
           p.variants_missing.empty() ? "" : ("; not here: " + p.variants_missing + " (see batchscope models)").c_str());
  s += fmt("# triad     a[i] = b[i] + s*c[i] over 3 x %lld MiB; 12 B/element as STREAM counts, "
              "16 B with the write-allocate read of a\n",
              static_cast<long long>(r.triad_bytes_per_array >> 20));
  s += fmt("# timing    median and max of %d repetitions x %.0f ms per probe, after a warm-up\n",
              r.repetitions, 1e3 * r.seconds_per_repetition);
  // Wall-clock rates well below the CPU-time ones mean other processes held these cores;
  // threads that do not scale on distinct cores, that those cores were not independent.
  const bool busy = measured_on_busy_machine(r);
  s += fmt("# cpu time  diagnostic, not the peak: %.1f GFLOP/s per CPU-second (1 thread), %.1f (%d threads)%s\n",
              r.gflops_1t_cpu, r.gflops_all_cpu, r.threads,
              busy ? "; disturbed after 3 tries (busy machine, or cores not independent): the "
                     "wall-clock peak below may be low" : "");
  if (!p.cached_in.empty())
    s += fmt("# cached    in %s for sweep and profile (used for a week on this host)\n", p.cached_in.c_str());
  else if (busy)
    s += fmt("# cached    no: the probe was disturbed, so sweep and profile will measure again\n");
  s += fmt("#\n");
  s += fmt("%-22s %7s %10s %10s  %s\n", "probe", "threads", "median", "max", "unit");
  s += fmt("%-22s %7d %10.1f %10.1f  %s\n", "fma_fp32", 1, r.gflops_1t, r.gflops_1t_max, "GFLOP/s");
  s += fmt("%-22s %7d %10.1f %10.1f  %s\n", "fma_fp32", r.threads, r.gflops_all, r.gflops_all_max,
              "GFLOP/s");
  s += fmt("%-22s %7d %10.2f %10.2f  %s\n", "triad", r.threads, r.triad_gbs, r.triad_gbs_max,
              "GB/s (12 B/element, STREAM)");
  s += fmt("%-22s %7d %10.2f %10.2f  %s\n", "triad_write_allocate", r.threads,
              r.triad_gbs_write_allocate, r.triad_gbs_max * 16.0 / 12.0, "GB/s (16 B/element)");
  return s;
}

nlohmann::ordered_json peak_json(const PeakReport& p) {
  nlohmann::ordered_json j = {{"command", p.command}, {"host", p.ctx.host}, {"date", p.ctx.date}, {"build", p.ctx.build}};
  j.update(peak_to_json(p.result));
  j["busy_machine"] = measured_on_busy_machine(p.result);
  if (!p.cached_in.empty()) j["cached_in"] = p.cached_in;
  return j;
}

}  // namespace batchscope::report
