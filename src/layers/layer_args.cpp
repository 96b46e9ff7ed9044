// Spec-token parsing: "kind[:arg]..." where each arg is a number or key=value.
#include "layers/layer_args.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "batchscope/error.h"

namespace batchscope {

namespace {
std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) return out;
    start = p + 1;
  }
}
}  // namespace

LayerArgs LayerArgs::parse(const std::string& token) {
  LayerArgs a;
  a.token_ = token;
  std::vector<std::string> parts = split(token, ':');
  a.kind_ = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    if (p.empty()) throw ShapeError("model spec: layer '" + token + "' has an empty argument");
    size_t eq = p.find('=');
    if (eq == std::string::npos) {
      if (!a.named_.empty())
        throw ShapeError("model spec: layer '" + token + "': positional argument '" + p +
                         "' after a key=value argument");
      a.positional_.push_back(p);
    } else {
      std::string key = p.substr(0, eq);
      if (a.named_.count(key))
        throw ShapeError("model spec: layer '" + token + "': '" + key + "' given twice");
      a.named_[key] = p.substr(eq + 1);
    }
  }
  return a;
}

const std::string* LayerArgs::find(size_t pos, const std::string& key) const {
  auto it = named_.find(key);
  if (it != named_.end()) {
    if (pos < positional_.size())
      throw ShapeError("model spec: layer '" + token_ + "': '" + key +
                       "' given both by position and by name");
    return &it->second;
  }
  if (pos < positional_.size()) return &positional_[pos];
  return nullptr;
}

int64_t LayerArgs::get_int(size_t pos, const std::string& key, int64_t fallback, bool required,
                           int64_t min_value) const {
  const std::string* v = find(pos, key);
  if (!v) {
    if (required)
      throw ShapeError("model spec: layer '" + token_ + "' needs " + key);
    return fallback;
  }
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || ptr != v->data() + v->size())
    throw ShapeError("model spec: layer '" + token_ + "': " + key + " '" + *v +
                     "' is not an integer");
  if (out < min_value || out > (int64_t{1} << 24))
    throw ShapeError("model spec: layer '" + token_ + "': " + key + " " + *v +
                     " is out of range; expected " + std::to_string(min_value) + " to " +
                     std::to_string(int64_t{1} << 24));
  return out;
}

double LayerArgs::get_double(size_t pos, const std::string& key, double fallback, double lo,
                             double hi_exclusive) const {
  const std::string* v = find(pos, key);
  if (!v) return fallback;
  char* end = nullptr;
  double out = std::strtod(v->c_str(), &end);
  if (v->empty() || end != v->c_str() + v->size() || !std::isfinite(out))
    throw ShapeError("model spec: layer '" + token_ + "': " + key + " '" + *v +
                     "' is not a number");
  if (out < lo || out >= hi_exclusive)
    throw ShapeError("model spec: layer '" + token_ + "': " + key + " " + *v +
                     " is out of range; expected [" + std::to_string(lo) + ", " +
                     std::to_string(hi_exclusive) + ")");
  return out;
}

void LayerArgs::check_known(size_t max_positional, const std::vector<std::string>& keys) const {
  if (positional_.size() > max_positional)
    throw ShapeError("model spec: layer '" + token_ + "' takes at most " +
                     std::to_string(max_positional) + " positional argument(s); got " +
                     std::to_string(positional_.size()));
  for (const auto& [k, v] : named_) {
    bool ok = false;
    for (const auto& known : keys) ok |= (k == known);
    if (!ok) {
      std::string list;
      for (const auto& known : keys) list += (list.empty() ? "" : ", ") + known;
      throw ShapeError("model spec: layer '" + token_ + "': unknown argument '" + k +
                       "'; expected one of: " + (list.empty() ? "(none)" : list));
    }
  }
}

}  // namespace batchscope
