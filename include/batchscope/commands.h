// The command-line tool's subcommands as library calls, for front-ends such as the Python
// module: each runs in this process as `batchscope COMMAND FLAGS... --json` would and returns
// the JSON object that command prints. Progress lines still go to stderr; nothing goes to stdout.
//   std::string j = run_command_json("peak", {"--threads", "2"});
#pragma once
#include <string>
#include <vector>

namespace batchscope {

// command: sweep, profile, peak or models. flags: as on the command line ("--batch-sizes",
// "16,64"); "--json" is added. The calling thread's CPU affinity is restored afterwards (the
// commands pin their threads). Throws UsageError for another command, and whatever the command
// throws: its messages name the flags as the command line spells them.
std::string run_command_json(const std::string& command, const std::vector<std::string>& flags);

}  // namespace batchscope
