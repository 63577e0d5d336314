#include "engine/tokenizer/load_tokenizer.h"

#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/tokenizer/gguf_loader.h"
#include "engine/tokenizer/hf_json_loader.h"

namespace jetserve::tokenizer {

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path) {
  std::error_code ec;
  std::string file = path;
  if (std::filesystem::is_directory(path, ec)) {
    file = (std::filesystem::path(path) / "tokenizer.json").string();
    if (!std::filesystem::exists(file, ec)) {
      return absl::NotFoundError(absl::StrCat("no tokenizer.json in folder ", path));
    }
  } else if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat("no such file: ", path));
  }
  char magic[4] = {};
  {
    std::ifstream in(file, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", file));
    in.read(magic, sizeof(magic));
  }
  absl::StatusOr<Vocab> vocab =
      std::string_view(magic, 4) == "GGUF" ? LoadGgufVocab(file) : LoadHfTokenizerJson(file);
  if (!vocab.ok()) return vocab.status();
  return Tokenizer::Create(*std::move(vocab));
}

}  // namespace jetserve::tokenizer
