// Launching the sweep at other rank counts under mpirun (see sweep_ranks.h).
#include "cli/sweep_ranks.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "batchscope/error.h"
#include "core/cpu_flags.h"
#include "report/table.h"

namespace batchscope::cli {

std::vector<int> parse_rank_counts(const std::string& s) {
  std::vector<int> out;
  size_t start = 0;
  while (true) {
    const size_t comma = s.find(',', start);
    const std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    int v = 0;
    auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || ptr != item.data() + item.size() || v < 1 || v > 4096)
      throw UsageError("--ranks: '" + item + "' in '" + s + "' is not a rank count from 1 to 4096; expected a "
                       "comma-separated list like 1,2");
    if (std::find(out.begin(), out.end(), v) != out.end()) throw UsageError("--ranks: " + item + " is listed twice");
    out.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string default_mpirun() {
#if BATCHSCOPE_HAVE_MPI
  // The launcher found at build time belongs to the MPI the binary links.
  if (std::filesystem::exists(BATCHSCOPE_MPIEXEC)) return BATCHSCOPE_MPIEXEC;
  return "mpirun";
#else
  return "";
#endif
}

namespace {

// Runs argv[0] with argv, stdout captured, stderr passed through; returns the exit code
// (128 + signal if killed, 127 if it could not start).
int run_capturing(const std::vector<std::string>& argv, std::string* out) {
  int fds[2];
  if (::pipe(fds) != 0) throw Error(std::string("sweep --ranks: pipe: ") + std::strerror(errno));
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  {
    // mpirun places the ranks on every CPU, not on the one this thread is pinned to; the
    // child execs inside this scope, before the mask would be narrowed again.
    const UnpinnedForChildren unpinned;
    pid = ::fork();
    if (pid == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      ::execvp(args[0], args.data());
      std::fprintf(stderr, "error: sweep --ranks: cannot run '%s': %s\n", args[0], std::strerror(errno));
      ::_exit(127);
    }
  }
  if (pid < 0) throw Error(std::string("sweep --ranks: fork: ") + std::strerror(errno));
  ::close(fds[1]);
  char buf[65536];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

std::string shell_words(const std::vector<std::string>& argv) {
  std::string s;
  for (const std::string& a : argv) {
    const bool plain = !a.empty() && a.find_first_of(" \t\n'\"\\$`*?;&|<>()") == std::string::npos;
    s += (s.empty() ? "" : " ") + (plain ? a : "'" + a + "'");
  }
  return s;
}

}  // namespace

report::RankRun launch_rank_sweep(int ranks, const RankLaunch& o) {
  report::RankRun run;
  run.ranks = ranks;
  run.threads_per_rank = std::max(1, o.total_threads / ranks);
  std::vector<int64_t> batches;
  for (int64_t b : o.batches) (b % ranks == 0 ? batches : run.skipped).push_back(b);
  if (batches.empty()) {
    run.note = "not run: no batch size is a multiple of " + std::to_string(ranks);
    return run;
  }
  if (o.mpirun.empty()) {
    run.note = "not run: this build has no MPI (install libopenmpi-dev and rebuild)";
    return run;
  }
  std::string list;
  for (int64_t b : batches) list += (list.empty() ? "" : ",") + std::to_string(b);
  std::vector<std::string> argv = {o.mpirun, "-np", std::to_string(ranks), "--oversubscribe"};
  // OpenMPI refuses root unless told; the README's commands run as root on a fresh machine.
  if (::geteuid() == 0) argv.push_back("--allow-run-as-root");
  argv.insert(argv.end(), o.mpirun_args.begin(), o.mpirun_args.end());
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  argv.push_back(ec ? std::string("batchscope") : self.string());
  argv.push_back("sweep");
  for (const auto& [name, value] : o.flags) argv.push_back("--" + name + "=" + value);
  argv.insert(argv.end(), {"--batch-sizes", list, "--threads", std::to_string(run.threads_per_rank), "--peak",
                           report::fmt("%.17g:%.17g", o.peak_gflops, o.peak_gbs), "--ranks", std::to_string(ranks),
                           "--json", "--quiet"});
  const std::string shown = shell_words(argv);
  if (!o.quiet) {
    std::fprintf(stderr, "sweep: %d ranks x %d thread%s: %s\n", ranks, run.threads_per_rank,
                 run.threads_per_rank == 1 ? "" : "s", shown.c_str());
    std::fflush(stderr);
  }
  std::string out;
  const int code = run_capturing(argv, &out);
  if (code != 0) {
    run.note = "failed: mpirun exited with status " + std::to_string(code) + " (its messages are above): " + shown;
    return run;
  }
  try {
    const nlohmann::json j = nlohmann::json::parse(out);
    const nlohmann::json& r = j.at("ranks").at("runs").at(0);
    for (const nlohmann::json& row : r.at("results")) run.rows.push_back(report::row_from_json(row));
    for (const nlohmann::json& p : r.at("allreduce_probe"))
      run.probe.push_back({p.at("bytes").get<int64_t>(), p.at("seconds").get<double>(), p.at("repetitions").get<int64_t>()});
    run.gradient_bytes = r.at("gradient_bytes").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    run.rows.clear();
    run.note = std::string("failed: the ranks' report did not parse (") + e.what() + "): " + shown;
    return run;
  }
  run.fit = fit_allreduce(run.probe);
  run.ran = true;
  run.note = "launched as: " + shown;
  return run;
}

}  // namespace batchscope::cli
