// run_command_json: a subcommand in-process, its --json result captured instead of printed.
#include <pthread.h>
#include <sched.h>

#include <string>
#include <vector>

#include "batchscope/commands.h"
#include "batchscope/error.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace batchscope {

namespace {
// The calling thread's CPU mask, put back on scope exit: the commands pin the thread that runs
// them to one CPU, which would otherwise stay with the caller (a Python interpreter, say).
class SavedAffinity {
 public:
  SavedAffinity() { ok_ = pthread_getaffinity_np(pthread_self(), sizeof set_, &set_) == 0; }
  ~SavedAffinity() {
    if (ok_) pthread_setaffinity_np(pthread_self(), sizeof set_, &set_);
  }
  SavedAffinity(const SavedAffinity&) = delete;
  SavedAffinity& operator=(const SavedAffinity&) = delete;

 private:
  cpu_set_t set_{};
  bool ok_ = false;
};

class JsonCapture {
 public:
  explicit JsonCapture(std::string* into) : previous_(cli::capture_json(into)) {}
  ~JsonCapture() { cli::capture_json(previous_); }
  JsonCapture(const JsonCapture&) = delete;
  JsonCapture& operator=(const JsonCapture&) = delete;

 private:
  std::string* previous_;
};
}  // namespace

std::string run_command_json(const std::string& command, const std::vector<std::string>& flags) {
  int (*run)(int, char**) = nullptr;
  if (command == "sweep") run = cli::cmd_sweep;
  else if (command == "profile") run = cli::cmd_profile;
  else if (command == "peak") run = cli::cmd_peak;
  else if (command == "models") run = cli::cmd_models;
  else
    throw UsageError("command", "'" + command + "' is not a command run this way; expected sweep, profile, peak or models");
  std::vector<std::string> args = flags;
  args.emplace_back("--json");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::string out;
  {
    const SavedAffinity affinity;
    const JsonCapture capture(&out);
    run(static_cast<int>(args.size()), argv.data());
  }
  if (out.empty())
    throw UsageError("batchscope " + command + " gave no result (was --help among the flags?)");
  return out;
}

}  // namespace batchscope
