#include "engine/tokenizer/hf_json_loader.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/tokenizer/pretokenizer.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::tokenizer {
namespace {

using Json = nlohmann::json;

constexpr int64_t kMaxVocabSize = 16 * 1024 * 1024;

absl::Status Bad(std::string_view where, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("tokenizer.json ", Sv(where), ": ", Sv(what)));
}

// Member `key` of object `j` or nullptr (also for null values).
const Json* Member(const Json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status GetString(const Json& j, std::string_view key, std::string_view where,
                       std::string* out) {
  const Json* v = Member(j, key);
  if (v == nullptr) return Bad(where, absl::StrCat("missing \"", Sv(key), "\""));
  if (!v->is_string()) return Bad(where, absl::StrCat("\"", Sv(key), "\" is not a string"));
  *out = v->get<std::string>();
  return absl::OkStatus();
}

absl::Status GetBool(const Json& j, std::string_view key, std::string_view where, bool* out) {
  const Json* v = Member(j, key);
  if (v == nullptr) return absl::OkStatus();  // optional: keep the default
  if (!v->is_boolean()) return Bad(where, absl::StrCat("\"", Sv(key), "\" is not a boolean"));
  *out = v->get<bool>();
  return absl::OkStatus();
}

absl::Status GetId(const Json& j, std::string_view where, int64_t* out) {
  if (!j.is_number_integer()) return Bad(where, "token id is not an integer");
  const int64_t id = j.get<int64_t>();
  if (id < 0 || id >= kMaxVocabSize)
    return Bad(where, absl::StrCat("token id ", id, " is out of range"));
  *out = id;
  return absl::OkStatus();
}

#define JETSERVE_RETURN_IF_ERROR(expr)                 \
  do {                                                 \
    if (absl::Status _s = (expr); !_s.ok()) return _s; \
  } while (0)

absl::Status LoadNormalizer(const Json* normalizer, Vocab* vocab) {
  if (normalizer == nullptr) return absl::OkStatus();
  std::string type;
  JETSERVE_RETURN_IF_ERROR(GetString(*normalizer, "type", "normalizer", &type));
  if (type == "Sequence") {
    const Json* list = Member(*normalizer, "normalizers");
    if (list == nullptr || !list->is_array()) return Bad("normalizer", "Sequence without a list");
    for (const Json& item : *list) JETSERVE_RETURN_IF_ERROR(LoadNormalizer(&item, vocab));
    return absl::OkStatus();
  }
  if (type == "BertNormalizer") {
    vocab->normalize_bert = true;
    BertNormalization& b = vocab->bert;
    JETSERVE_RETURN_IF_ERROR(GetBool(*normalizer, "clean_text", "normalizer", &b.clean_text));
    JETSERVE_RETURN_IF_ERROR(
        GetBool(*normalizer, "handle_chinese_chars", "normalizer", &b.handle_chinese_chars));
    JETSERVE_RETURN_IF_ERROR(GetBool(*normalizer, "lowercase", "normalizer", &b.lowercase));
    b.strip_accents = b.lowercase;  // null: follows lowercase
    JETSERVE_RETURN_IF_ERROR(GetBool(*normalizer, "strip_accents", "normalizer", &b.strip_accents));
    return absl::OkStatus();
  }
  if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    vocab->hf_normalizers.push_back({HfNormalizerStep::Kind::kUnicode, type, ""});
    return absl::OkStatus();
  }
  if (type == "Lowercase") {
    vocab->hf_normalizers.push_back({HfNormalizerStep::Kind::kLowercase, "", ""});
    return absl::OkStatus();
  }
  if (type == "Prepend") {
    std::string text;
    JETSERVE_RETURN_IF_ERROR(GetString(*normalizer, "prepend", "normalizer", &text));
    vocab->hf_normalizers.push_back({HfNormalizerStep::Kind::kPrepend, text, ""});
    return absl::OkStatus();
  }
  if (type == "Replace") {
    const Json* pattern = Member(*normalizer, "pattern");
    std::string from, to;
    if (pattern == nullptr || Member(*pattern, "String") == nullptr) {
      return absl::UnimplementedError(
          "tokenizer.json normalizer Replace is only supported with a String pattern");
    }
    JETSERVE_RETURN_IF_ERROR(GetString(*pattern, "String", "normalizer Replace", &from));
    JETSERVE_RETURN_IF_ERROR(GetString(*normalizer, "content", "normalizer Replace", &to));
    if (from.empty()) return Bad("normalizer Replace", "empty pattern");
    vocab->hf_normalizers.push_back({HfNormalizerStep::Kind::kReplace, from, to});
    return absl::OkStatus();
  }
  return absl::UnimplementedError(
      absl::StrCat("tokenizer.json normalizer \"", type, "\" is not supported"));
}

