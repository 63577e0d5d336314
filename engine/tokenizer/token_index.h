// Text-to-id lookup over a vocabulary's tokens (exact byte match), shared by the models.
#ifndef JETSERVE_ENGINE_TOKENIZER_TOKEN_INDEX_H_
#define JETSERVE_ENGINE_TOKENIZER_TOKEN_INDEX_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/tokenizer/vocab.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::tokenizer {

class TokenIndex {
 public:
  // With duplicate texts the last id wins when `last_wins` (llama.cpp), else the first (HF).
  void Build(const std::vector<std::string>& tokens, bool last_wins) {
    map_.clear();
    map_.reserve(tokens.size());
    max_token_len_ = 0;
    for (size_t i = 0; i < tokens.size(); ++i) {
      const auto id = static_cast<TokenId>(i);
      auto [it, inserted] = map_.try_emplace(tokens[i], id);
      if (!inserted && last_wins) it->second = id;
      if (tokens[i].size() > max_token_len_) max_token_len_ = tokens[i].size();
    }
  }
  TokenId Find(std::string_view text) const {
    const auto it = map_.find(Sv(text));
    return it == map_.end() ? kNoToken : it->second;
  }
  size_t max_token_len() const { return max_token_len_; }

 private:
  absl::flat_hash_map<std::string, TokenId> map_;
  size_t max_token_len_ = 0;
};

}  // namespace jetserve::tokenizer

#endif  // JETSERVE_ENGINE_TOKENIZER_TOKEN_INDEX_H_
