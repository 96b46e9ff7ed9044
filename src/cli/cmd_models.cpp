// `batchscope models`: the built-in networks with their parameter counts and work per image,
// and the kernel variants (back-end x convolution algorithm x precision) this CPU offers.
//   batchscope models [--json]
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "batchscope/model.h"
#include "batchscope/recipe.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "kernels/kernels.h"

namespace batchscope::cli {

namespace {

// The flags that select a variant, as a user would type them.
std::string flags_for(const kernels::OpTable& t) {
  if (t.backend == kernels::Backend::Reference) return "--backend reference";
  std::string s;
  if (t.conv_algo == kernels::ConvAlgo::Winograd) s += "--conv-algo winograd";
  if (t.precision == kernels::Precision::Bf16) s += std::string(s.empty() ? "" : " ") + "--precision bf16";
  return s.empty() ? "(default)" : s;
}

}  // namespace

int cmd_models(int argc, char** argv) {
  Flags f("models", "[flags]",
          "Lists the preset networks for 28x28 grey images and 10 classes. FLOPs count a\n"
          "multiply-add as 2; a trained image costs about 3x the forward pass (forward,\n"
          "backward-data, backward-weights). Then the kernel variants this build knows and\n"
          "whether this CPU runs them (oneDNN's Winograd and bf16 convolutions need AVX-512).");
  f.add_bool("json", "print one JSON object {models, kernel_variants} on stdout");
  if (!f.parse(argc, argv)) return 0;
  const bool json = f.boolean("json");
  nlohmann::ordered_json models = nlohmann::ordered_json::array();
  if (!json)
    std::printf("%-10s %12s %14s %16s  %s\n", "name", "parameters", "MFLOP forward",
                "MFLOP trained", "spec");
  for (const auto& p : presets()) {
    Model m(p.spec, Shape{1, 28, 28}, 10, kernels::Backend::Reference, 0);
    const double fwd = 2e-6 * static_cast<double>(m.macs_per_sample());
    if (json) {
      models.push_back({{"name", p.name}, {"parameters", m.num_params()}, {"mflop_forward", fwd},
                        {"mflop_trained", 3 * fwd}, {"spec", m.spec()}, {"description", p.description}});
    } else {
      std::printf("%-10s %12lld %14.2f %16.2f  %s\n", std::string(p.name).c_str(),
                  static_cast<long long>(m.num_params()), fwd, 3 * fwd, std::string(p.spec).c_str());
    }
  }
  // Recipes: a model with the settings that train it (--recipe NAME on train and sweep).
  nlohmann::ordered_json recipe_list = nlohmann::ordered_json::array();
  if (!json) std::printf("\nRecipes (--recipe NAME on train and sweep; flags given override each setting):\n");
  for (const Recipe& r : recipes()) {
    if (json) {
      nlohmann::ordered_json settings = nlohmann::ordered_json::object();
      for (const auto& [k, v] : r.settings) settings[k] = v;
      recipe_list.push_back({{"name", r.name}, {"description", r.description}, {"settings", settings}});
      continue;
    }
    std::string settings;
    for (const auto& [k, v] : r.settings)
      if (k != "model") settings += (settings.empty() ? "" : " ") + k + "=" + v;
    std::printf("%-10s %s\n           model %s\n           %s\n", r.name.c_str(), r.description.c_str(),
                r.get("model").c_str(), settings.c_str());
  }
  nlohmann::ordered_json variants = nlohmann::ordered_json::array();
  if (!json)
    std::printf("\nAny layer sequence works as --model, e.g. --model "
                "conv2d:16:5:pad=2,relu,maxpool2d:2,flatten,dense:10 (see docs/model-spec.md).\n\n"
                "Kernel variants on this CPU (oneDNN dispatches to %s; block: the channel block of the\n"
                "activations between its convolutions, 0 plain):\n%-22s %-9s %-9s %5s %-40s %s\n",
                kernels::onednn_isa().c_str(), "name", "conv", "precision", "block", "flags", "offered");
  for (const kernels::Variant& v : kernels::variants()) {
    const kernels::OpTable& t = *v.table;
    if (json) {
      variants.push_back({{"name", t.name}, {"conv_algo", kernels::to_string(t.conv_algo)},
                          {"precision", kernels::to_string(t.precision)}, {"flags", flags_for(t)},
                          {"supported", v.supported}, {"activation_block", v.activation_block},
                          {"needs", v.needs}, {"why_not", v.why_not}});
    } else {
      std::printf("%-22s %-9s %-9s %5lld %-40s %s\n", std::string(t.name).c_str(),
                  std::string(kernels::to_string(t.conv_algo)).c_str(),
                  std::string(kernels::to_string(t.precision)).c_str(),
                  static_cast<long long>(v.activation_block), flags_for(t).c_str(),
                  v.supported ? "yes" : ("no: needs " + std::string(v.needs) + "; " + v.why_not).c_str());
    }
  }
  if (json) {
    const nlohmann::ordered_json j = {{"models", models},
                                      {"recipes", recipe_list},
                                      {"onednn_isa", kernels::onednn_isa()},
                                      {"kernel_variants", variants}};
    print_json(j);
  }
  return 0;
}

}  // namespace batchscope::cli