absl::Status AddSplitPattern(const Json& split, Vocab* vocab) {
  const Json* pattern = Member(split, "pattern");
  if (pattern == nullptr) return Bad("pre_tokenizer Split", "missing \"pattern\"");
  std::string behavior = "Isolated";
  if (Member(split, "behavior") != nullptr) {
    JETSERVE_RETURN_IF_ERROR(GetString(split, "behavior", "pre_tokenizer Split", &behavior));
  }
  bool invert = false;
  JETSERVE_RETURN_IF_ERROR(GetBool(split, "invert", "pre_tokenizer Split", &invert));
  if (behavior != "Isolated" || invert) {
    return absl::UnimplementedError(
        absl::StrCat("tokenizer.json pre_tokenizer Split with behavior ", behavior,
                     invert ? " (inverted)" : "", " is not supported"));
  }
  std::string text;
  if (Member(*pattern, "Regex") != nullptr) {
    JETSERVE_RETURN_IF_ERROR(GetString(*pattern, "Regex", "pre_tokenizer Split", &text));
  } else if (Member(*pattern, "String") != nullptr) {
    std::string literal;
    JETSERVE_RETURN_IF_ERROR(GetString(*pattern, "String", "pre_tokenizer Split", &literal));
    text = absl::StrCat("\\Q", literal, "\\E");
  } else {
    return Bad("pre_tokenizer Split", "pattern is neither Regex nor String");
  }
  vocab->hf_split_patterns.push_back(std::move(text));
  return absl::OkStatus();
}

