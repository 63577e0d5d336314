#include "engine/tokenizer/test_files.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace jetserve::tokenizer::testing {

std::optional<std::string> SharedTokenizerTestData() {
  const char* source = std::getenv("JETSERVE_SOURCE_DIR");
  if (source == nullptr) return std::nullopt;
  const std::filesystem::path dir =
      std::filesystem::path(source) / ".." / "shared" / "testdata" / "tokenizer";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return std::nullopt;
  return dir.string();
}

std::optional<std::string> CommittedTokenizerTestData() {
  const char* source = std::getenv("JETSERVE_SOURCE_DIR");
  if (source == nullptr) return std::nullopt;
  return (std::filesystem::path(source) / "tests" / "data" / "tokenizer").string();
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::string> SplitVocabTestInputs(const std::string& content) {
  static constexpr std::string_view kSeparator = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  size_t pos = 0;
  while (pos < content.size()) {
    const size_t hit = content.find(kSeparator, pos);
    if (hit == std::string::npos) {
      inputs.push_back(content.substr(pos));
      break;
    }
    inputs.push_back(content.substr(pos, hit - pos));
    pos = hit + kSeparator.size();
  }
  return inputs;
}

std::vector<std::vector<TokenId>> ParseIdLines(const std::string& content) {
  std::vector<std::vector<TokenId>> lines;
  std::istringstream in(content);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<TokenId> ids;
    long long id = 0;
    while (fields >> id) ids.push_back(static_cast<TokenId>(id));
    lines.push_back(std::move(ids));
  }
  return lines;
}

std::vector<std::string> ListFiles(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().string();
    if (name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      files.push_back(name);
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace jetserve::tokenizer::testing
