#include "tools/jetserve/cli_args.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace jetserve::cli {

std::optional<std::string> ParsedArgs::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::string ParsedArgs::GetOr(const std::string& name, const std::string& fallback) const {
  return Get(name).value_or(fallback);
}

std::vector<std::string> ParsedArgs::GetAll(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

absl::StatusOr<std::optional<double>> ParsedArgs::GetDouble(const std::string& name) const {
  std::optional<std::string> v = Get(name);
  if (!v) return std::optional<double>();
  double d = 0;
  if (!absl::SimpleAtod(*v, &d)) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, ": not a number: \"", *v, "\""));
  }
  return std::optional<double>(d);
}

absl::StatusOr<std::optional<int64_t>> ParsedArgs::GetInt(const std::string& name) const {
  std::optional<std::string> v = Get(name);
  if (!v) return std::optional<int64_t>();
  int64_t i = 0;
  if (!absl::SimpleAtoi(*v, &i)) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, ": not an integer: \"", *v, "\""));
  }
  return std::optional<int64_t>(i);
}

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                     const std::vector<OptionSpec>& specs) {
  ParsedArgs out;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_done || a.size() < 2 || a[0] != '-') {
      out.positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    const OptionSpec* spec = nullptr;
    std::string inline_value;
    bool has_inline = false;
    if (a[1] == '-') {
      std::string name = a.substr(2);
      const size_t eq = name.find('=');
      if (eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name.resize(eq);
        has_inline = true;
      }
      for (const OptionSpec& s : specs) {
        if (s.name == name) spec = &s;
      }
      if (spec == nullptr)
        return absl::InvalidArgumentError(absl::StrCat("unknown option --", name));
    } else {
      if (a.size() != 2) {
        return absl::InvalidArgumentError(absl::StrCat("unknown option ", a));
      }
      for (const OptionSpec& s : specs) {
        if (s.short_name != '\0' && s.short_name == a[1]) spec = &s;
      }
      if (spec == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown option ", a));
    }
    std::vector<std::string>& slot = out.values_[spec->name];
    if (!spec->takes_value) {
      if (has_inline) {
        return absl::InvalidArgumentError(absl::StrCat("option --", spec->name, " takes no value"));
      }
      slot.push_back("true");
      continue;
    }
    if (has_inline) {
      slot.push_back(inline_value);
    } else if (i + 1 < args.size()) {
      slot.push_back(args[++i]);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("option --", spec->name, " needs a value"));
    }
  }
  return out;
}

}  // namespace jetserve::cli