absl::Status LoadPreTokenizer(const Json* pre, Vocab* vocab) {
  if (pre == nullptr) return absl::OkStatus();
  std::string type;
  JETSERVE_RETURN_IF_ERROR(GetString(*pre, "type", "pre_tokenizer", &type));
  if (type == "Sequence") {
    const Json* list = Member(*pre, "pretokenizers");
    if (list == nullptr || !list->is_array())
      return Bad("pre_tokenizer", "Sequence without a list");
    for (const Json& item : *list) JETSERVE_RETURN_IF_ERROR(LoadPreTokenizer(&item, vocab));
    return absl::OkStatus();
  }
  if (type == "BertPreTokenizer") {
    if (vocab->model != ModelKind::kWordPiece) {
      return absl::UnimplementedError(
          "tokenizer.json BertPreTokenizer is only supported with WordPiece");
    }
    return absl::OkStatus();
  }
  if (type == "ByteLevel") {
    bool use_regex = true;
    JETSERVE_RETURN_IF_ERROR(GetBool(*pre, "use_regex", "pre_tokenizer", &use_regex));
    JETSERVE_RETURN_IF_ERROR(
        GetBool(*pre, "add_prefix_space", "pre_tokenizer", &vocab->hf_add_prefix_space));
    vocab->byte_level = true;
    if (use_regex) {
      if (vocab->pre == PreTokenizerKind::kHfCustom) {
        vocab->hf_split_patterns.push_back(PreTokenizerPatterns(PreTokenizerKind::kGpt2)[0]);
      } else {
        vocab->pre = PreTokenizerKind::kHfByteLevel;
      }
    }
    return absl::OkStatus();
  }
  if (type == "Split") {
    if (vocab->pre == PreTokenizerKind::kHfByteLevel) {
      vocab->hf_split_patterns = PreTokenizerPatterns(PreTokenizerKind::kGpt2);
    }
    vocab->pre = PreTokenizerKind::kHfCustom;
    return AddSplitPattern(*pre, vocab);
  }
  if (type == "Metaspace") {
    HfMetaspace& meta = vocab->hf_metaspace;
    meta.enabled = true;
    if (Member(*pre, "replacement") != nullptr) {
      JETSERVE_RETURN_IF_ERROR(GetString(*pre, "replacement", "pre_tokenizer", &meta.replacement));
    }
    if (meta.replacement.empty()) return Bad("pre_tokenizer Metaspace", "empty replacement");
    JETSERVE_RETURN_IF_ERROR(GetBool(*pre, "split", "pre_tokenizer", &meta.split));
    bool add_prefix_space = true;  // older files
    JETSERVE_RETURN_IF_ERROR(GetBool(*pre, "add_prefix_space", "pre_tokenizer", &add_prefix_space));
    meta.prepend = add_prefix_space ? HfMetaspace::Prepend::kAlways : HfMetaspace::Prepend::kNever;
    if (Member(*pre, "prepend_scheme") != nullptr) {
      std::string scheme;
      JETSERVE_RETURN_IF_ERROR(GetString(*pre, "prepend_scheme", "pre_tokenizer", &scheme));
      if (scheme == "always") {
        meta.prepend = HfMetaspace::Prepend::kAlways;
      } else if (scheme == "first") {
        meta.prepend = HfMetaspace::Prepend::kFirst;
      } else if (scheme == "never") {
        meta.prepend = HfMetaspace::Prepend::kNever;
      } else {
        return Bad("pre_tokenizer Metaspace",
                   absl::StrCat("unknown prepend_scheme '", scheme, "'"));
      }
    }
    return absl::OkStatus();
  }
  if (type == "Digits") {
    bool individual = false;
    JETSERVE_RETURN_IF_ERROR(GetBool(*pre, "individual_digits", "pre_tokenizer", &individual));
    if (vocab->pre == PreTokenizerKind::kHfByteLevel) {
      vocab->hf_split_patterns = PreTokenizerPatterns(PreTokenizerKind::kGpt2);
    }
    vocab->pre = PreTokenizerKind::kHfCustom;
    vocab->hf_split_patterns.push_back(individual ? R"(\p{N})" : R"(\p{N}+)");
    return absl::OkStatus();
  }
  return absl::UnimplementedError(
      absl::StrCat("tokenizer.json pre_tokenizer \"", type, "\" is not supported"));
}

// Fills *vocab->tokens from the model's vocab object (token -> id).
absl::Status LoadVocabMap(const Json& model, Vocab* vocab) {
  const Json* map = Member(model, "vocab");
  if (map == nullptr || !map->is_object()) return Bad("model", "\"vocab\" is not an object");
  std::vector<std::pair<std::string, int64_t>> entries;
  entries.reserve(map->size());
  int64_t max_id = -1;
  for (auto it = map->begin(); it != map->end(); ++it) {
    int64_t id = 0;
    JETSERVE_RETURN_IF_ERROR(
        GetId(it.value(), absl::StrCat("model.vocab[\"", it.key(), "\"]"), &id));
    max_id = std::max(max_id, id);
    entries.emplace_back(it.key(), id);
  }
  vocab->tokens.assign(static_cast<size_t>(max_id + 1), std::string());
  std::vector<bool> seen(vocab->tokens.size(), false);
  for (auto& [token, id] : entries) {
    if (seen[static_cast<size_t>(id)]) {
      return Bad("model.vocab", absl::StrCat("token id ", id, " is used twice"));
    }
    seen[static_cast<size_t>(id)] = true;
    vocab->tokens[static_cast<size_t>(id)] = std::move(token);
  }
  return absl::OkStatus();
}

