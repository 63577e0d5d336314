#include "engine/tokenizer/test_files.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/format/gguf_reader.h"
#include "engine/format/gguf_writer.h"
#include "engine/tokenizer/gguf_loader.h"
#include "engine/tokenizer/load_tokenizer.h"

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

std::optional<std::vector<std::string>> ReadHexLines(const std::string& path) {
  const std::optional<std::string> content = ReadFile(path);
  if (!content) return std::nullopt;
  std::vector<std::string> lines;
  std::istringstream in(*content);
  std::string line;
  const auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  while (std::getline(in, line)) {
    std::string bytes;
    for (size_t i = 0; i + 1 < line.size(); i += 2) {
      bytes.push_back(static_cast<char>(nibble(line[i]) * 16 + nibble(line[i + 1])));
    }
    lines.push_back(std::move(bytes));
  }
  return lines;
}

std::vector<CorpusEntry> ReadCorpusManifest() {
  std::vector<CorpusEntry> entries;
  const std::optional<std::string> data = CommittedTokenizerTestData();
  if (!data) return entries;
  const std::optional<std::string> manifest = ReadFile(*data + "/corpus_manifest.txt");
  if (!manifest) return entries;
  const std::optional<std::string> shared = SharedTokenizerTestData();
  std::istringstream in(*manifest);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    CorpusEntry entry;
    std::string location;
    fields >> entry.name >> entry.oracle >> location;
    if (const size_t hash = location.find("#pre="); hash != std::string::npos) {
      entry.pre = location.substr(hash + 5);
      location.resize(hash);
    }
    const size_t colon = location.find(':');
    const std::string kind = location.substr(0, colon);
    const std::string rest = location.substr(colon + 1);
    if (kind == "shared") {
      entry.model = shared ? *shared + "/" + rest : std::string();
    } else if (kind == "data") {
      entry.model = *data + "/" + rest;
    } else {
      entry.model = rest;
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadCorpusTokenizer(const CorpusEntry& entry) {
  if (entry.pre.empty()) return LoadTokenizer(entry.model);
  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(entry.model);
  if (!file.ok()) return file.status();
  GgufWriter writer;
  for (const GgufKeyValue& kv : (*file)->metadata()) writer.SetValue(kv.key, kv.value);
  writer.SetString("tokenizer.ggml.pre", entry.pre);
  const std::vector<uint8_t> bytes = writer.Serialize();
  absl::StatusOr<std::unique_ptr<GgufFile>> edited = GgufFile::FromBuffer(bytes);
  if (!edited.ok()) return edited.status();
  absl::StatusOr<Vocab> vocab = VocabFromGguf(**edited);
  if (!vocab.ok()) return vocab.status();
  return Tokenizer::Create(*std::move(vocab));
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
