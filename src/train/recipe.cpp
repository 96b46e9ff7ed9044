// The recipes `--recipe NAME` selects (batchscope/recipe.h). Their measured effect is in
// docs/training.md; change a recipe only with a new measurement there.
#include "batchscope/recipe.h"

#include "batchscope/error.h"

namespace batchscope {

std::string Recipe::get(std::string_view setting) const {
  for (const auto& [k, v] : settings)
    if (k == setting) return v;
  return "";
}

const std::vector<Recipe>& recipes() {
  static const std::vector<Recipe> all = {
      {"fast",
       "a small CNN (~7.5 MFLOP per trained image), Adam and a one-cycle schedule over 2 epochs: 99% test "
       "accuracy after 1.4-1.7 epochs on every seed tried",
       {{"model", "conv2d:24:5,maxpool2d:2,relu,conv2d:32:3,maxpool2d:2,relu,flatten,dense:256,relu,dense:10"},
        {"batch_size", "256"},
        // One epoch reaches 98.9-99.1% (half the seeds pass 99.0%); two are the horizon that
        // gets every seed there (docs/training.md).
        {"epochs", "2"},
        {"optimizer", "adam"},
        {"lr", "0.01"},
        {"beta1", "0.7"},
        {"beta2", "0.9"},
        {"schedule", "onecycle"},
        {"pct_start", "0.25"},
        // beta1 stays 0.7: cycling it (as OneCycleLR does by default) would override it.
        {"cycle_momentum", "false"}}},
      {"mnist-cnn",
       "the mnist-cnn preset with the command line's defaults: SGD, Nesterov momentum 0.9, cosine schedule, "
       "batch 64",
       {{"model", "mnist-cnn"}, {"batch_size", "64"}, {"epochs", "1"}, {"optimizer", "sgd"}, {"schedule", "cosine"}}},
  };
  return all;
}

const Recipe& find_recipe(std::string_view name) {
  std::string names;
  for (const Recipe& r : recipes()) {
    if (r.name == name) return r;
    names += (names.empty() ? "" : ", ") + r.name;
  }
  throw UsageError("recipe", "'" + std::string(name) + "' is not a recipe; expected one of " + names +
                                 " (batchscope models lists them)");
}

}  // namespace batchscope
