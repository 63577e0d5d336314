#include "engine/tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/tokenizer/text_util.h"
#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/wordpiece.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::tokenizer {
namespace {

// Texts llama.cpp takes for end-of-turn tokens when the metadata names none.
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>",      "<|im_end|>", "<|end|>", "<end_of_turn>",         "<|endoftext|>",
    "<|end_of_text|>", "<EOT>",      "_<EOT>",  "<｜end▁of▁sentence｜>", "<end_of_utterance>",
};
// Texts of tokens that end generation whatever the metadata says; llama.cpp makes them
// control tokens (so plain text spelling them is not matched), and so do we.
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>",      "<|im_end|>",         "<|end|>",    "<|return|>", "<|call|>",
    "<end_of_turn>",   "<|endoftext|>",      "<|eom_id|>", "<EOT>",      "_<EOT>",
    "<|end_of_text|>", "<end_of_utterance>", "</s>",
};

// Length of the run of Unicode whitespace at the start of `text`.
size_t LeadingWhitespaceLength(std::string_view text) {
  size_t offset = 0;
  while (offset < text.size()) {
    size_t next = offset;
    uint32_t cp = 0;
    if (!DecodeOneLenient(text, &next, &cp) || !IsWhitespace(cp)) break;
    offset = next;
  }
  return offset;
}

// Where the run of Unicode whitespace ending `text` starts (text.size() if none).
size_t TrailingWhitespaceStart(std::string_view text) {
  size_t end = text.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && end - start < 4 && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) {
      --start;
    }
    size_t next = start;
    uint32_t cp = 0;
    if (!DecodeOneLenient(text, &next, &cp) || next != end || !IsWhitespace(cp)) break;
    end = start;
  }
  return end;
}

absl::Status CheckId(TokenId id, size_t n, std::string_view what) {
  if (id == kNoToken || (id >= 0 && static_cast<size_t>(id) < n)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(Sv(what), " token id ", id, " is out of range [0, ", n, ")"));
}

}  // namespace

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Create(Vocab vocab) {
  std::unique_ptr<Tokenizer> tokenizer(new Tokenizer(std::move(vocab)));
  if (absl::Status status = tokenizer->Init(); !status.ok()) return status;
  return tokenizer;
}

