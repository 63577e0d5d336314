// Test helpers: where the tokenizer test data lives (shared test vectors next to the
// repository, committed corpora under tests/data/tokenizer) and how to read it.
#ifndef JETSERVE_ENGINE_TOKENIZER_TEST_FILES_H_
#define JETSERVE_ENGINE_TOKENIZER_TEST_FILES_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/vocab.h"

namespace jetserve::tokenizer::testing {

// ${JETSERVE_SOURCE_DIR}/../shared/testdata/tokenizer, or nullopt when absent.
std::optional<std::string> SharedTokenizerTestData();
// ${JETSERVE_SOURCE_DIR}/tests/data/tokenizer, or nullopt when unset.
std::optional<std::string> CommittedTokenizerTestData();
std::optional<std::string> ReadFile(const std::string& path);
// Splits a .inp file on "\n__ggml_vocab_test__\n" (each input is terminated by it).
std::vector<std::string> SplitVocabTestInputs(const std::string& content);
// Parses lines of space-separated ids.
std::vector<std::vector<TokenId>> ParseIdLines(const std::string& content);
// Reads corpus.hex: one hex-encoded byte string per line.
std::optional<std::vector<std::string>> ReadHexLines(const std::string& path);

struct CorpusEntry {
  std::string name;    // vocabulary name
  std::string oracle;  // "llama_cpp" or "hf"
  std::string model;   // resolved path
  std::string pre;     // "#pre=NAME": tokenizer.ggml.pre replaced (GGUF only)
};
// Reads tests/data/tokenizer/corpus_manifest.txt, resolving "shared:", "data:" and "abs:".
std::vector<CorpusEntry> ReadCorpusManifest();

// Opens an entry's tokenizer (applying its pre-tokenizer override).
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadCorpusTokenizer(const CorpusEntry& entry);

std::vector<std::string> ListFiles(const std::string& dir, const std::string& suffix);

}  // namespace jetserve::tokenizer::testing

#endif  // JETSERVE_ENGINE_TOKENIZER_TEST_FILES_H_
