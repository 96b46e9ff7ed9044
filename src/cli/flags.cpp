// Flag parser implementation.
#include "cli/flags.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "batchscope/error.h"

namespace batchscope::cli {

Flags::Flags(std::string command, std::string usage, std::string summary)
    : command_(std::move(command)), usage_(std::move(usage)), summary_(std::move(summary)) {}

void Flags::add(const std::string& name, const std::string& default_value,
                const std::string& help) {
  order_.push_back(name);
  flags_[name] = Flag{default_value, help, default_value, false, false};
}

void Flags::add_bool(const std::string& name, const std::string& help) {
  order_.push_back(name);
  flags_[name] = Flag{"", help, "", true, false};
}

bool Flags::parse(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(help().c_str(), stdout);
      return false;
    }
    if (a.rfind("--", 0) != 0) {
      if (a.size() > 1 && a[0] == '-')
        throw UsageError("batchscope " + command_ + ": unknown option '" + a +
                         "'; flags are long, like --batch-size (see --help)");
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto it = flags_.find(name);
    if (it == flags_.end())
      throw UsageError("batchscope " + command_ + ": unknown flag '--" + name + "' (see --help)");
    Flag& f = it->second;
    if (f.set) throw UsageError("--" + name + ": given more than once");
    if (f.is_bool) {
      if (has_value) {
        if (value != "true" && value != "false" && value != "1" && value != "0")
          throw UsageError("--" + name + ": '" + value + "' is not a boolean; expected true or false");
        f.value = (value == "true" || value == "1") ? "1" : "";
      } else {
        f.value = "1";
      }
    } else {
      if (!has_value) {
        if (i + 1 >= argc) throw UsageError("--" + name + ": missing value");
        value = argv[++i];
      }
      f.value = value;
    }
    f.set = true;
  }
  return true;
}

const Flags::Flag& Flags::get(const std::string& name) const {
  auto it = flags_.find(name);
  BS_CHECK(it != flags_.end(), "undeclared flag --" + name);
  return it->second;
}

bool Flags::given(const std::string& name) const { return get(name).set; }

void Flags::set_default(const std::string& name, const std::string& value) {
  auto it = flags_.find(name);
  BS_CHECK(it != flags_.end(), "undeclared flag --" + name);
  if (!it->second.set) it->second.value = value;
}

std::vector<std::pair<std::string, std::string>> Flags::given_values() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& name : order_) {
    const Flag& f = get(name);
    if (f.set) out.emplace_back(name, f.is_bool ? (f.value.empty() ? "false" : "true") : f.value);
  }
  return out;
}
std::string Flags::str(const std::string& name) const { return get(name).value; }
bool Flags::boolean(const std::string& name) const { return !get(name).value.empty(); }

int64_t Flags::i64(const std::string& name, int64_t lo, int64_t hi) const {
  const std::string& v = get(name).value;
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || ptr != v.data() + v.size())
    throw UsageError("--" + name + ": '" + v + "' is not an integer");
  if (out < lo || out > hi)
    throw UsageError("--" + name + ": " + v + " is out of range; expected " + std::to_string(lo) +
                     " to " + std::to_string(hi));
  return out;
}

double Flags::dbl(const std::string& name, double lo, double hi) const {
  const std::string& v = get(name).value;
  char* end = nullptr;
  errno = 0;
  double out = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(out))
    throw UsageError("--" + name + ": '" + v + "' is not a number");
  if (out < lo || out > hi) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "--%s: %s is out of range; expected %g to %g", name.c_str(),
                  v.c_str(), lo, hi);
    throw UsageError(buf);
  }
  return out;
}

std::string Flags::help() const {
  std::string s = "usage: batchscope " + command_ + " " + usage_ + "\n\n" + summary_ + "\n\nflags:\n";
  for (const auto& name : order_) {
    const Flag& f = flags_.at(name);
    std::string left = "  --" + name + (f.is_bool ? "" : " VALUE");
    if (left.size() < 28) left.resize(28, ' ');
    else left += "\n" + std::string(28, ' ');
    s += left + f.help;
    if (!f.is_bool) s += " (default: " + (f.default_value.empty() ? std::string("none") : f.default_value) + ")";
    s += "\n";
  }
  s += "  --help                    print this help\n";
  return s;
}

}  // namespace batchscope::cli
