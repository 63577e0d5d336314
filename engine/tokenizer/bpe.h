// Byte-pair encoding by merge ranks (GPT-2 style, as llama.cpp and HF tokenizers apply it):
// a word is split into UTF-8 characters, then the adjacent pair with the lowest merge rank
// (leftmost on ties) is merged until no ranked pair remains. A priority queue orders the
// candidate pairs; a scratch object reused across words keeps the loop free of allocations.
#ifndef JETSERVE_ENGINE_TOKENIZER_BPE_H_
#define JETSERVE_ENGINE_TOKENIZER_BPE_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/tokenizer/token_index.h"
#include "engine/tokenizer/vocab.h"

namespace jetserve::tokenizer {

class BpeModel {
 public:
  // Per-call working memory; reuse it across words of one text.
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
      int rank;
      size_t left_length;
      size_t right_length;
    };
    std::vector<Symbol> symbols;
    std::vector<Pair> heap;
    std::string key;
  };

  // Fails (InvalidArgument) on a merge that is not "left right" with two non-empty parts.
  static absl::StatusOr<BpeModel> Create(
      const std::vector<std::pair<std::string, std::string>>& merges);

  // Encodes one (already byte-level encoded, if the vocabulary is) word, appending ids.
  // Symbols not in the vocabulary fall back to their single bytes (llama.cpp) or to
  // <0xXX> tokens / `unk` (HF, per `byte_fallback`).
  void EncodeWord(std::string_view word, const TokenIndex& index, bool ignore_merges, Flavor flavor,
                  bool byte_fallback, TokenId unk, Scratch* scratch,
                  std::vector<TokenId>* out) const;

 private:
  int Rank(std::string_view left, std::string_view right, std::string* key) const;

  absl::flat_hash_map<std::string, int> ranks_;  // "left right" -> rank
};

}  // namespace jetserve::tokenizer

#endif  // JETSERVE_ENGINE_TOKENIZER_BPE_H_
