// WordPiece (BERT): BERT text normalization and pre-tokenization (clean control characters,
// isolate CJK characters and punctuation, split on whitespace, strip accents, lowercase —
// HF BertNormalizer + BertPreTokenizer, which llama.cpp's WPM preprocessing also follows),
// then greedy longest-match of each word against the vocabulary.
#ifndef JETSERVE_ENGINE_TOKENIZER_WORDPIECE_H_
#define JETSERVE_ENGINE_TOKENIZER_WORDPIECE_H_

#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/token_index.h"
#include "engine/tokenizer/vocab.h"

namespace jetserve::tokenizer {

// Normalizes and splits `text` into words (each valid UTF-8). With `normalize` false only
// whitespace/punctuation splitting is done. The flavours differ on control characters
// that are also whitespace (\v \f U+0085): HF removes them (no split), llama.cpp splits.
void BertPreTokenize(std::string_view text, const BertNormalization& options, bool normalize,
                     Flavor flavor, std::vector<std::string>* words);

struct WordPieceOptions {
  std::string word_prefix;               // prepended to a word's first piece (GGUF: "▁")
  std::string continuing_prefix = "##";  // prepended to later pieces (GGUF: "")
  int max_input_chars = 100;             // longer words become unk; <= 0: no limit
  TokenId unk = kNoToken;
};

// Greedy longest match of one word; a word that cannot be covered becomes `unk`.
void WordPieceEncodeWord(std::string_view word, const WordPieceOptions& options,
                         const TokenIndex& index, std::string* scratch, std::vector<TokenId>* out);

}  // namespace jetserve::tokenizer

#endif  // JETSERVE_ENGINE_TOKENIZER_WORDPIECE_H_
