// Command-line parsing for the `jetserve` CLI: one subcommand, then options and
// positional arguments in any order. Options are "--name=value", "--name value", "-m value"
// or boolean "--flag"; "--" ends options. Each subcommand declares its options, so a typo
// is an error naming the option instead of being silently ignored.
#ifndef JETSERVE_TOOLS_JETSERVE_CLI_ARGS_H_
#define JETSERVE_TOOLS_JETSERVE_CLI_ARGS_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace jetserve::cli {

struct OptionSpec {
  std::string name;        // long name without dashes, e.g. "model"
  char short_name = '\0';  // e.g. 'm'; '\0' for none
  bool takes_value = true;
};

class ParsedArgs {
 public:
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  // The option's last value; nullopt when absent.
  std::optional<std::string> Get(const std::string& name) const;
  std::string GetOr(const std::string& name, const std::string& fallback) const;
  // All values of a repeatable option, in order.
  std::vector<std::string> GetAll(const std::string& name) const;
  absl::StatusOr<std::optional<double>> GetDouble(const std::string& name) const;
  absl::StatusOr<std::optional<int64_t>> GetInt(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  friend absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>&,
                                              const std::vector<OptionSpec>&);
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

// Parses `args` (the words after the subcommand) against `specs`.
absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                     const std::vector<OptionSpec>& specs);

}  // namespace jetserve::cli

#endif  // JETSERVE_TOOLS_JETSERVE_CLI_ARGS_H_
