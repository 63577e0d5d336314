#include "engine/tokenizer/tokenize_cli.h"

#include <iterator>
#include <sstream>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/tokenizer/load_tokenizer.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::tokenizer {

absl::Status ParseTokenizeCliArgs(int argc, const char* const* argv, TokenizeCliOptions* options) {
  for (int i = 0; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-m" || arg == "--model") {
      if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat(Sv(arg), " needs a value"));
      options->model = argv[++i];
    } else if (arg.substr(0, 8) == "--model=") {
      options->model = std::string(arg.substr(8));
    } else if (arg == "--special") {
      options->special = true;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown argument '", Sv(arg), "'"));
    }
  }
  if (options->model.empty()) return absl::InvalidArgumentError("-m MODEL is required");
  return absl::OkStatus();
}

absl::Status RunTokenizeCli(const TokenizeCliOptions& options, std::istream& in,
                            std::ostream& out) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(options.model);
  if (!tokenizer.ok()) return tokenizer.status();
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::DataLossError("reading the input failed");
  const std::string text = buffer.str();
  EncodeOptions encode;
  encode.add_special = options.special;
  encode.parse_special = options.special;
  const std::vector<TokenId> ids = (*tokenizer)->Encode(text, encode);
  std::string line;
  line.reserve(ids.size() * 6 + 1);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) line.push_back(' ');
    absl::StrAppend(&line, ids[i]);
  }
  line.push_back('\n');
  out << line;
  out.flush();
  if (!out) return absl::DataLossError("writing the output failed");
  return absl::OkStatus();
}

}  // namespace jetserve::tokenizer
