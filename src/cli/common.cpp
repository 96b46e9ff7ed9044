// Shared CLI plumbing: where the data is, how many threads, which back-end.
#include "cli/common.h"

#include <omp.h>

#include <cstdio>
#include <thread>
#include <utility>
#include <vector>

#include "batchscope/error.h"
#include "batchscope/recipe.h"
#include "core/cpu_flags.h"
#include "dist/comm.h"
#include "kernels/kernels.h"

namespace batchscope::cli {

void add_data_flags(Flags& f, bool with_train) {
  f.add("data", "data/mnist",
        "folder with the IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; plain or .gz)");
  if (with_train) {
    f.add("train-images", "", "training images IDX file (overrides --data)");
    f.add("train-labels", "", "training labels IDX file (overrides --data)");
  }
  f.add("test-images", "", "test images IDX file (overrides --data)");
  f.add("test-labels", "", "test labels IDX file (overrides --data)");
}

namespace {
std::filesystem::path pick(const Flags& f, const std::string& flag, const std::string& stem) {
  if (f.given(flag)) return f.str(flag);
  const std::filesystem::path dir = f.str("data");
  if (!std::filesystem::is_directory(dir))
    throw DataError("--data: '" + dir.string() +
                    "' is not a folder; expected one holding the MNIST IDX files (run "
                    "scripts/fetch_mnist.sh, or pass --" + flag + " FILE)");
  return find_idx_file(dir, stem);
}
}  // namespace

Dataset load_train_set(const Flags& f) {
  return load_dataset(pick(f, "train-images", "train-images-idx3-ubyte"),
                      pick(f, "train-labels", "train-labels-idx1-ubyte"));
}

Dataset load_test_set(const Flags& f) {
  return load_dataset(pick(f, "test-images", "t10k-images-idx3-ubyte"),
                      pick(f, "test-labels", "t10k-labels-idx1-ubyte"));
}

int default_threads() {
  // The mask at start-up: after pin_threads() the main thread's own mask holds one CPU.
  const std::vector<int>& cpus = process_cpus();
  if (!cpus.empty()) return static_cast<int>(cpus.size());
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void add_compute_flags(Flags& f, const std::string& conv_algo_auto_help) {
  f.add("threads", std::to_string(default_threads()),
        "worker threads for the kernels (at most the CPUs this process may run on)");
  f.add("backend", "onednn", "kernel back-end: onednn (fast) or reference (plain loops)");
  f.add("conv-algo", conv_algo_auto_help.empty() ? "direct" : "auto",
        "3x3 convolutions on the onednn back-end: direct, winograd (faster, other rounding; "
        "AVX-512 only) or auto (" +
            (conv_algo_auto_help.empty() ? std::string("the fastest this CPU runs") : conv_algo_auto_help) +
            "); `batchscope models` lists the variants this CPU offers");
  f.add("precision", "f32",
        "convolution arithmetic on the onednn back-end: f32, or bf16 inputs with f32 "
        "accumulation and f32 master weights (AVX-512 only)");
}

int clamp_threads(int asked, const char* flag) {
  const int cpus = default_threads();
  if (asked <= cpus) return asked;
  std::fprintf(stderr, "batchscope: warning: %s %d is more than the %d CPUs this process may run on; using %d\n",
               flag, asked, cpus, cpus);
  return cpus;
}

Compute apply_compute_flags(const Flags& f, const std::string& conv_algo_auto) {
  const std::string algo = f.str("conv-algo") == "auto" && conv_algo_auto != "fastest" ? "direct" : f.str("conv-algo");
  const kernels::OpTable& table = kernels::kernel_table(f.str("backend"), algo, f.str("precision"));

  const int t = clamp_threads(static_cast<int>(f.i64("threads", 1, 1024)), "--threads");
  omp_set_num_threads(t);
  // Ranks on one machine share its mask unless mpirun bound them: each takes its own CPUs.
  pin_threads(dist::world().parallel() ? dist::local_rank() * t : 0);
  return {t, &table};
}

int64_t available_memory_bytes() {
  std::FILE* f = std::fopen("/proc/meminfo", "r");
  if (!f) return 0;
  char line[256];
  long long kib = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "MemAvailable: %lld kB", &kib) == 1) break;
  std::fclose(f);
  return static_cast<int64_t>(kib) * 1024;
}

