// `batchscope models`: the built-in networks with their parameter counts and work per image.
//   batchscope models [--json]
#include <cstdio>

#include "batchscope/model.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "kernels/kernels.h"

namespace batchscope::cli {

int cmd_models(int argc, char** argv) {
  Flags f("models", "[flags]",
          "Lists the preset networks for 28x28 grey images and 10 classes. FLOPs count a\n"
          "multiply-add as 2; a trained image costs about 3x the forward pass (forward,\n"
          "backward-data, backward-weights).");
  f.add_bool("json", "print a JSON array on stdout");
  if (!f.parse(argc, argv)) return 0;
  const bool json = f.boolean("json");
  if (json) std::printf("[");
  else
    std::printf("%-10s %12s %14s %16s  %s\n", "name", "parameters", "MFLOP forward",
                "MFLOP trained", "spec");
  bool first = true;
  for (const auto& p : presets()) {
    Model m(p.spec, Shape{1, 28, 28}, 10, kernels::Backend::Reference, 0);
    const double fwd = 2e-6 * static_cast<double>(m.macs_per_sample());
    if (json) {
      std::printf("%s{\"name\":\"%s\",\"parameters\":%lld,\"mflop_forward\":%.3f,"
                  "\"mflop_trained\":%.3f,\"spec\":\"%s\",\"description\":\"%s\"}",
                  first ? "" : ",", std::string(p.name).c_str(),
                  static_cast<long long>(m.num_params()), fwd, 3 * fwd, m.spec().c_str(),
                  json_escape(std::string(p.description)).c_str());
    } else {
      std::printf("%-10s %12lld %14.2f %16.2f  %s\n", std::string(p.name).c_str(),
                  static_cast<long long>(m.num_params()), fwd, 3 * fwd, std::string(p.spec).c_str());
    }
    first = false;
  }
  if (json) std::printf("]\n");
  else
    std::printf("\nAny layer sequence works as --model, e.g. --model "
                "conv2d:16:5:pad=2,relu,maxpool2d:2,flatten,dense:10 (see docs/model-spec.md).\n");
  return 0;
}

}  // namespace batchscope::cli
