// Long-flag parsing for the subcommands: --name value or --name=value, booleans as
// --name, defaults shown in --help, every bad value a UsageError naming the flag.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace batchscope::cli {

class Flags {
 public:
  Flags(std::string command, std::string usage, std::string summary);
  // A flag taking a value; default_value "" means "none" (shown as such in --help).
  void add(const std::string& name, const std::string& default_value, const std::string& help);
  void add_bool(const std::string& name, const std::string& help);
  // Returns false if --help was given (help already printed to stdout).
  bool parse(int argc, char** argv);

  bool given(const std::string& name) const;
  bool has(const std::string& name) const { return flags_.count(name) != 0; }
  // A new default for a flag that was not given (a recipe's value); --help shows the old one.
  void set_default(const std::string& name, const std::string& value);
  // The flags given on the command line with their values, in declaration order; booleans
  // as "true". For passing a command's own flags on to another run of it.
  std::vector<std::pair<std::string, std::string>> given_values() const;
  std::string str(const std::string& name) const;
  int64_t i64(const std::string& name, int64_t lo, int64_t hi) const;
  double dbl(const std::string& name, double lo, double hi) const;
  bool boolean(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }
  std::string help() const;

 private:
  struct Flag {
    std::string default_value, help, value;
    bool is_bool = false, set = false;
  };
  const Flag& get(const std::string& name) const;
  std::string command_, usage_, summary_;
  std::vector<std::string> order_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> positional_;
};

}  // namespace batchscope::cli