absl::Status Tokenizer::Init() {
  const size_t n = vocab_.tokens.size();
  if (n == 0) return absl::InvalidArgumentError("vocabulary has no tokens");
  if (n > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat("vocabulary has too many tokens: ", n));
  }
  if (!vocab_.scores.empty() && vocab_.scores.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("vocabulary has ", n, " tokens but ", vocab_.scores.size(), " scores"));
  }
  if (!vocab_.types.empty() && vocab_.types.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("vocabulary has ", n, " tokens but ", vocab_.types.size(), " token types"));
  }
  if (vocab_.types.empty()) vocab_.types.assign(n, TokenType::kNormal);
  if (vocab_.scores.empty()) vocab_.scores.assign(n, 0.0f);
  const SpecialTokens& s = vocab_.special;
  for (const auto& [id, what] : {std::pair{s.bos, "BOS"},
                                 {s.eos, "EOS"},
                                 {s.eot, "EOT"},
                                 {s.eom, "EOM"},
                                 {s.unk, "unknown"},
                                 {s.sep, "separator"},
                                 {s.pad, "padding"},
                                 {s.cls, "CLS"},
                                 {s.mask, "mask"}}) {
    if (absl::Status status = CheckId(id, n, what); !status.ok()) return status;
  }
  for (const AddedTokenOptions& added : vocab_.added_token_options) {
    if (absl::Status status = CheckId(added.id, n, "added"); !status.ok()) return status;
  }
  index_.Build(vocab_.tokens, vocab_.flavor == Flavor::kLlamaCpp);

  if (vocab_.flavor == Flavor::kLlamaCpp) {
    for (const std::string_view text : kEotTexts) {
      const TokenId id = index_.Find(text);
      if (id != kNoToken && vocab_.special.eot == kNoToken) vocab_.special.eot = id;
    }
    for (const std::string_view text : kEogTexts) {
      const TokenId id = index_.Find(text);
      if (id == kNoToken) continue;
      vocab_.types[static_cast<size_t>(id)] = TokenType::kControl;
      end_of_generation_.push_back(id);
    }
  }
  for (const TokenId id : {vocab_.special.eos, vocab_.special.eot, vocab_.special.eom}) {
    if (id == kNoToken) continue;
    if (vocab_.flavor == Flavor::kLlamaCpp)
      vocab_.types[static_cast<size_t>(id)] = TokenType::kControl;
    end_of_generation_.push_back(id);
  }
  std::sort(end_of_generation_.begin(), end_of_generation_.end());
  end_of_generation_.erase(std::unique(end_of_generation_.begin(), end_of_generation_.end()),
                           end_of_generation_.end());
  vocab_.special.nl = vocab_.model == ModelKind::kSpm ? index_.Find("<0x0A>") : index_.Find("\n");
  if (vocab_.special.nl == kNoToken && vocab_.model == ModelKind::kBpe) {
    std::string encoded;
    AppendByteLevel("\n", &encoded);
    vocab_.special.nl = index_.Find(encoded);
  }

  // Tokens matched in the raw text before the model runs.
  for (size_t i = 0; i < n; ++i) {
    const TokenType type = vocab_.types[i];
    if (vocab_.tokens[i].empty()) continue;
    if (type != TokenType::kControl && type != TokenType::kUserDefined &&
        type != TokenType::kUnknown) {
      continue;
    }
    specials_.push_back({static_cast<TokenId>(i), type == TokenType::kUserDefined, false, false});
  }
  for (const AddedTokenOptions& added : vocab_.added_token_options) {
    for (SpecialMatch& match : specials_) {
      if (match.id == added.id) {
        match.lstrip = added.lstrip;
        match.rstrip = added.rstrip;
      }
    }
  }
  std::stable_sort(specials_.begin(), specials_.end(),
                   [&](const SpecialMatch& a, const SpecialMatch& b) {
                     return vocab_.tokens[static_cast<size_t>(a.id)].size() >
                            vocab_.tokens[static_cast<size_t>(b.id)].size();
                   });

  switch (vocab_.model) {
    case ModelKind::kSpm: {
      std::vector<TokenId> byte_tokens(256, kNoToken);
      for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", b);
        TokenId id = index_.Find(name);
        if (id == kNoToken) id = index_.Find(std::string(1, static_cast<char>(b)));
        if (id == kNoToken) id = vocab_.special.unk;
        byte_tokens[static_cast<size_t>(b)] = id;
      }
      spm_.emplace(&vocab_.scores, std::move(byte_tokens));
      break;
    }
    case ModelKind::kBpe: {
      auto bpe = BpeModel::Create(vocab_.merges);
      if (!bpe.ok()) return bpe.status();
      bpe_.emplace(*std::move(bpe));
      auto pre = PreTokenizer::Create(vocab_.pre, vocab_.hf_split_patterns);
      if (!pre.ok()) return pre.status();
      pre_.emplace(*std::move(pre));
      break;
    }
    case ModelKind::kWordPiece:
      if (vocab_.special.unk == kNoToken) {
        return absl::InvalidArgumentError("WordPiece vocabulary has no unknown token");
      }
      break;
    case ModelKind::kUnigram: {
      unigram_.emplace(&vocab_.scores, vocab_.special.unk, vocab_.byte_fallback);
      auto pre = PreTokenizer::Create(vocab_.pre, vocab_.hf_split_patterns);
      if (!pre.ok()) return pre.status();
      pre_.emplace(*std::move(pre));
      break;
    }
  }
  return absl::OkStatus();
}