absl::Status LoadModel(const Json& model, Vocab* vocab,
                       absl::flat_hash_map<std::string, TokenId>* by_text) {
  std::string type;
  JETSERVE_RETURN_IF_ERROR(GetString(model, "type", "model", &type));
  if (type == "WordPiece") {
    vocab->model = ModelKind::kWordPiece;
    vocab->pre = PreTokenizerKind::kNone;
    JETSERVE_RETURN_IF_ERROR(LoadVocabMap(model, vocab));
    if (Member(model, "continuing_subword_prefix") != nullptr) {
      JETSERVE_RETURN_IF_ERROR(GetString(model, "continuing_subword_prefix", "model",
                                         &vocab->wordpiece_continuing_prefix));
    }
    if (const Json* max_chars = Member(model, "max_input_chars_per_word"); max_chars != nullptr) {
      if (!max_chars->is_number_integer())
        return Bad("model", "max_input_chars_per_word is not an integer");
      vocab->wordpiece_max_input_chars =
          static_cast<int>(std::clamp<int64_t>(max_chars->get<int64_t>(), 0, 1 << 30));
    }
  } else if (type == "BPE") {
    vocab->model = ModelKind::kBpe;
    vocab->pre = PreTokenizerKind::kNone;
    vocab->byte_level = false;
    vocab->byte_fallback = false;
    JETSERVE_RETURN_IF_ERROR(LoadVocabMap(model, vocab));
    JETSERVE_RETURN_IF_ERROR(GetBool(model, "byte_fallback", "model", &vocab->byte_fallback));
    JETSERVE_RETURN_IF_ERROR(GetBool(model, "ignore_merges", "model", &vocab->ignore_merges));
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      const Json* v = Member(model, key);
      if (v != nullptr && !(v->is_string() && v->get<std::string>().empty())) {
        return absl::UnimplementedError(
            absl::StrCat("tokenizer.json BPE ", key, " is not supported"));
      }
    }
    const Json* merges = Member(model, "merges");
    if (merges == nullptr || !merges->is_array()) return Bad("model", "\"merges\" is not a list");
    vocab->merges.reserve(merges->size());
    for (size_t i = 0; i < merges->size(); ++i) {
      const Json& merge = (*merges)[i];
      std::string left, right;
      if (merge.is_string()) {
        const std::string text = merge.get<std::string>();
        const size_t space = text.find(' ');
        if (space == std::string::npos) {
          return Bad("model.merges", absl::StrCat("merge ", i, " '", text, "' has no space"));
        }
        left = text.substr(0, space);
        right = text.substr(space + 1);
      } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
                 merge[1].is_string()) {
        left = merge[0].get<std::string>();
        right = merge[1].get<std::string>();
      } else {
        return Bad("model.merges", absl::StrCat("merge ", i, " is neither \"a b\" nor [a, b]"));
      }
      for (const std::string* side : {&left, &right}) {
        if (by_text->empty()) {
          for (size_t t = 0; t < vocab->tokens.size(); ++t) {
            by_text->try_emplace(vocab->tokens[t], static_cast<TokenId>(t));
          }
        }
        if (!by_text->contains(*side)) {
          return Bad("model.merges", absl::StrCat("merge ", i, " names '", *side,
                                                  "', which is not in the vocabulary"));
        }
      }
      if (!by_text->contains(left + right)) {
        return Bad("model.merges", absl::StrCat("merge ", i, " makes '", left, right,
                                                "', which is not in the vocabulary"));
      }
      vocab->merges.emplace_back(std::move(left), std::move(right));
    }
  } else if (type == "Unigram") {
    vocab->model = ModelKind::kUnigram;
    vocab->pre = PreTokenizerKind::kNone;
    vocab->byte_level = false;
    vocab->byte_fallback = false;
    JETSERVE_RETURN_IF_ERROR(GetBool(model, "byte_fallback", "model", &vocab->byte_fallback));
    const Json* pieces = Member(model, "vocab");
    if (pieces == nullptr || !pieces->is_array()) return Bad("model", "\"vocab\" is not a list");
    if (pieces->size() > static_cast<size_t>(kMaxVocabSize)) return Bad("model", "vocab too large");
    for (size_t i = 0; i < pieces->size(); ++i) {
      const Json& piece = (*pieces)[i];
      if (!piece.is_array() || piece.size() != 2 || !piece[0].is_string() ||
          !piece[1].is_number()) {
        return Bad("model.vocab", absl::StrCat("entry ", i, " is not [piece, score]"));
      }
      vocab->tokens.push_back(piece[0].get<std::string>());
      vocab->scores.push_back(piece[1].get<float>());
    }
    if (const Json* unk_id = Member(model, "unk_id"); unk_id != nullptr) {
      int64_t id = 0;
      JETSERVE_RETURN_IF_ERROR(GetId(*unk_id, "model.unk_id", &id));
      if (static_cast<size_t>(id) >= vocab->tokens.size()) {
        return Bad("model", absl::StrCat("unk_id ", id, " is not in the vocabulary"));
      }
      vocab->special.unk = static_cast<TokenId>(id);
    }
    return absl::OkStatus();
  } else {
    return absl::UnimplementedError(
        absl::StrCat("tokenizer.json model type \"", type, "\" is not supported"));
  }
  if (const Json* unk = Member(model, "unk_token"); unk != nullptr) {
    if (!unk->is_string()) return Bad("model", "\"unk_token\" is not a string");
    const std::string text = unk->get<std::string>();
    for (size_t t = 0; t < vocab->tokens.size(); ++t) {
      if (vocab->tokens[t] == text) {
        vocab->special.unk = static_cast<TokenId>(t);
        break;
      }
    }
    if (vocab->special.unk == kNoToken) {
      return Bad("model", absl::StrCat("unk_token '", text, "' is not in the vocabulary"));
    }
  }
  return absl::OkStatus();
}

