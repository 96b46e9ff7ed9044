// Peer subprocesses for `sweep --compare` (see peers.h).
#include "cli/peers.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "batchscope/error.h"
#include "core/cpu_flags.h"

namespace batchscope::cli {

namespace {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

}  // namespace

std::vector<std::string> parse_peer_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    const std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item != "numpy" && item != "torch")
      throw UsageError("--compare: '" + item + "' is not a peer; expected a comma-separated list of numpy and torch");
    for (const std::string& seen : out)
      if (seen == item) throw UsageError("--compare: " + item + " is listed twice");
    out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::filesystem::path default_peer_dir() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "python";
  return exe.parent_path().parent_path() / "python";
}

std::string default_python() {
  // Debian installs python3-numpy and python3-torch for the system interpreter; a python3
  // earlier on PATH (a virtualenv, pyenv) may not see them.
  return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

report::PeerRun run_peer(const std::string& peer, const PeerOptions& o) {
  report::PeerRun run;
  run.peer = peer;
  const std::filesystem::path script = o.script_dir / (peer + "_cnn.py");
  if (!std::filesystem::exists(script)) {
    run.note = "skipped: " + script.string() + " not found (set --peers-dir)";
    return run;
  }
  std::string cmd = shell_quote(o.python) + " " + shell_quote(script.string()) + " --threads " +
                    std::to_string(o.threads) + " --images " + std::to_string(o.images) + " --batch-sizes " +
                    join(o.batches);
  if (!o.data_dir.empty()) cmd += " --data " + shell_quote(o.data_dir);
  cmd += " 2>&1";
  if (!o.quiet) std::fprintf(stderr, "sweep: running the %s peer: %s\n", peer.c_str(), cmd.c_str());
  FILE* pipe = nullptr;
  {
    const UnpinnedForChildren unpinned;  // the peer's threads get every CPU, not this thread's one
    pipe = ::popen(cmd.c_str(), "r");
  }
  if (!pipe) {
    run.note = "skipped: could not start " + o.python;
    return run;
  }
  std::string line, last_message, version;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe)) {
    line += buf;
    if (line.empty() || line.back() != '\n') continue;
    line.pop_back();
    if (!line.empty() && line.front() == '{') {
      try {
        const nlohmann::json j = nlohmann::json::parse(line);
        report::PeerRow r;
        r.batch = j.at("batch_size").get<int64_t>();
        r.images = j.at("images").get<int64_t>();
        r.ms_per_iteration = j.at("ms_per_iteration").get<double>();
        r.images_per_second = j.at("images_per_second").get<double>();
        r.seconds_per_epoch = j.at("seconds_per_epoch").get<double>();
        version = j.value("version", "");
        run.rows.push_back(r);
        if (!o.quiet)
          std::fprintf(stderr, "sweep: %s batch %lld: %.1f img/s, %.3f ms/it\n", peer.c_str(),
                       static_cast<long long>(r.batch), r.images_per_second, r.ms_per_iteration);
      } catch (const std::exception& e) {
        last_message = "unreadable result line: " + line;
      }
    } else if (!line.empty()) {
      last_message = line;
      if (!o.quiet) std::fprintf(stderr, "  %s: %s\n", peer.c_str(), line.c_str());
    }
    line.clear();
  }
  const int status = ::pclose(pipe);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.ran = !run.rows.empty();
  if (code == 3)
    run.note = "skipped: " + last_message;
  else if (code != 0)
    run.note = (run.ran ? "incomplete (exit " : "skipped: failed (exit ") + std::to_string(code) + "): " + last_message;
  else
    run.note = (peer == "numpy" ? "NumPy " : "PyTorch ") + version + ", " + std::to_string(o.threads) +
               " threads, " + std::to_string(o.images) + " images per batch size";
  return run;
}

}  // namespace batchscope::cli
