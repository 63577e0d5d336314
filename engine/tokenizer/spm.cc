#include "engine/tokenizer/spm.h"

#include <algorithm>

#include "engine/tokenizer/unicode.h"

namespace jetserve::tokenizer {
namespace {

// Pops the highest score first, then the leftmost pair.
bool PairBefore(const SpmModel::Scratch::Pair& a, const SpmModel::Scratch::Pair& b) {
  return a.score < b.score || (a.score == b.score && a.left > b.left);
}

}  // namespace

void SpmModel::Encode(std::string_view text, const TokenIndex& index, Scratch* scratch,
                      std::vector<TokenId>* out) const {
  if (text.empty()) return;
  auto& symbols = scratch->symbols;
  auto& heap = scratch->heap;
  symbols.clear();
  heap.clear();
  for (size_t offset = 0; offset < text.size();) {
    const size_t len =
        std::min(text.size() - offset, Utf8LenFromLeadByte(static_cast<uint8_t>(text[offset])));
    const int i = static_cast<int>(symbols.size());
    symbols.push_back({i - 1, offset + len == text.size() ? -1 : i + 1, offset, len});
    offset += len;
  }
  const auto add_pair = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const size_t begin = symbols[left].offset;
    const size_t size = symbols[left].length + symbols[right].length;
    const TokenId id = index.Find(text.substr(begin, size));
    if (id == kNoToken) return;
    const float score =
        static_cast<size_t>(id) < scores_->size() ? (*scores_)[static_cast<size_t>(id)] : 0.0f;
    heap.push_back({left, right, score, size});
    std::push_heap(heap.begin(), heap.end(), PairBefore);
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) add_pair(i - 1, i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), PairBefore);
    const Scratch::Pair pair = heap.back();
    heap.pop_back();
    Scratch::Symbol& left = symbols[pair.left];
    Scratch::Symbol& right = symbols[pair.right];
    if (left.length == 0 || right.length == 0 || left.length + right.length != pair.size) {
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
    const std::string_view piece = text.substr(symbols[i].offset, symbols[i].length);
    const TokenId id = index.Find(piece);
    if (id != kNoToken) {
      out->push_back(id);
      continue;
    }
    for (const char c : piece) {
      const TokenId byte_id = byte_tokens_[static_cast<uint8_t>(c)];
      if (byte_id != kNoToken) out->push_back(byte_id);
    }
  }
}

}  // namespace jetserve::tokenizer