absl::Status LoadAddedTokens(const Json* added, Vocab* vocab) {
  if (added == nullptr) return absl::OkStatus();
  if (!added->is_array()) return Bad("added_tokens", "not a list");
  for (size_t i = 0; i < added->size(); ++i) {
    const Json& entry = (*added)[i];
    const std::string where = absl::StrCat("added_tokens[", i, "]");
    const Json* id_json = Member(entry, "id");
    if (id_json == nullptr) return Bad(where, "missing \"id\"");
    int64_t id = 0;
    JETSERVE_RETURN_IF_ERROR(GetId(*id_json, where, &id));
    std::string content;
    JETSERVE_RETURN_IF_ERROR(GetString(entry, "content", where, &content));
    if (content.empty()) return Bad(where, "empty \"content\"");
    bool special = false;
    AddedTokenOptions options;
    options.id = static_cast<TokenId>(id);
    JETSERVE_RETURN_IF_ERROR(GetBool(entry, "special", where, &special));
    JETSERVE_RETURN_IF_ERROR(GetBool(entry, "lstrip", where, &options.lstrip));
    JETSERVE_RETURN_IF_ERROR(GetBool(entry, "rstrip", where, &options.rstrip));
    JETSERVE_RETURN_IF_ERROR(GetBool(entry, "single_word", where, &options.single_word));
    const auto index = static_cast<size_t>(id);
    if (index >= vocab->tokens.size()) vocab->tokens.resize(index + 1);
    if (vocab->types.size() < vocab->tokens.size()) {
      vocab->types.resize(vocab->tokens.size(), TokenType::kNormal);
    }
    if (!vocab->tokens[index].empty() && vocab->tokens[index] != content) {
      return Bad(where, absl::StrCat("id ", id, " is '", vocab->tokens[index],
                                     "' in the model's vocabulary, not '", content, "'"));
    }
    vocab->tokens[index] = content;
    vocab->types[index] = special ? TokenType::kControl : TokenType::kUserDefined;
    vocab->added_token_options.push_back(options);
  }
  return absl::OkStatus();
}

// Resolves a special token given as text (post-processor entries) to its id.
absl::StatusOr<TokenId> IdOfText(const Vocab& vocab, const std::string& text,
                                 std::string_view where) {
  for (size_t t = 0; t < vocab.tokens.size(); ++t) {
    if (vocab.tokens[t] == text) return static_cast<TokenId>(t);
  }
  return Bad(where, absl::StrCat("special token '", text, "' is not in the vocabulary"));
}