TokenType Tokenizer::Type(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= vocab_.types.size()) return TokenType::kUndefined;
  return vocab_.types[static_cast<size_t>(id)];
}

bool Tokenizer::IsControl(TokenId id) const { return Type(id) == TokenType::kControl; }

bool Tokenizer::IsEndOfGeneration(TokenId id) const {
  return std::binary_search(end_of_generation_.begin(), end_of_generation_.end(), id);
}

void Tokenizer::Partition(std::string_view text, bool parse_special,
                          std::vector<Fragment>* out) const {
  out->clear();
  if (text.empty()) return;
  out->push_back({kNoToken, 0, text.size()});
  std::vector<Fragment> next;
  for (const SpecialMatch& special : specials_) {
    if (!parse_special && !special.always) continue;
    const std::string& needle = vocab_.tokens[static_cast<size_t>(special.id)];
    bool any = false;
    next.clear();
    for (const Fragment& fragment : *out) {
      if (fragment.token != kNoToken) {
        next.push_back(fragment);
        continue;
      }
      size_t begin = fragment.offset;
      const size_t end = fragment.offset + fragment.length;
      while (begin < end) {
        const size_t hit = text.substr(0, end).find(needle, begin);
        if (hit == std::string_view::npos) break;
        any = true;
        size_t left_end = hit;
        if (special.lstrip)
          left_end = begin + TrailingWhitespaceStart(text.substr(begin, hit - begin));
        if (left_end > begin) next.push_back({kNoToken, begin, left_end - begin});
        next.push_back({special.id, hit, needle.size()});
        begin = hit + needle.size();
        if (special.rstrip) begin += LeadingWhitespaceLength(text.substr(begin, end - begin));
      }
      if (begin < end) next.push_back({kNoToken, begin, end - begin});
    }
    if (any) out->swap(next);
  }
}

void Tokenizer::EncodeText(std::string_view text, bool after_special,
                           std::vector<TokenId>* out) const {
  switch (vocab_.model) {
    case ModelKind::kSpm: {
      std::string escaped;
      escaped.reserve(text.size() * 2 + 3);
      if (vocab_.add_space_prefix && after_special) escaped.append(kSpmSpace);
      for (const char c : text) {
        if (c == ' ' && vocab_.escape_whitespace) {
          escaped.append(kSpmSpace);
        } else {
          escaped.push_back(c);
        }
      }
      SpmModel::Scratch scratch;
      spm_->Encode(escaped, index_, &scratch, out);
      break;
    }
    case ModelKind::kBpe: {
      if (vocab_.flavor == Flavor::kHuggingFace) {
        EncodeHfText(text, after_special, out);
        break;
      }
      const std::string clean = SanitizeUtf8(text);
      std::vector<WordSpan> words;
      pre_->Split(clean, &words);
      BpeModel::Scratch scratch;
      std::string encoded;
      for (const WordSpan& word : words) {
        const std::string_view raw = std::string_view(clean).substr(word.offset, word.length);
        if (vocab_.byte_level) {
          encoded.clear();
          AppendByteLevel(raw, &encoded);
          bpe_->EncodeWord(encoded, index_, vocab_.ignore_merges, vocab_.flavor,
                           vocab_.byte_fallback, vocab_.special.unk, &scratch, out);
        } else {
          bpe_->EncodeWord(raw, index_, vocab_.ignore_merges, vocab_.flavor, vocab_.byte_fallback,
                           vocab_.special.unk, &scratch, out);
        }
      }
      break;
    }
    case ModelKind::kWordPiece: {
      std::vector<std::string> words;
      BertPreTokenize(text, vocab_.bert, vocab_.normalize_bert, vocab_.flavor, &words);
      WordPieceOptions options;
      options.word_prefix = vocab_.wordpiece_word_prefix;
      options.continuing_prefix = vocab_.wordpiece_continuing_prefix;
      options.max_input_chars =
          vocab_.flavor == Flavor::kHuggingFace ? vocab_.wordpiece_max_input_chars : 0;
      options.unk = vocab_.special.unk;
      std::string scratch;
      for (const std::string& word : words) {
        WordPieceEncodeWord(word, options, index_, &scratch, out);
      }
      break;
    }
    case ModelKind::kUnigram:
      EncodeHfText(text, after_special, out);
      break;
  }
}

