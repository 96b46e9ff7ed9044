// The machine's measured roofline: FP32 FMA peak on one core and on T pinned threads, and
// STREAM-triad memory bandwidth, each the median (and max) of several short repetitions.
// `batchscope peak` prints it; sweep and profile reports compare achieved FLOP/s against it.
// The FMA loop is compiled for AVX2 and for AVX-512F and chosen at run time (see FmaIsa).
//   PeakResult r = measure_peak(2, 0.35);  // 7 x 50 ms per probe
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace batchscope {

// Register budget of the FMA probe's inner loop, acc[c] = acc[c]*m + a for every chain c.
// Each chain is one accumulator register and the loop keeps m and a in two more; a loop
// whose chains + constants exceed the register file spills accumulators to the stack and
// then measures load/store traffic instead of the FMA pipes (the old 16-chain AVX2 loop:
// 16 + 2 = 18 > 16 ymm, about 50 instead of 89 GFLOP/s on a Zen 3 core).
struct FmaProbeLayout {
  int vector_registers;  // architectural vector registers of the ISA
  int constants;         // registers holding the loop's operands m and a
  int chains;            // independent accumulators, one register each
  int lanes;             // FP32 lanes per register
};
// AVX2: 16 ymm - 2 constants leaves 14 for chains. Hiding the FMA latency needs latency x
// pipes chains in flight: 4 cycles x 2 FMA pipes = 8 on Zen 2/3/4 and Skylake, 5 x 2 = 10 on
// Haswell. 12 covers both and leaves 2 registers spare.
inline constexpr FmaProbeLayout kFmaProbeAvx2{
    .vector_registers = 16, .constants = 2, .chains = 12, .lanes = 8};
// AVX-512F: 32 zmm - 2 constants leaves 30. Two 512-bit FMA pipes with 4-cycle latency
// (Skylake-SP and later Xeons, Zen 5) need 8 chains; Zen 4 splits each zmm FMA over its two
// 256-bit pipes and needs 4. 16 is twice the most any of them needs; more chains only
// lengthen the unrolled body without raising the rate.
inline constexpr FmaProbeLayout kFmaProbeAvx512{
    .vector_registers = 32, .constants = 2, .chains = 16, .lanes = 16};
static_assert(kFmaProbeAvx2.chains + kFmaProbeAvx2.constants <= kFmaProbeAvx2.vector_registers,
              "AVX2 FMA probe: chains and constants must fit the 16 ymm registers");
static_assert(kFmaProbeAvx512.chains + kFmaProbeAvx512.constants <= kFmaProbeAvx512.vector_registers,
              "AVX-512 FMA probe: chains and constants must fit the 32 zmm registers");
static_assert(kFmaProbeAvx2.chains >= 8 && kFmaProbeAvx512.chains >= 8,
              "FMA probe: 8 chains are needed to hide 4 cycles of latency on 2 pipes");

// Stored with every measurement; a cache written by another version of the probe (such as
// the 16-chain AVX2 loop, version 1, that spilled) is not read. Bump it when the probe
// changes what it measures.
inline constexpr int kPeakProbeVersion = 2;

enum class FmaIsa { Avx2, Avx512f };
const FmaProbeLayout& fma_probe_layout(FmaIsa isa);

struct FmaIsaChoice {
  FmaIsa isa = FmaIsa::Avx2;
  // The report's `isa` field: "avx512f", "avx2", or "avx2 (ONEDNN_MAX_CPU_ISA=AVX2)" when the
  // CPU has AVX-512 but the kernels are capped below it.
  std::string name;
};
// The probe the kernels' peak is measured with: AVX-512F where the CPU (and OS) support it,
// unless ONEDNN_MAX_CPU_ISA (or the older DNNL_MAX_CPU_ISA) keeps oneDNN below AVX-512, in
// which case the kernels cannot reach the AVX-512 peak; else AVX2+FMA. Throws Error if the
// CPU has neither.
FmaIsaChoice fma_isa_for_this_machine();
// Whether a ONEDNN_MAX_CPU_ISA value (case-insensitive) leaves oneDNN its 512-bit code:
// empty, DEFAULT, ALL, AVX512_* and AVX10_* do; SSE41, AVX, AVX2, AVX2_VNNI, ... do not.
bool onednn_max_isa_allows_avx512(std::string_view value);

struct PeakResult {
  // Per wall-clock second: the peak. The kernels are timed by the wall clock too.
  double gflops_1t = 0, gflops_1t_max = 0;    // one thread, pinned to the first allowed core
  double gflops_all = 0, gflops_all_max = 0;  // `threads` threads, each on its own core
  // Diagnostics only, never the peak: the same probes per second of CPU time the threads
  // got. On a machine busy with other processes these stay near the core's capability
  // while the wall-clock figures drop; the gap tells a report its peak may be low.
  double gflops_1t_cpu = 0, gflops_all_cpu = 0;
  int threads = 0;
  std::vector<int> cores;  // the CPUs the threads were pinned to, in order
  bool pinned = false;     // every probe thread accepted its pinning and ran on its CPU
  // Triad a[i] = b[i] + s*c[i] on all threads. triad_gbs counts 12 bytes per element (read b
  // and c, write a: STREAM's convention); the stores are ordinary ones, so the memory bus
  // also reads a before writing it (write-allocate): triad_gbs_write_allocate counts 16.
  double triad_gbs = 0, triad_gbs_max = 0;
  double triad_gbs_write_allocate = 0;
  int64_t triad_bytes_per_array = 0;
  std::string isa;             // FmaIsaChoice::name of the probe that ran
  int fma_chains = 0;          // independent accumulator registers per thread
  int physical_cores = 0;      // distinct physical cores among `cores` (sysfs); 0 if unknown
  int repetitions = 0;         // per probe; median and max are over these
  double seconds_per_repetition = 0;
};

// Runs the FMA probe on 1 and on `threads` threads (threads > cores shares cores) and the
// triad on `threads` threads. seconds_per_probe is split into 7 timed repetitions after a
// short untimed warm-up. Buffers for the triad: 3 × triad_bytes_per_array, first touched by
// the threads that later stream them. isa: the FMA width, fma_isa_for_this_machine() if
// absent; Error if the CPU lacks the one asked for.
PeakResult measure_peak(int threads, double seconds_per_probe,
                        int64_t triad_bytes_per_array = int64_t{128} << 20,
                        std::optional<FmaIsa> isa = std::nullopt);

// The CPUs the probe threads are pinned to, in order: the process's affinity mask as it was
// at start-up (process_cpus(), so an earlier pin_threads() does not narrow it), one CPU per
// physical core first in ascending order, then their SMT siblings.
std::vector<int> allowed_cores();

// What a measurement report's header names besides the command: where and when it ran and
// how this code was built, so a number can be traced back to its conditions.
struct ReportContext {
  std::string host;   // gethostname
  std::string date;   // local time, ISO 8601 with offset
  // e.g. "release (optimised, NDEBUG), compiled for avx512f, peak probe avx2 (ONEDNN_MAX_CPU_ISA=AVX2),
  // gcc 12.2.0": the peak probe's ISA is the one chosen at run time.
  std::string build;
};
ReportContext report_context();

}  // namespace batchscope