absl::Status LoadPostProcessor(const Json* post, Vocab* vocab) {
  if (post == nullptr) return absl::OkStatus();
  std::string type;
  JETSERVE_RETURN_IF_ERROR(GetString(*post, "type", "post_processor", &type));
  HfPostProcessing& hf = vocab->hf_post;
  if (type == "Sequence") {
    const Json* list = Member(*post, "processors");
    if (list == nullptr || !list->is_array())
      return Bad("post_processor", "Sequence without a list");
    for (const Json& item : *list) JETSERVE_RETURN_IF_ERROR(LoadPostProcessor(&item, vocab));
    return absl::OkStatus();
  }
  if (type == "ByteLevel") return absl::OkStatus();
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    hf.has_template = true;
    hf.prefix.clear();
    hf.suffix.clear();
    for (const char* key : {"cls", "sep"}) {
      const Json* pair = Member(*post, key);
      if (pair == nullptr || !pair->is_array() || pair->size() != 2) {
        return Bad("post_processor", absl::StrCat("\"", key, "\" is not [token, id]"));
      }
      int64_t id = 0;
      JETSERVE_RETURN_IF_ERROR(GetId((*pair)[1], "post_processor", &id));
      if (static_cast<size_t>(id) >= vocab->tokens.size()) {
        return Bad("post_processor", absl::StrCat("token id ", id, " is not in the vocabulary"));
      }
      (std::string_view(key) == "cls" ? hf.prefix : hf.suffix).push_back(static_cast<TokenId>(id));
    }
    // Pairs: BERT  [CLS] A [SEP] B:1 [SEP]:1;  RoBERTa  <s> A </s> </s> B </s> (type ids 0).
    using Piece = HfPostProcessing::PairPiece;
    const bool bert = type == "BertProcessing";
    const std::vector<TokenId> cls = hf.prefix, sep = hf.suffix;
    hf.pair = {Piece{-1, cls, 0}, Piece{0, {}, 0}, Piece{-1, sep, 0}};
    if (!bert) hf.pair.push_back(Piece{-1, sep, 0});
    hf.pair.push_back(Piece{1, {}, bert ? 1 : 0});
    hf.pair.push_back(Piece{-1, sep, bert ? 1 : 0});
    return absl::OkStatus();
  }
  if (type == "TemplateProcessing") {
    const Json* single = Member(*post, "single");
    if (single == nullptr || !single->is_array())
      return Bad("post_processor", "\"single\" is not a list");
    // A piece: {"Sequence": {"id": "A"|"B", "type_id": n}} or
    // {"SpecialToken": {"id": name, "type_id": n}} (ids from "special_tokens", else the token).
    using Piece = HfPostProcessing::PairPiece;
    auto parse_piece = [&](const Json& piece, Piece* out) -> absl::Status {
      const Json* seq = Member(piece, "Sequence");
      const Json* special = Member(piece, "SpecialToken");
      const Json* body = seq != nullptr ? seq : special;
      if (body == nullptr) {
        return Bad("post_processor", "template piece is neither Sequence nor SpecialToken");
      }
      int64_t type_id = 0;
      if (const Json* t = Member(*body, "type_id"); t != nullptr) {
        JETSERVE_RETURN_IF_ERROR(GetId(*t, "post_processor type_id", &type_id));
      }
      out->type_id = static_cast<int32_t>(type_id);
      std::string name;
      JETSERVE_RETURN_IF_ERROR(GetString(*body, "id", "post_processor", &name));
      if (seq != nullptr) {
        if (name != "A" && name != "B") {
          return Bad("post_processor", absl::StrCat("sequence id \"", name, "\" is not A or B"));
        }
        out->sequence = name == "A" ? 0 : 1;
        return absl::OkStatus();
      }
      out->sequence = -1;
      const Json* table = Member(*post, "special_tokens");
      const Json* entry = table != nullptr ? Member(*table, name) : nullptr;
      const Json* listed = entry != nullptr ? Member(*entry, "ids") : nullptr;
      if (listed != nullptr && listed->is_array()) {
        for (const Json& id_json : *listed) {
          int64_t id = 0;
          JETSERVE_RETURN_IF_ERROR(GetId(id_json, "post_processor", &id));
          if (static_cast<size_t>(id) >= vocab->tokens.size()) {
            return Bad("post_processor",
                       absl::StrCat("token id ", id, " is not in the vocabulary"));
          }
          out->ids.push_back(static_cast<TokenId>(id));
        }
      } else {
        absl::StatusOr<TokenId> id = IdOfText(*vocab, name, "post_processor");
        if (!id.ok()) return id.status();
        out->ids.push_back(*id);
      }
      return absl::OkStatus();
    };
    hf.has_template = true;
    hf.prefix.clear();
    hf.suffix.clear();
    hf.pair.clear();
    bool after_sequence = false;
    for (const Json& json : *single) {
      Piece piece;
      JETSERVE_RETURN_IF_ERROR(parse_piece(json, &piece));
      if (piece.sequence >= 0) {
        after_sequence = true;
        continue;
      }
      auto& target = after_sequence ? hf.suffix : hf.prefix;
      target.insert(target.end(), piece.ids.begin(), piece.ids.end());
    }
    if (const Json* pair = Member(*post, "pair"); pair != nullptr) {
      if (!pair->is_array()) return Bad("post_processor", "\"pair\" is not a list");
      bool a = false, b = false;
      for (const Json& json : *pair) {
        Piece piece;
        JETSERVE_RETURN_IF_ERROR(parse_piece(json, &piece));
        a |= piece.sequence == 0;
        b |= piece.sequence == 1;
        hf.pair.push_back(std::move(piece));
      }
      if (!a || !b) return Bad("post_processor", "\"pair\" lacks sequence A or B");
    }
    return absl::OkStatus();
  }
  return absl::UnimplementedError(
      absl::StrCat("tokenizer.json post_processor \"", type, "\" is not supported"));
}

