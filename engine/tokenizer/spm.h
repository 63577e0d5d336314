// SentencePiece-style BPE by piece scores (llama/mistral/gemma vocabularies in GGUF), as
// llama.cpp applies it: the text (spaces already escaped to "▁") is split into UTF-8
// characters, the adjacent pair whose concatenation is the highest-scoring vocabulary
// piece is merged until none is left, and pieces not in the vocabulary fall back to
// <0xXX> byte tokens.
#ifndef JETSERVE_ENGINE_TOKENIZER_SPM_H_
#define JETSERVE_ENGINE_TOKENIZER_SPM_H_

#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/token_index.h"
#include "engine/tokenizer/vocab.h"

namespace jetserve::tokenizer {

class SpmModel {
 public:
  struct Scratch {
    struct Symbol {
      int prev;
      int next;
      size_t offset;
      size_t length;
    };
    struct Pair {
      int left;
      int right;
      float score;
      size_t size;
    };
    std::vector<Symbol> symbols;
    std::vector<Pair> heap;
  };

  // `scores` has one entry per token; `byte_tokens[b]` is the token for byte b
  // (<0xXX>, else the raw one-byte piece, else `unk`).
  SpmModel(const std::vector<float>* scores, std::vector<TokenId> byte_tokens)
      : scores_(scores), byte_tokens_(std::move(byte_tokens)) {}

  void Encode(std::string_view text, const TokenIndex& index, Scratch* scratch,
              std::vector<TokenId>* out) const;

 private:
  const std::vector<float>* scores_;
  std::vector<TokenId> byte_tokens_;
};

}  // namespace jetserve::tokenizer

#endif  // JETSERVE_ENGINE_TOKENIZER_SPM_H_