namespace {

void ApplyNormalizer(const HfNormalizerStep& step, std::string* text) {
  switch (step.kind) {
    case HfNormalizerStep::Kind::kUnicode:
      *text = NormalizeUtf8(*text, step.text);
      break;
    case HfNormalizerStep::Kind::kLowercase: {
      std::string lower;
      lower.reserve(text->size());
      for (const uint32_t cp : DecodeUtf8Lenient(*text)) AppendUtf8(ToLowerSimple(cp), &lower);
      *text = std::move(lower);
      break;
    }
    case HfNormalizerStep::Kind::kPrepend:
      if (!text->empty()) text->insert(0, step.text);
      break;
    case HfNormalizerStep::Kind::kReplace:
      ReplaceAll(step.text, step.replacement, text);
      break;
  }
}

}  // namespace

void Tokenizer::EncodeHfText(std::string_view raw, bool first_section,
                             std::vector<TokenId>* out) const {
  std::string text = SanitizeUtf8(raw);
  for (const HfNormalizerStep& step : vocab_.hf_normalizers) ApplyNormalizer(step, &text);
  // Metaspace: spaces become the replacement, which is prepended and split before.
  std::vector<std::string> pieces;
  const HfMetaspace& meta = vocab_.hf_metaspace;
  if (meta.enabled) {
    ReplaceAll(" ", meta.replacement, &text);
    const bool prepend = meta.prepend == HfMetaspace::Prepend::kAlways ||
                         (meta.prepend == HfMetaspace::Prepend::kFirst && first_section);
    if (prepend && text.compare(0, meta.replacement.size(), meta.replacement) != 0) {
      text.insert(0, meta.replacement);
    }
    size_t start = 0;
    while (meta.split && start < text.size()) {
      const size_t next = text.find(meta.replacement, start + 1);
      if (next == std::string::npos) break;
      pieces.push_back(text.substr(start, next - start));
      start = next;
    }
    pieces.push_back(text.substr(start));
  } else {
    pieces.push_back(std::move(text));
  }
  BpeModel::Scratch bpe_scratch;
  UnigramModel::Scratch unigram_scratch;
  std::vector<WordSpan> words;
  std::string encoded;
  for (std::string& piece : pieces) {
    if (piece.empty()) continue;
    if (vocab_.hf_add_prefix_space && piece[0] != ' ') piece.insert(piece.begin(), ' ');
    words.clear();
    pre_->Split(piece, &words);
    for (const WordSpan& span : words) {
      const std::string_view word = std::string_view(piece).substr(span.offset, span.length);
      if (vocab_.model == ModelKind::kUnigram) {
        unigram_->EncodeWord(word, index_, &unigram_scratch, out);
        continue;
      }
      std::string_view input = word;
      if (vocab_.byte_level) {
        encoded.clear();
        AppendByteLevel(word, &encoded);
        input = encoded;
      }
      bpe_->EncodeWord(input, index_, vocab_.ignore_merges, vocab_.flavor, vocab_.byte_fallback,
                       vocab_.special.unk, &bpe_scratch, out);
    }
  }
}