absl::Status LoadTruncationAndPadding(const Json& root, Vocab* vocab) {
  HfPostProcessing& hf = vocab->hf_post;
  if (const Json* t = Member(root, "truncation"); t != nullptr) {
    const Json* max_length = Member(*t, "max_length");
    if (max_length == nullptr || !max_length->is_number_unsigned()) {
      return Bad("truncation", "\"max_length\" is not a non-negative integer");
    }
    hf.truncate = true;
    hf.max_length = max_length->get<size_t>();
    std::string direction = "Right";
    if (Member(*t, "direction") != nullptr) {
      JETSERVE_RETURN_IF_ERROR(GetString(*t, "direction", "truncation", &direction));
    }
    hf.truncate_left = direction == "Left";
  }
  if (const Json* p = Member(root, "padding"); p != nullptr) {
    const Json* strategy = Member(*p, "strategy");
    if (strategy == nullptr) return Bad("padding", "missing \"strategy\"");
    if (strategy->is_string() && strategy->get<std::string>() == "BatchLongest") {
      hf.padding = HfPostProcessing::Padding::kBatchLongest;
    } else if (const Json* fixed = Member(*strategy, "Fixed");
               fixed != nullptr && fixed->is_number_unsigned()) {
      hf.padding = HfPostProcessing::Padding::kFixed;
      hf.pad_length = fixed->get<size_t>();
    } else {
      return Bad("padding", "\"strategy\" is neither \"BatchLongest\" nor {\"Fixed\": n}");
    }
    if (const Json* multiple = Member(*p, "pad_to_multiple_of"); multiple != nullptr) {
      if (!multiple->is_number_unsigned())
        return Bad("padding", "\"pad_to_multiple_of\" is not an integer");
      hf.pad_to_multiple_of = multiple->get<size_t>();
    }
    if (const Json* id = Member(*p, "pad_id"); id != nullptr) {
      int64_t value = 0;
      JETSERVE_RETURN_IF_ERROR(GetId(*id, "padding", &value));
      if (static_cast<size_t>(value) >= vocab->tokens.size()) {
        return Bad("padding", absl::StrCat("pad_id ", value, " is not in the vocabulary"));
      }
      hf.pad_id = static_cast<TokenId>(value);
      vocab->special.pad = hf.pad_id;
    }
    if (const Json* type_id = Member(*p, "pad_type_id");
        type_id != nullptr && type_id->is_number_integer()) {
      hf.pad_type_id = static_cast<int32_t>(type_id->get<int64_t>());
    }
    std::string direction = "Right";
    if (Member(*p, "direction") != nullptr) {
      JETSERVE_RETURN_IF_ERROR(GetString(*p, "direction", "padding", &direction));
    }
    hf.pad_left = direction == "Left";
  }
  return absl::OkStatus();
}

