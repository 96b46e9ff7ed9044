// Parsed arguments of one spec token ("conv2d:32:3:stride=2"): positional values and
// key=value pairs, with typed getters that throw ShapeError naming the token.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "batchscope/tensor.h"

namespace batchscope {

class LayerArgs {
 public:
  // token: the whole spec token, used in messages; kind: the part before the first ':'.
  static LayerArgs parse(const std::string& token);

  const std::string& kind() const { return kind_; }
  const std::string& token() const { return token_; }
  // The i-th positional argument, or the named one, or `fallback` if neither is given
  // (required = true: a missing value is an error).
  int64_t get_int(size_t pos, const std::string& key, int64_t fallback, bool required,
                  int64_t min_value) const;
  double get_double(size_t pos, const std::string& key, double fallback, double lo,
                    double hi_exclusive) const;
  // Throws if more positional args than max_positional, or a key outside `keys`.
  void check_known(size_t max_positional, const std::vector<std::string>& keys) const;

 private:
  const std::string* find(size_t pos, const std::string& key) const;
  std::string token_, kind_;
  std::vector<std::string> positional_;
  std::map<std::string, std::string> named_;
};

// Factory test configurations share this: one layer built from a spec token.
struct LayerTestConfig {
  std::string token;     // e.g. "conv2d:3:3:stride=2:pad=1"
  Shape in_sample;       // e.g. [2,7,6]
};

}  // namespace batchscope
