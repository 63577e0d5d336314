#include "engine/tokenizer/gguf_loader.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::tokenizer {
namespace {

absl::Status Annotate(const absl::Status& status, std::string_view key) {
  return absl::Status(status.code(),
                      absl::StrCat("GGUF vocabulary, ", Sv(key), ": ", status.message()));
}

// Reads an optional token id key into *id (left alone when absent).
absl::Status ReadId(const GgufFile& file, std::string_view key, size_t n_tokens, TokenId* id) {
  if (!file.Has(key)) return absl::OkStatus();
  absl::StatusOr<int64_t> value = file.GetInt(key);
  if (!value.ok()) return Annotate(value.status(), key);
  if (*value == -1 || *value == 0xFFFFFFFFll) {  // "none", as some converters write it
    *id = kNoToken;
    return absl::OkStatus();
  }
  if (*value < 0 || static_cast<uint64_t>(*value) >= n_tokens) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF vocabulary, ", Sv(key), ": token id ",
                                                   *value, " is out of range [0, ", n_tokens, ")"));
  }
  *id = static_cast<TokenId>(*value);
  return absl::OkStatus();
}

absl::Status ReadBool(const GgufFile& file, std::string_view key, bool* flag) {
  if (!file.Has(key)) return absl::OkStatus();
  absl::StatusOr<bool> value = file.GetBool(key);
  if (!value.ok()) return Annotate(value.status(), key);
  *flag = *value;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Vocab> VocabFromGguf(const GgufFile& file) {
  Vocab vocab;
  vocab.flavor = Flavor::kLlamaCpp;
  absl::StatusOr<std::string_view> model = file.GetString("tokenizer.ggml.model");
  if (!model.ok()) return Annotate(model.status(), "tokenizer.ggml.model");

  absl::StatusOr<absl::Span<const std::string_view>> tokens =
      file.GetStringArray("tokenizer.ggml.tokens");
  if (!tokens.ok()) return Annotate(tokens.status(), "tokenizer.ggml.tokens");
  const size_t n = tokens->size();
  if (n == 0) return absl::InvalidArgumentError("GGUF vocabulary, tokenizer.ggml.tokens: empty");
  vocab.tokens.reserve(n);
  for (const std::string_view token : *tokens) vocab.tokens.emplace_back(token);

  if (file.Has("tokenizer.ggml.scores")) {
    absl::StatusOr<std::vector<float>> scores = file.GetFloatArray("tokenizer.ggml.scores");
    if (!scores.ok()) return Annotate(scores.status(), "tokenizer.ggml.scores");
    if (scores->size() != n) {
      return absl::InvalidArgumentError(absl::StrCat("GGUF vocabulary, tokenizer.ggml.scores: ",
                                                     scores->size(), " scores for ", n, " tokens"));
    }
    vocab.scores = *std::move(scores);
  }
  if (file.Has("tokenizer.ggml.token_type")) {
    absl::StatusOr<std::vector<int64_t>> types = file.GetIntArray("tokenizer.ggml.token_type");
    if (!types.ok()) return Annotate(types.status(), "tokenizer.ggml.token_type");
    if (types->size() != n) {
      return absl::InvalidArgumentError(absl::StrCat("GGUF vocabulary, tokenizer.ggml.token_type: ",
                                                     types->size(), " types for ", n, " tokens"));
    }
    vocab.types.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const int64_t t = (*types)[i];
      if (t < 0 || t > static_cast<int64_t>(TokenType::kByte)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "GGUF vocabulary, tokenizer.ggml.token_type: token ", i, " has unknown type ", t));
      }
      vocab.types.push_back(static_cast<TokenType>(t));
    }
  }

  SpecialTokens& special = vocab.special;
  if (*model == "llama") {
    vocab.model = ModelKind::kSpm;
    vocab.pre = PreTokenizerKind::kNone;
    special.bos = 1;
    special.eos = 2;
    special.unk = 0;
    vocab.add_space_prefix = true;
    vocab.add_bos = true;
  } else if (*model == "gpt2") {
    vocab.model = ModelKind::kBpe;
    special.bos = 11;
    special.eos = 11;
    absl::StatusOr<absl::Span<const std::string_view>> merges =
        file.GetStringArray("tokenizer.ggml.merges");
    if (!merges.ok()) return Annotate(merges.status(), "tokenizer.ggml.merges");
    vocab.merges.reserve(merges->size());
    for (size_t i = 0; i < merges->size(); ++i) {
      const std::string_view merge = (*merges)[i];
      const size_t space = merge.size() > 1 ? merge.find(' ', 1) : std::string_view::npos;
      if (space == std::string_view::npos || space + 1 >= merge.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("GGUF vocabulary, tokenizer.ggml.merges: merge ", i, " '", Sv(merge),
                         "' is not two space-separated parts"));
      }
      vocab.merges.emplace_back(std::string(merge.substr(0, space)),
                                std::string(merge.substr(space + 1)));
    }
    std::string_view pre_name = "default";
    absl::StatusOr<std::string_view> pre = file.GetString("tokenizer.ggml.pre");
    if (pre.ok()) {
      pre_name = *pre;
    } else if (file.Has("tokenizer.ggml.pre")) {
      return Annotate(pre.status(), "tokenizer.ggml.pre");
    }
    absl::StatusOr<PreTokenizerKind> kind = PreTokenizerFromGgufName(pre_name);
    if (!kind.ok()) return kind.status();
    vocab.pre = *kind;
    // llama.cpp's per-name flags (dbrx and smaug-bpe share llama3's pattern, not its flags).
    for (const std::string_view name :
         {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "tekken"}) {
      if (pre_name == name) {
        vocab.ignore_merges = true;
        vocab.add_bos = true;
      }
    }
  } else if (*model == "bert") {
    vocab.model = ModelKind::kWordPiece;
    vocab.pre = PreTokenizerKind::kNone;
    special.bos = 101;
    special.cls = 101;
    special.unk = 100;
    special.sep = 102;
    special.pad = 0;
    special.mask = 103;
    vocab.add_bos = true;
    vocab.add_sep = true;
    vocab.normalize_bert = true;
    vocab.wordpiece_word_prefix = "\xE2\x96\x81";
    vocab.wordpiece_continuing_prefix.clear();
  } else {
    return absl::UnimplementedError(absl::StrCat("GGUF vocabulary, tokenizer.ggml.model: '",
                                                 Sv(*model),
                                                 "' is not supported (llama, gpt2 and bert are)"));
  }
  // Defaults above may not fit a small vocabulary; the file's keys below must.
  for (TokenId* id : {&special.bos, &special.eos, &special.unk, &special.sep, &special.pad,
                      &special.cls, &special.mask}) {
    if (*id != kNoToken && static_cast<size_t>(*id) >= n) *id = kNoToken;
  }
  for (const auto& [key, id] :
       {std::pair<std::string_view, TokenId*>{"tokenizer.ggml.bos_token_id", &special.bos},
        {"tokenizer.ggml.eos_token_id", &special.eos},
        {"tokenizer.ggml.eot_token_id", &special.eot},
        {"tokenizer.ggml.eom_token_id", &special.eom},
        {"tokenizer.ggml.unknown_token_id", &special.unk},
        {"tokenizer.ggml.seperator_token_id", &special.sep},
        {"tokenizer.ggml.padding_token_id", &special.pad},
        {"tokenizer.ggml.cls_token_id", &special.cls},
        {"tokenizer.ggml.mask_token_id", &special.mask}}) {
    if (absl::Status status = ReadId(file, key, n, id); !status.ok()) return status;
  }
  if (vocab.model == ModelKind::kWordPiece && file.Has("tokenizer.ggml.cls_token_id")) {
    special.bos = special.cls;
  }
  for (const auto& [key, flag] :
       {std::pair<std::string_view, bool*>{"tokenizer.ggml.add_bos_token", &vocab.add_bos},
        {"tokenizer.ggml.add_eos_token", &vocab.add_eos},
        {"tokenizer.ggml.add_sep_token", &vocab.add_sep},
        {"tokenizer.ggml.add_space_prefix", &vocab.add_space_prefix}}) {
    if (absl::Status status = ReadBool(file, key, flag); !status.ok()) return status;
  }
  return vocab;
}

absl::StatusOr<Vocab> LoadGgufVocab(const std::string& path) {
  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(path);
  if (!file.ok()) return file.status();
  return VocabFromGguf(**file);
}

}  // namespace jetserve::tokenizer
