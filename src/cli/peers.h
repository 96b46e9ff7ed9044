// Runs the peer implementations (python/numpy_cnn.py, python/torch_cnn.py) over the sweep's
// batch sizes as subprocesses and reads their one-JSON-object-per-line results. A peer whose
// Python package is missing (exit status 3) or that fails is skipped with a note.
//   PeerRun p = run_peer("numpy", {.python = "python3", .script_dir = dir, ...});
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "report/sweep_report.h"

namespace batchscope::cli {

struct PeerOptions {
  std::string python;                  // interpreter
  std::filesystem::path script_dir;    // holds numpy_cnn.py and torch_cnn.py
  int threads = 1;
  int64_t images = 1024;               // per batch size
  std::vector<int64_t> batches;
  std::string data_dir;                // "" = random inputs of MNIST's shape
  bool quiet = false;
};

// "numpy,torch" → {"numpy", "torch"}; UsageError naming --compare otherwise.
std::vector<std::string> parse_peer_list(const std::string& s);
// The folder with the peer scripts: python/ beside the binary's folder (build/ in a checkout).
std::filesystem::path default_peer_dir();
// The interpreter Debian's python3-numpy and python3-torch are installed for.
std::string default_python();

report::PeerRun run_peer(const std::string& peer, const PeerOptions& o);

}  // namespace batchscope::cli
