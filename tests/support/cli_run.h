// Running the built batchscope binary from tests: exit code, stdout and stderr, and the
// check every failing run must pass (one "error: ..." line naming what went wrong).
#pragma once
#include <string>
#include <vector>

#include "support/synthetic.h"

namespace batchscope::testing {

struct RunResult {
  int code;
  std::string out, err;
};

std::string slurp(const std::string& file);

// Runs `batchscope ARGS` with no stdin; output goes through files in tmp.
RunResult run_cli(const TempDir& tmp, const std::string& args);

// The exit code, exactly one line on stderr starting "error: ", containing every phrase.
void expect_cli_error(const RunResult& r, int code, const std::vector<std::string>& phrases);

}  // namespace batchscope::testing
