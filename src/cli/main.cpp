// batchscope: the command-line entry point. Dispatches to one file per subcommand and turns
// every batchscope::Error into one line on stderr: exit 2 for usage errors, 1 otherwise.
//   batchscope train --data data/mnist --model mnist-cnn --epochs 1
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <utility>

#include "batchscope/error.h"
#include "cli/commands.h"

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

// A launcher's world size from its environment: OpenMPI's mpirun (OMPI_COMM_WORLD_SIZE),
// MPICH/Hydra and Intel MPI (PMI_SIZE). 0 when not started by one.
struct Launch {
  long size = 0, rank = 0;
  const char* var = "";
};
Launch mpi_launch() {
  const std::pair<const char*, const char*> vars[] = {{"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"},
                                                       {"PMI_SIZE", "PMI_RANK"}};
  for (auto [size_var, rank_var] : vars)
    if (const char* v = std::getenv(size_var)) {
      const char* r = std::getenv(rank_var);
      return {std::strtol(v, nullptr, 10), r ? std::strtol(r, nullptr, 10) : 0, size_var};
    }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace batchscope;
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  const std::string cmd = argv[1];
  // Started as one of several MPI ranks: this build trains in one process only, and R
  // independent runs would each train the same model and overwrite each other's checkpoint
  // and reports. Refuse before anything is read or written.
  if (const Launch l = mpi_launch(); l.size > 1) {
    std::fprintf(stderr,
                 "error: batchscope was started as rank %ld of %ld MPI processes (%s=%ld), but this build "
                 "has no data-parallel training: %ld independent runs would overwrite each other's outputs; "
                 "run one process (without mpirun, or with -np 1)\n",
                 l.rank, l.size, l.var, l.size, l.size);
    return 2;
  }
  try {
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      print_usage(stdout);
      return 0;
    }
    if (cmd == "--version") {
      std::printf("batchscope %s\n", BATCHSCOPE_VERSION);
      return 0;
    }
    if (cmd == "train") return cli::cmd_train(argc - 2, argv + 2);
    if (cmd == "eval") return cli::cmd_eval(argc - 2, argv + 2);
    if (cmd == "predict") return cli::cmd_predict(argc - 2, argv + 2);
    if (cmd == "models") return cli::cmd_models(argc - 2, argv + 2);
    if (cmd == "sweep") return cli::cmd_sweep(argc - 2, argv + 2);
    if (cmd == "peak") return cli::cmd_peak(argc - 2, argv + 2);
    if (cmd == "profile") return cli::cmd_profile(argc - 2, argv + 2);
    throw UsageError("unknown command '" + cmd +
                     "'; expected train, eval, predict, models, sweep, profile or peak");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error: %s\n", e.what());
    return 1;
  }
}