std::string json_line(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void add_schedule_flags(Flags& f, const std::string& default_schedule, bool step_flags) {
  f.add("schedule", default_schedule,
        step_flags ? "learning-rate schedule: constant, step, cosine or onecycle" : "learning-rate schedule: cosine or onecycle");
  if (step_flags) {
    f.add("warmup-steps", "0", "linear learning-rate warm-up over this many steps (not with onecycle)");
    f.add("step-epochs", "1", "step schedule: decay every this many epochs");
    f.add("gamma", "0.1", "step schedule: decay factor");
  }
  f.add("pct-start", "0.3", "onecycle: fraction of the steps spent rising to --lr (torch's OneCycleLR pct_start)");
  f.add("div-factor", "25", "onecycle: start at --lr / this");
  f.add("final-div-factor", "10000", "onecycle: end at --lr / div-factor / this");
  f.add("cycle-momentum", "true", "onecycle: cycle the momentum (SGD) or beta1 (Adam) against the rate (true or false)");
  f.add("base-momentum", "0.85", "onecycle with --cycle-momentum: lowest momentum (at the peak rate)");
  f.add("max-momentum", "0.95", "onecycle with --cycle-momentum: highest momentum (at the start and end)");
}

ScheduleConfig parse_schedule_flags(const Flags& f) {
  ScheduleConfig s;
  s.kind = parse_schedule(f.str("schedule"));
  if (f.has("step-epochs")) {  // add_schedule_flags with step_flags
    s.warmup_steps = f.i64("warmup-steps", 0, int64_t{1} << 40);
    s.step_epochs = f.dbl("step-epochs", 1e-6, 1e9);
    s.gamma = f.dbl("gamma", 0.0, 1.0);
  }
  s.pct_start = f.dbl("pct-start", 1e-6, 0.999999);
  s.div_factor = f.dbl("div-factor", 1.0, 1e9);
  s.final_div_factor = f.dbl("final-div-factor", 1.0, 1e12);
  const std::string cm = f.str("cycle-momentum");
  if (cm != "true" && cm != "false")
    throw UsageError("--cycle-momentum: '" + cm + "' is not a boolean; expected true or false");
  s.cycle_momentum = cm == "true";
  s.base_momentum = f.dbl("base-momentum", 0.0, 0.9999);
  s.max_momentum = f.dbl("max-momentum", 0.0, 0.9999);
  return s;
}

void add_adam_flags(Flags& f) {
  f.add("beta1", "0.9", "Adam: decay of the gradient's running mean");
  f.add("beta2", "0.999", "Adam: decay of the squared gradient's running mean");
}

void parse_adam_flags(const Flags& f, OptimizerConfig& o) {
  o.beta1 = f.dbl("beta1", 0.0, 0.9999);
  o.beta2 = f.dbl("beta2", 0.0, 0.999999);
}

std::string apply_recipe(Flags& f, const std::vector<std::pair<std::string, std::string>>& renamed) {
  const std::string name = f.str("recipe");
  if (name == "none") return "";
  const Recipe& r = find_recipe(name);
  for (const auto& [setting, value] : r.settings) {
    std::string flag = setting;
    for (char& c : flag)
      if (c == '_') c = '-';
    for (const auto& [from, to] : renamed)
      if (from == setting) flag = to;
    if (f.has(flag)) f.set_default(flag, value);
  }
  return r.name;
}

namespace {
thread_local std::string* g_json_capture = nullptr;
}  // namespace

void print_json(const nlohmann::ordered_json& j) {
  if (g_json_capture) *g_json_capture = json_line(j);
  else std::printf("%s\n", json_line(j).c_str());
}

std::string* capture_json(std::string* into) { return std::exchange(g_json_capture, into); }

uint64_t dataset_fingerprint(const Dataset& d) {
  const uint64_t h = dist::fingerprint(d.images.pixels.data(), d.images.pixels.size());
  return dist::fingerprint(d.labels.labels.data(), d.labels.labels.size() * sizeof(d.labels.labels[0]), h);
}

}  // namespace batchscope::cli
