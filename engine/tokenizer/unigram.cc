#include "engine/tokenizer/unigram.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "engine/tokenizer/unicode.h"

namespace jetserve::tokenizer {
namespace {

// HF tokenizers' penalty below the lowest piece score for an unknown character.
constexpr double kUnknownPenalty = 10.0;

}  // namespace

UnigramModel::UnigramModel(const std::vector<float>* scores, TokenId unk, bool byte_fallback)
    : scores_(scores), unk_(unk), byte_fallback_(byte_fallback) {
  double min_score = 0;
  bool first = true;
  for (const float score : *scores_) {
    if (first || score < min_score) min_score = score;
    first = false;
  }
  unk_score_ = min_score - kUnknownPenalty;
}

void UnigramModel::EmitUnknown(std::string_view text, const TokenIndex& index,
                               std::vector<TokenId>* out) const {
  const TokenId whole = index.Find(text);
  if (whole != kNoToken) {
    out->push_back(whole);
    return;
  }
  if (byte_fallback_) {
    const size_t mark = out->size();
    bool all = true;
    for (const char c : text) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", static_cast<unsigned>(static_cast<uint8_t>(c)));
      const TokenId id = index.Find(name);
      if (id == kNoToken) {
        all = false;
        break;
      }
      out->push_back(id);
    }
    if (all) return;
    out->resize(mark);
  }
  if (unk_ != kNoToken) out->push_back(unk_);
}

void UnigramModel::EncodeWord(std::string_view word, const TokenIndex& index, Scratch* scratch,
                              std::vector<TokenId>* out) const {
  if (word.empty()) return;
  auto& best = scratch->best;
  best.assign(word.size() + 1, {0.0, -1, kNoToken});
  best[0].start = 0;
  const size_t max_len = index.max_token_len();
  for (size_t start = 0; start < word.size();) {
    const size_t char_len =
        std::min(word.size() - start, Utf8LenFromLeadByte(static_cast<uint8_t>(word[start])));
    if (best[start].start < 0) {  // cannot happen with unknown fallback; be safe
      start += char_len;
      continue;
    }
    const double base = best[start].score;
    bool has_single = false;
    // Pieces starting here, shortest first (the order of HF's prefix search).
    for (size_t end = start + char_len; end <= word.size() && end - start <= max_len;) {
      const TokenId id = index.Find(word.substr(start, end - start));
      if (id != kNoToken) {
        const double score = base + (*scores_)[static_cast<size_t>(id)];
        Scratch::Best& target = best[end];
        if (target.start < 0 || score > target.score) target = {score, static_cast<int>(start), id};
        if (end - start == char_len) has_single = true;
      }
      if (end == word.size()) break;
      end += std::min(word.size() - end, Utf8LenFromLeadByte(static_cast<uint8_t>(word[end])));
    }
    if (!has_single) {
      const double score = base + unk_score_;
      Scratch::Best& target = best[start + char_len];
      if (target.start < 0 || score > target.score) {
        target = {score, static_cast<int>(start), kNoToken};  // unknown
      }
    }
    start += char_len;
  }
  // Backtrack, fusing consecutive unknown characters.
  std::vector<std::pair<size_t, size_t>> spans;  // reversed (start, end); unknown if id none
  std::vector<TokenId> ids;
  size_t end = word.size();
  size_t unknown_end = 0;
  bool in_unknown = false;
  while (end > 0) {
    const Scratch::Best& node = best[end];
    const auto start = static_cast<size_t>(node.start);
    if (node.id == kNoToken || node.id == unk_) {
      if (!in_unknown) unknown_end = end;
      in_unknown = true;
    } else {
      if (in_unknown) {
        spans.emplace_back(end, unknown_end);
        ids.push_back(kNoToken);
        in_unknown = false;
      }
      spans.emplace_back(start, end);
      ids.push_back(node.id);
    }
    end = start;
  }
  if (in_unknown) {
    spans.emplace_back(0, unknown_end);
    ids.push_back(kNoToken);
  }
  for (size_t i = spans.size(); i-- > 0;) {
    if (ids[i] != kNoToken) {
      out->push_back(ids[i]);
    } else {
      EmitUnknown(word.substr(spans[i].first, spans[i].second - spans[i].first), index, out);
    }
  }
}

}  // namespace jetserve::tokenizer
