// One function per subcommand; each parses its own flags (argv excludes the command name)
// and returns the process exit code. Errors are thrown, never printed here.
#pragma once

namespace batchscope::cli {

int cmd_train(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_predict(int argc, char** argv);
int cmd_models(int argc, char** argv);
int cmd_sweep(int argc, char** argv);
int cmd_peak(int argc, char** argv);
int cmd_profile(int argc, char** argv);

}  // namespace batchscope::cli
