// Training recipes as data: a model and the settings that train it fast, by name. Each
// setting is named as the API spells it (the CLI's flag with '-' for '_', Python's keyword):
//   batchscope train --recipe fast                 # every setting the recipe has
//   batchscope train --recipe fast --epochs 2      # ... except those given
// `batchscope models` lists them; checkpoints and reports record the recipe's name.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace batchscope {

struct Recipe {
  std::string name;
  std::string description;  // what it is for, and what it measured (docs/training.md)
  // (setting, value): model, batch_size, epochs, optimizer, lr, beta1, beta2, momentum,
  // schedule, pct_start, div_factor, final_div_factor, cycle_momentum, ...
  std::vector<std::pair<std::string, std::string>> settings;
  // The value of a setting, or "" if the recipe leaves it at the default.
  std::string get(std::string_view setting) const;
};

const std::vector<Recipe>& recipes();
// The recipe of that name; UsageError (option "recipe") listing the names otherwise.
const Recipe& find_recipe(std::string_view name);

}  // namespace batchscope
