#include "engine/tokenizer/bpe.h"

#include <algorithm>
#include <cstdio>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/tokenizer/unicode.h"

namespace jetserve::tokenizer {
namespace {

// Max-heap order that pops the lowest rank first, then the leftmost pair.
bool PairAfter(const BpeModel::Scratch::Pair& a, const BpeModel::Scratch::Pair& b) {
  return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
}

}  // namespace

absl::StatusOr<BpeModel> BpeModel::Create(
    const std::vector<std::pair<std::string, std::string>>& merges) {
  BpeModel model;
  model.ranks_.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const auto& [left, right] = merges[i];
    if (left.empty() || right.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("BPE merge ", i, " has an empty side: '", left, " ", right, "'"));
    }
    // The first occurrence of a pair keeps its (lower) rank.
    model.ranks_.try_emplace(absl::StrCat(left, " ", right), static_cast<int>(i));
  }
  return model;
}

int BpeModel::Rank(std::string_view left, std::string_view right, std::string* key) const {
  key->assign(left);
  key->push_back(' ');
  key->append(right);
  const auto it = ranks_.find(*key);
  return it == ranks_.end() ? -1 : it->second;
}

void BpeModel::EncodeWord(std::string_view word, const TokenIndex& index, bool ignore_merges,
                          Flavor flavor, bool byte_fallback, TokenId unk, Scratch* scratch,
                          std::vector<TokenId>* out) const {
  if (word.empty()) return;
  if (ignore_merges) {
    const TokenId id = index.Find(word);
    if (id != kNoToken) {
      out->push_back(id);
      return;
    }
  }
  auto& symbols = scratch->symbols;
  auto& heap = scratch->heap;
  symbols.clear();
  heap.clear();
  for (size_t offset = 0; offset < word.size();) {
    const size_t len =
        std::min(word.size() - offset, Utf8LenFromLeadByte(static_cast<uint8_t>(word[offset])));
    const int i = static_cast<int>(symbols.size());
    symbols.push_back({i - 1, offset + len == word.size() ? -1 : i + 1, offset, len});
    offset += len;
  }
  const auto text = [&](int i) { return word.substr(symbols[i].offset, symbols[i].length); };
  const auto add_pair = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const int rank = Rank(text(left), text(right), &scratch->key);
    if (rank < 0) return;
    heap.push_back({left, right, rank, symbols[left].length, symbols[right].length});
    std::push_heap(heap.begin(), heap.end(), PairAfter);
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) add_pair(i - 1, i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), PairAfter);
    const Scratch::Pair pair = heap.back();
    heap.pop_back();
    Scratch::Symbol& left = symbols[pair.left];
    Scratch::Symbol& right = symbols[pair.right];
    // Stale when either side has changed since the pair was queued.
    if (left.length == 0 || right.length == 0 || left.length != pair.left_length ||
        right.length != pair.right_length || left.next != pair.right) {
      continue;
    }
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = pair.left;
    add_pair(left.prev, pair.left);
    add_pair(pair.left, left.next);
  }
  for (int i = 0; i != -1; i = symbols[i].next) {
    const std::string_view piece = text(i);
    const TokenId id = index.Find(piece);
    if (id != kNoToken) {
      out->push_back(id);
      continue;
    }
    if (flavor == Flavor::kLlamaCpp) {
      for (const char c : piece) {
        const TokenId byte_id = index.Find(std::string_view(&c, 1));
        if (byte_id != kNoToken) out->push_back(byte_id);
      }
      continue;
    }
    bool all_bytes = byte_fallback;
    const size_t mark = out->size();
    if (byte_fallback) {
      for (const char c : piece) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>",
                      static_cast<unsigned>(static_cast<uint8_t>(c)));
        const TokenId byte_id = index.Find(name);
        if (byte_id == kNoToken) {
          all_bytes = false;
          break;
        }
        out->push_back(byte_id);
      }
    }
    if (!all_bytes) {
      out->resize(mark);
      if (unk != kNoToken) out->push_back(unk);
    }
  }
}

}  // namespace jetserve::tokenizer