std::vector<TokenId> Tokenizer::Encode(std::string_view text, const EncodeOptions& options) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 4);
  const bool wordpiece = vocab_.model == ModelKind::kWordPiece;
  const bool hf_template = vocab_.hf_post.has_template;
  if (options.add_special && hf_template) {
    out.insert(out.end(), vocab_.hf_post.prefix.begin(), vocab_.hf_post.prefix.end());
  } else if (options.add_special) {
    const SpecialTokens& s = vocab_.special;
    if (wordpiece) {
      const TokenId first = s.cls != kNoToken ? s.cls : s.bos;
      if (first != kNoToken && vocab_.add_bos) out.push_back(first);
    } else if (vocab_.add_bos && s.bos != kNoToken) {
      out.push_back(s.bos);
    }
  }
  std::vector<Fragment> fragments;
  Partition(text, options.parse_special, &fragments);
  bool after_special = true;
  for (const Fragment& fragment : fragments) {
    if (fragment.token != kNoToken) {
      out.push_back(fragment.token);
      after_special = true;
      continue;
    }
    // SPM wants "after a special token (or at the start)"; HF Metaspace wants "at the start".
    const bool first = vocab_.flavor == Flavor::kHuggingFace ? fragment.offset == 0 : after_special;
    EncodeText(text.substr(fragment.offset, fragment.length), first, &out);
    after_special = false;
  }
  if (options.add_special && hf_template) {
    out.insert(out.end(), vocab_.hf_post.suffix.begin(), vocab_.hf_post.suffix.end());
  } else if (options.add_special) {
    const SpecialTokens& s = vocab_.special;
    if (wordpiece) {
      const TokenId last = s.sep != kNoToken ? s.sep : s.eos;
      if (last != kNoToken && vocab_.add_sep) out.push_back(last);
    } else if (vocab_.add_eos && s.eos != kNoToken) {
      out.push_back(s.eos);
    }
  }
  return out;
}

ModelInput Tokenizer::EncodeForModel(std::string_view text) const {
  const HfPostProcessing& hf = vocab_.hf_post;
  ModelInput input;
  std::vector<TokenId> body = Encode(text, {.add_special = false, .parse_special = true});
  std::vector<TokenId> prefix, suffix;
  if (hf.has_template) {
    prefix = hf.prefix;
    suffix = hf.suffix;
  } else {
    const std::vector<TokenId> empty_special = Encode("", {.add_special = true});
    // Without a template the specials are BOS/[CLS] first and EOS/[SEP] last.
    for (const TokenId id : empty_special) {
      (prefix.empty() && (id == vocab_.special.bos || id == vocab_.special.cls) ? prefix : suffix)
          .push_back(id);
    }
  }
  if (hf.truncate) {
    const size_t specials = prefix.size() + suffix.size();
    const size_t room = hf.max_length > specials ? hf.max_length - specials : 0;
    if (body.size() > room) {
      if (hf.truncate_left) {
        body.erase(body.begin(), body.end() - static_cast<std::ptrdiff_t>(room));
      } else {
        body.resize(room);
      }
    }
  }
  input.ids = prefix;
  input.ids.insert(input.ids.end(), body.begin(), body.end());
  input.ids.insert(input.ids.end(), suffix.begin(), suffix.end());
  input.type_ids.assign(input.ids.size(), 0);
  input.attention_mask.assign(input.ids.size(), 1);
  size_t target = input.ids.size();
  if (hf.padding == HfPostProcessing::Padding::kFixed) target = std::max(target, hf.pad_length);
  if (hf.padding != HfPostProcessing::Padding::kNone && hf.pad_to_multiple_of > 0 &&
      target % hf.pad_to_multiple_of != 0) {
    target += hf.pad_to_multiple_of - target % hf.pad_to_multiple_of;
  }
  const size_t pad = target - input.ids.size();
  if (pad > 0) {
    const auto at = [&](auto& v) { return hf.pad_left ? v.begin() : v.end(); };
    input.ids.insert(at(input.ids), pad, hf.pad_id);
    input.type_ids.insert(at(input.type_ids), pad, hf.pad_type_id);
    input.attention_mask.insert(at(input.attention_mask), pad, 0);
  }
  return input;
}

}  // namespace jetserve::tokenizer