absl::StatusOr<Vocab> Convert(const Json& root) {
  if (!root.is_object()) return Bad("root", "not an object");
  Vocab vocab;
  vocab.flavor = Flavor::kHuggingFace;
  vocab.add_space_prefix = false;
  const Json* model = Member(root, "model");
  if (model == nullptr) return Bad("root", "missing \"model\"");
  absl::flat_hash_map<std::string, TokenId> by_text;
  JETSERVE_RETURN_IF_ERROR(LoadModel(*model, &vocab, &by_text));
  JETSERVE_RETURN_IF_ERROR(LoadAddedTokens(Member(root, "added_tokens"), &vocab));
  vocab.types.resize(vocab.tokens.size(), TokenType::kNormal);
  if (!vocab.scores.empty()) vocab.scores.resize(vocab.tokens.size(), 0.0f);
  for (size_t t = 0; t < vocab.tokens.size(); ++t) {
    if (vocab.tokens[t].empty())
      return Bad("model.vocab", absl::StrCat("token id ", t, " has no text"));
  }
  JETSERVE_RETURN_IF_ERROR(LoadNormalizer(Member(root, "normalizer"), &vocab));
  JETSERVE_RETURN_IF_ERROR(LoadPreTokenizer(Member(root, "pre_tokenizer"), &vocab));
  JETSERVE_RETURN_IF_ERROR(LoadPostProcessor(Member(root, "post_processor"), &vocab));
  if (const Json* decoder = Member(root, "decoder"); decoder != nullptr) {
    std::string type;
    if (Member(*decoder, "type") != nullptr) {
      JETSERVE_RETURN_IF_ERROR(GetString(*decoder, "type", "decoder", &type));
    }
    if (type == "WordPiece") {
      vocab.hf_wordpiece_cleanup = true;
      JETSERVE_RETURN_IF_ERROR(
          GetBool(*decoder, "cleanup", "decoder", &vocab.hf_wordpiece_cleanup));
    }
  }
  JETSERVE_RETURN_IF_ERROR(LoadTruncationAndPadding(root, &vocab));
  // Name the usual special tokens for callers (pooling, padding, chat).
  for (size_t t = 0; t < vocab.tokens.size(); ++t) {
    const std::string& text = vocab.tokens[t];
    const auto id = static_cast<TokenId>(t);
    if (vocab.types[t] != TokenType::kControl) continue;
    if (text == "[CLS]" || text == "<s>") vocab.special.cls = id;
    if (text == "[SEP]" || text == "</s>") vocab.special.sep = id;
    if (text == "[PAD]" || text == "<pad>") vocab.special.pad = id;
    if (text == "[MASK]" || text == "<mask>") vocab.special.mask = id;
    if (text == "<s>" || text == "<|begin_of_text|>") vocab.special.bos = id;
    if (text == "</s>" || text == "<|endoftext|>" || text == "<|end_of_text|>")
      vocab.special.eos = id;
  }
  if (vocab.hf_post.padding != HfPostProcessing::Padding::kNone)
    vocab.special.pad = vocab.hf_post.pad_id;
  return vocab;
}

}  // namespace

absl::StatusOr<Vocab> ParseHfTokenizerJson(std::string_view json_text) {
  Json root = Json::parse(json_text.begin(), json_text.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return absl::InvalidArgumentError("tokenizer.json is not valid JSON");
  try {
    return Convert(root);
  } catch (const Json::exception& e) {  // a type the checks above missed: never escapes
    return absl::InvalidArgumentError(absl::StrCat("tokenizer.json: ", e.what()));
  }
}

absl::StatusOr<Vocab> LoadHfTokenizerJson(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  absl::StatusOr<Vocab> vocab = ParseHfTokenizerJson(buffer.str());
  if (!vocab.ok()) {
    return absl::Status(vocab.status().code(), absl::StrCat(path, ": ", vocab.status().message()));
  }
  return vocab;
}

}  // namespace jetserve::tokenizer
