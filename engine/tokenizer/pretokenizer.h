// Pre-tokenizers: split text into words before BPE runs, with the regular expressions of
// each model family (llama.cpp's list per tokenizer.ggml.pre, or a tokenizer.json's Split
// patterns), evaluated by PCRE2 in UTF + Unicode-property mode. Each expression splits the
// pieces left by the previous one; text between matches stays a piece of its own.
//
//   ASSIGN_OR_RETURN(PreTokenizer pre, PreTokenizer::Create(PreTokenizerKind::kLlama3, {}));
//   std::vector<WordSpan> words;
//   pre.Split(valid_utf8_text, &words);
#ifndef JETSERVE_ENGINE_TOKENIZER_PRETOKENIZER_H_
#define JETSERVE_ENGINE_TOKENIZER_PRETOKENIZER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/vocab.h"

namespace jetserve::tokenizer {

struct WordSpan {
  size_t offset = 0;
  size_t length = 0;
};

// The regular expressions llama.cpp applies for a family (empty for kNone).
std::vector<std::string> PreTokenizerPatterns(PreTokenizerKind kind);

class PreTokenizer {
 public:
  // `custom_patterns` is used for kHfCustom (and ignored otherwise). A pattern PCRE2
  // rejects is an InvalidArgument error naming it.
  static absl::StatusOr<PreTokenizer> Create(PreTokenizerKind kind,
                                             const std::vector<std::string>& custom_patterns);

  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  // Splits `text` (must be valid UTF-8) into words, appended to *words in order; the words
  // cover the text exactly. Thread-safe.
  void Split(std::string_view text, std::vector<WordSpan>* words) const;

 private:
  struct Regex;
  PreTokenizer();
  std::vector<std::unique_ptr<Regex>> regexes_;
};

}  // namespace jetserve::tokenizer

#endif  // JETSERVE_ENGINE_TOKENIZER_PRETOKENIZER_H_
