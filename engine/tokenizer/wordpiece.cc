#include "engine/tokenizer/wordpiece.h"

#include <algorithm>

#include "engine/tokenizer/unicode.h"

namespace jetserve::tokenizer {

void BertPreTokenize(std::string_view text, const BertNormalization& options, bool normalize,
                     Flavor flavor, std::vector<std::string>* words) {
  const bool hf = flavor == Flavor::kHuggingFace;
  std::string current;
  const auto finish = [&] {
    if (!current.empty()) words->push_back(std::move(current));
    current.clear();
  };
  std::vector<uint32_t> decomposed;
  size_t offset = 0;
  while (offset < text.size()) {
    uint32_t cp = 0;
    if (!DecodeOneLenient(text, &offset, &cp) || cp > 0x10FFFF) cp = kReplacementChar;
    if (normalize && options.clean_text && (cp == 0 || cp == kReplacementChar)) continue;
    if (hf && normalize && options.clean_text && cp != '\t' && cp != '\n' && cp != '\r' &&
        IsOtherNonSurrogate(cp)) {
      continue;
    }
    if (IsWhitespace(cp)) {
      finish();
      continue;
    }
    if (normalize && options.clean_text && IsControl(cp)) continue;
    decomposed.clear();
    if (normalize && options.strip_accents) {
      AppendNfd(cp, &decomposed);
      // llama.cpp's NFD maps a code point to the first one of its decomposition only
      // (Hangul syllables keep just their leading jamo).
      if (!hf && decomposed.size() > 1) decomposed.resize(1);
    } else {
      decomposed.push_back(cp);
    }
    for (uint32_t c : decomposed) {
      // HF strips Mn only; llama.cpp's WPM drops every mark (Mn, Mc, Me).
      if (normalize && options.strip_accents && (hf ? IsNonspacingMark(c) : IsMark(c))) continue;
      if (normalize && options.lowercase) c = ToLowerSimple(c);
      if (IsBertPunctuation(c) ||
          (normalize && options.handle_chinese_chars && IsBertChineseChar(c))) {
        finish();
        AppendUtf8(c, &current);
        finish();
      } else {
        AppendUtf8(c, &current);
      }
    }
  }
  finish();
}

void WordPieceEncodeWord(std::string_view word, const WordPieceOptions& options,
                         const TokenIndex& index, std::string* scratch, std::vector<TokenId>* out) {
  if (word.empty()) return;
  if (options.max_input_chars > 0) {
    size_t chars = 0;
    for (const char c : word) chars += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
    if (chars > static_cast<size_t>(options.max_input_chars)) {
      if (options.unk != kNoToken) out->push_back(options.unk);
      return;
    }
  }
  const size_t mark = out->size();
  size_t start = 0;
  while (start < word.size()) {
    const std::string& prefix = start == 0 ? options.word_prefix : options.continuing_prefix;
    const size_t max_len =
        index.max_token_len() > prefix.size() ? index.max_token_len() - prefix.size() : 0;
    size_t end = std::min(word.size(), start + max_len);
    TokenId found = kNoToken;
    while (end > start) {
      // Only cut at character boundaries.
      if (end < word.size() && (static_cast<uint8_t>(word[end]) & 0xC0) == 0x80) {
        --end;
        continue;
      }
      scratch->assign(prefix);
      scratch->append(word.substr(start, end - start));
      found = index.Find(*scratch);
      if (found != kNoToken) break;
      --end;
    }
    if (found == kNoToken) {
      out->resize(mark);
      if (options.unk != kNoToken) out->push_back(options.unk);
      return;
    }
    out->push_back(found);
    start = end;
  }
}

}  // namespace jetserve::tokenizer
