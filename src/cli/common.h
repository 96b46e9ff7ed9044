// Pieces shared by the subcommands: dataset flags, thread set-up, resolved-config banner.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "batchscope/idx.h"
#include "batchscope/optimizer.h"
#include "cli/flags.h"
#include "kernels/kernels.h"

namespace batchscope::cli {

// Declares --data, --train-images, --train-labels, --test-images, --test-labels.
void add_data_flags(Flags& f, bool with_train);
// Loads the training (with_train) or test set named by the flags; --data DIR finds the
// standard file names (plain or .gz) in DIR.
Dataset load_train_set(const Flags& f);
// FNV-1a over the pixels and labels: what data-parallel ranks compare before training.
uint64_t dataset_fingerprint(const Dataset& d);
Dataset load_test_set(const Flags& f);

// Declares --threads (default: all cores), --backend, --conv-algo and --precision. A command
// whose best convolution algorithm depends on what it is asked to do passes an "auto" help
// text: --conv-algo then defaults to auto, which apply_compute_flags resolves.
void add_compute_flags(Flags& f, const std::string& conv_algo_auto_help = "");

// What the compute flags resolved to.
struct Compute {
  int threads;                    // OpenMP threads, pinned one per allowed CPU
  const kernels::OpTable* ops;    // the kernel variant every model of the command uses
};
// Applies --threads to OpenMP (and so to oneDNN; threads pinned). More threads than CPUs this
// process may run on are clamped to that count with a one-line warning on stderr: oversubscribed
// OpenMP barriers wait whole time slices (250x slower at --threads 999). Resolves --backend,
// --conv-algo and --precision to one table; --conv-algo auto becomes `conv_algo_auto`:
// "direct", or "fastest" (the fastest algorithm this CPU runs). UsageError (exit 2) for a
// variant this CPU lacks, naming the flag, the CPU feature and what to use instead.
Compute apply_compute_flags(const Flags& f, const std::string& conv_algo_auto = "fastest");
// The number of threads to run: `asked`, or the CPUs this process may run on if fewer, with
// a warning naming both numbers and `flag`.
int clamp_threads(int asked, const char* flag);

// --schedule (default `default_schedule`) and what each schedule takes: --warmup-steps,
// --step-epochs, --gamma, and for onecycle --pct-start, --div-factor, --final-div-factor,
// --cycle-momentum, --base-momentum, --max-momentum; and Adam's --beta1, --beta2.
// step_flags false: no --warmup-steps, --step-epochs, --gamma (sweep --target-accuracy has its own warm-up).
void add_schedule_flags(Flags& f, const std::string& default_schedule, bool step_flags = true);
ScheduleConfig parse_schedule_flags(const Flags& f);
void add_adam_flags(Flags& f);
void parse_adam_flags(const Flags& f, OptimizerConfig& o);
// --recipe NAME: its settings become the defaults of the flags not given (a setting's flag is
// its name with '-' for '_', or `renamed`'s). Returns the recipe's name, "" for --recipe none.
std::string apply_recipe(Flags& f, const std::vector<std::pair<std::string, std::string>>& renamed = {});

// One JSON document on one line; bytes that are not UTF-8 (a file name can hold any) become
// U+FFFD instead of an exception.
std::string json_line(const nlohmann::ordered_json& j);
// A command's --json result: one line on stdout, or, while capture_json is active on this
// thread (run_command_json, for the Python module), into the capturing string instead.
void print_json(const nlohmann::ordered_json& j);
// Sends this thread's print_json output to *into (null: back to stdout); returns the previous
// target so that captures nest.
std::string* capture_json(std::string* into);
// MemAvailable from /proc/meminfo in bytes, or 0 if it cannot be read.
int64_t available_memory_bytes();
// Default thread count: the cores this process may run on.
int default_threads();

}  // namespace batchscope::cli
