// batchscope: the command-line entry point. Dispatches to one file per subcommand and turns
// every batchscope::Error into one line on stderr: exit 2 for usage errors, 1 otherwise.
//   batchscope train --data data/mnist --model mnist-cnn --epochs 1
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "batchscope/error.h"
#include "cli/commands.h"
#include "dist/comm.h"

namespace {

void print_usage(FILE* out) {
  std::fputs(
      "usage: batchscope COMMAND [flags]\n\n"
      "Trains convolutional networks on MNIST-class IDX data and measures how batch size\n"
      "shapes training time.\n\n"
      "commands:\n"
      "  train     train a model on an IDX dataset (checkpoints, progress, JSON results)\n"
      "  eval      accuracy, per-class accuracy and confusion matrix of a checkpoint\n"
      "  predict   classify images (IDX or PGM files) with a checkpoint\n"
      "  models    list the built-in networks with parameter counts and FLOPs per image\n"
      "  sweep     training speed per batch size, where the time goes and why it flattens;\n"
      "            with --target-accuracy, time to an accuracy per batch size\n"
      "  profile   one batch size in depth: per layer and phase ms, FLOPs, bytes, % of peak, trace\n"
      "  peak      measured FP32 peak FLOP/s (1 and all threads) and memory bandwidth\n\n"
      "Run 'batchscope COMMAND --help' for a command's flags.\n",
      out);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace batchscope;
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  const std::string cmd = argv[1];
  // With several ranks an error on one leaves the others waiting in a collective: end them all.
  auto fail = [](int code) {
    if (dist::world().parallel()) dist::abort_all(code);
    dist::finalize();
    return code;
  };
  auto done = [](int code) {
    dist::finalize();
    return code;
  };
  try {
    // Before anything is read or written: a build without MPI refuses to run as several ranks.
    dist::init(&argc, &argv);
    if (dist::world().parallel() && cmd != "train" && cmd != "sweep")
      throw UsageError("batchscope " + cmd + " does not run as several MPI ranks (only train and sweep are "
                       "data-parallel); run it as one process");
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      print_usage(stdout);
      return done(0);
    }
    if (cmd == "--version") {
      std::printf("batchscope %s\n", BATCHSCOPE_VERSION);
      return done(0);
    }
    if (cmd == "train") return done(cli::cmd_train(argc - 2, argv + 2));
    if (cmd == "eval") return done(cli::cmd_eval(argc - 2, argv + 2));
    if (cmd == "predict") return done(cli::cmd_predict(argc - 2, argv + 2));
    if (cmd == "models") return done(cli::cmd_models(argc - 2, argv + 2));
    if (cmd == "sweep") return done(cli::cmd_sweep(argc - 2, argv + 2));
    if (cmd == "peak") return done(cli::cmd_peak(argc - 2, argv + 2));
    if (cmd == "profile") return done(cli::cmd_profile(argc - 2, argv + 2));
    throw UsageError("unknown command '" + cmd +
                     "'; expected train, eval, predict, models, sweep, profile or peak");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "error: %s\n", option_message(e, /*flag_style=*/true).c_str());
    return fail(2);
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return fail(1);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory\n");
    return fail(1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error: %s\n", e.what());
    return fail(1);
  }
}
