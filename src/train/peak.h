// The machine's measured roofline: FP32 FMA peak on one core and on T pinned threads, and
// STREAM-triad memory bandwidth, each the median (and max) of several short repetitions.
// `batchscope peak` prints it; sweep and profile reports compare achieved FLOP/s against it.
//   PeakResult r = measure_peak(2, 0.35);  // 7 x 50 ms per probe
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace batchscope {

struct PeakResult {
  double gflops_1t = 0, gflops_1t_max = 0;    // one thread, pinned to the first allowed core
  double gflops_all = 0, gflops_all_max = 0;  // `threads` threads, each on its own core
  // The same probes per second of CPU time the threads got: on a machine busy with other
  // processes these stay near the core's capability while the wall-clock figures drop.
  double gflops_1t_cpu = 0, gflops_all_cpu = 0;
  int threads = 0;
  std::vector<int> cores;  // the cores the threads were pinned to, in order
  bool pinned = false;     // every probe thread accepted its pinning
  // Triad a[i] = b[i] + s*c[i] on all threads. triad_gbs counts 12 bytes per element (read b
  // and c, write a: STREAM's convention); the stores are ordinary ones, so the memory bus
  // also reads a before writing it (write-allocate): triad_gbs_write_allocate counts 16.
  double triad_gbs = 0, triad_gbs_max = 0;
  double triad_gbs_write_allocate = 0;
  int64_t triad_bytes_per_array = 0;
  std::string isa;             // "avx512f" or "avx2", the FMA width the probe was built with
  int fma_chains = 0;          // independent accumulator registers per thread
  int repetitions = 0;         // per probe; median and max are over these
  double seconds_per_repetition = 0;
};

// Runs the FMA probe on 1 and on `threads` threads (threads > cores shares cores) and the
// triad on `threads` threads. seconds_per_probe is split into 7 timed repetitions after a
// short untimed warm-up. Buffers for the triad: 3 × triad_bytes_per_array, first touched by
// the threads that later stream them.
PeakResult measure_peak(int threads, double seconds_per_probe,
                        int64_t triad_bytes_per_array = int64_t{128} << 20);

// The cores this process may run on (its affinity mask), ascending.
std::vector<int> allowed_cores();

// What a measurement report's header names besides the command: where and when it ran and
// how this code was built, so a number can be traced back to its conditions.
struct ReportContext {
  std::string host;   // gethostname
  std::string date;   // local time, ISO 8601 with offset
  std::string build;  // e.g. "release (-O, NDEBUG), avx512f, gcc 12.2.0"
};
ReportContext report_context();

}  // namespace batchscope
