// The plain vocabulary every tokenizer is built from, whatever file it came from (GGUF
// tokenizer.ggml.* metadata or a HuggingFace tokenizer.json): tokens with scores and types,
// BPE merges, special token ids, the pre-tokenizer family and the flags that change
// behaviour. Loaders fill it; Tokenizer::Create validates and indexes it.
#ifndef JETSERVE_ENGINE_TOKENIZER_VOCAB_H_
#define JETSERVE_ENGINE_TOKENIZER_VOCAB_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace jetserve::tokenizer {

using TokenId = int32_t;
inline constexpr TokenId kNoToken = -1;

// GGUF's tokenizer.ggml.token_type values.
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

enum class ModelKind {
  kSpm,        // SentencePiece BPE by scores, byte fallback (GGUF "llama")
  kBpe,        // byte-level BPE by merge ranks (GGUF "gpt2", HF BPE)
  kWordPiece,  // greedy longest match (GGUF "bert", HF WordPiece)
  kUnigram,    // Viterbi over piece scores (HF Unigram)
};

// Pre-tokenizers: how text is split into words before the model runs. The llama.cpp
// families take their names from GGUF's tokenizer.ggml.pre.
enum class PreTokenizerKind {
  kNone,  // the whole text is one word
  kDefault,
  kGpt2,
  kLlama3,
  kQwen2,
  kStarcoder,  // also refact, smollm, command-r, codeshell, exaone, minerva
  kFalcon,
  kDeepseekLlm,
  kDeepseekCoder,
  kDeepseek3,
  kMpt,  // also olmo
  kStablelm2,
  kPoro,  // also bloom, gpt3-finnish
  kChatGlm4,
  kViking,
  kTekken,
  kHfByteLevel,  // HF ByteLevel(use_regex=true): the GPT-2 pattern
  kHfCustom,     // HF Split/Sequence: patterns in Vocab::hf_split_patterns
};

// Maps a tokenizer.ggml.pre value to its family; error for names not known.
absl::StatusOr<PreTokenizerKind> PreTokenizerFromGgufName(std::string_view name);

struct SpecialTokens {
  TokenId bos = kNoToken;
  TokenId eos = kNoToken;
  TokenId eot = kNoToken;  // end of turn (chat), found by name when the metadata lacks it
  TokenId eom = kNoToken;
  TokenId unk = kNoToken;
  TokenId sep = kNoToken;
  TokenId pad = kNoToken;
  TokenId cls = kNoToken;
  TokenId mask = kNoToken;
  TokenId nl = kNoToken;  // "\n" token (SPM "<0x0A>"), found by the tokenizer
};

// BERT-style text normalization (HF BertNormalizer and llama.cpp's WPM preprocessing).
struct BertNormalization {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool lowercase = true;
  bool strip_accents = true;
};

// Flavour of the rules where llama.cpp and HuggingFace tokenizers differ.
enum class Flavor { kLlamaCpp, kHuggingFace };

// An HF added token's matching options.
struct AddedTokenOptions {
  TokenId id = kNoToken;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
};

// One step of a tokenizer.json normalizer (BertNormalizer is handled by WordPiece).
struct HfNormalizerStep {
  enum class Kind { kUnicode, kLowercase, kPrepend, kReplace };
  Kind kind = Kind::kUnicode;
  std::string text;         // kUnicode: "NFC"/"NFD"/"NFKC"/"NFKD"; kPrepend/kReplace: text
  std::string replacement;  // kReplace
};

// HF Metaspace pre-tokenizer: spaces become `replacement`, which is prepended and split on.
struct HfMetaspace {
  bool enabled = false;
  std::string replacement = "\xE2\x96\x81";
  enum class Prepend { kAlways, kFirst, kNever };
  Prepend prepend = Prepend::kAlways;
  bool split = true;
};

// A tokenizer.json's post-processor, truncation and padding (single sequences), and the
// post-processor's template for text pairs.
struct HfPostProcessing {
  bool has_template = false;    // prefix/suffix replace add_bos/add_eos when set
  std::vector<TokenId> prefix;  // e.g. [CLS]
  std::vector<TokenId> suffix;  // e.g. [SEP]
  // The pair template: TemplateProcessing's "pair", or BertProcessing's
  // [CLS] A [SEP] B:1 [SEP]:1 / RobertaProcessing's <s> A </s> </s> B </s>. Each piece is the
  // first (sequence 0) or second (1) text, or special token ids, with its type id.
  struct PairPiece {
    int sequence = -1;  // 0: A, 1: B, -1: `ids`
    std::vector<TokenId> ids;
    int32_t type_id = 0;
  };
  std::vector<PairPiece> pair;  // empty: no pair template
  // Special tokens the pair template adds.
  size_t PairSpecials() const;
  // Joins two tokenized texts with the pair template: ids and their type ids. False (outputs
  // untouched) when there is no pair template.
  bool ApplyPair(const std::vector<TokenId>& a, const std::vector<TokenId>& b,
                 std::vector<TokenId>* ids, std::vector<int32_t>* type_ids) const;
  bool truncate = false;
  size_t max_length = 0;  // including the template's special tokens
  bool truncate_left = false;
  enum class Padding { kNone, kFixed, kBatchLongest };
  Padding padding = Padding::kNone;
  size_t pad_length = 0;  // kFixed
  size_t pad_to_multiple_of = 0;
  TokenId pad_id = 0;
  int32_t pad_type_id = 0;
  bool pad_left = false;
};

struct Vocab {
  ModelKind model = ModelKind::kBpe;
  PreTokenizerKind pre = PreTokenizerKind::kDefault;
  Flavor flavor = Flavor::kLlamaCpp;

  std::vector<std::string> tokens;
  std::vector<float> scores;                                // empty, or one per token
  std::vector<TokenType> types;                             // empty (all normal), or one per token
  std::vector<std::pair<std::string, std::string>> merges;  // BPE: rank = index

  SpecialTokens special;
  bool add_bos = false;  // on Encode(add_special = true)
  bool add_eos = false;
  bool add_sep = false;  // WordPiece: [SEP] after the text (add_bos: [CLS] before it)

  bool add_space_prefix = false;     // SPM: a space before the text ("▁" prefix)
  bool escape_whitespace = true;     // SPM: spaces become "▁"
  bool ignore_merges = false;        // BPE: a word found whole in the vocab is one token
  bool byte_fallback = true;         // SPM/HF BPE: unknown characters become <0xXX> tokens
  bool byte_level = true;            // BPE: GPT-2 byte-to-unicode encoding of words
  bool hf_add_prefix_space = false;  // HF ByteLevel add_prefix_space
  bool normalize_bert = false;       // WordPiece normalization (BertNormalization below)
  BertNormalization bert;
  std::string wordpiece_continuing_prefix = "##";  // HF; GGUF uses a "▁" word prefix
  std::string wordpiece_word_prefix;               // GGUF: "▁"
  int wordpiece_max_input_chars = 100;             // HF only
  bool hf_wordpiece_cleanup = false;               // HF WordPiece decoder "cleanup"
  std::vector<HfNormalizerStep> hf_normalizers;    // applied in order (HF flavour)
  HfMetaspace hf_metaspace;
  std::vector<std::string> hf_split_patterns;          // for PreTokenizerKind::kHfCustom
  std::vector<AddedTokenOptions> added_token_options;  // HF lstrip/rstrip per token
  HfPostProcessing hf_post;
};

}  // namespace jetserve::tokenizer

#endif  // JETSERVE_ENGINE_TOKENIZER_VOCAB_H_
