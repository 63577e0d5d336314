// Tokenizer: text to token ids and back, for every vocabulary the loaders produce
// (SentencePiece-style, byte-level BPE, WordPiece). Built once per model from a Vocab and
// then immutable: Encode/Decode are thread-safe and never fail on any input bytes.
//
//   ASSIGN_OR_RETURN(auto vocab, LoadGgufVocab(path));
//   ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, Tokenizer::Create(std::move(vocab)));
//   std::vector<TokenId> ids = tok->Encode(prompt, {.add_special = true, .parse_special = true});
//   std::string text = tok->Decode(ids, {});
#ifndef JETSERVE_ENGINE_TOKENIZER_TOKENIZER_H_
#define JETSERVE_ENGINE_TOKENIZER_TOKENIZER_H_

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/bpe.h"
#include "engine/tokenizer/pretokenizer.h"
#include "engine/tokenizer/spm.h"
#include "engine/tokenizer/token_index.h"
#include "engine/tokenizer/unigram.h"
#include "engine/tokenizer/vocab.h"

namespace jetserve::tokenizer {

struct EncodeOptions {
  // Add BOS/EOS (or [CLS]/[SEP]) as the vocabulary's metadata says.
  bool add_special = false;
  // Text spelling a control token (e.g. "<|im_end|>") becomes that token; otherwise it is
  // tokenized as plain text. User-defined (added, non-special) tokens always match.
  bool parse_special = false;
};

struct DecodeOptions {
  // Render control tokens (BOS, "<|im_end|>", …) as their text instead of nothing.
  bool special = false;
  // Drop the leading space the encoder adds (SPM "▁" prefix, WordPiece word spacing, HF
  // ByteLevel add_prefix_space).
  bool strip_leading_space = true;
};

// Model-ready input of one text: special tokens, truncation and padding as a
// tokenizer.json says (GGUF vocabularies: special tokens only).
struct ModelInput {
  std::vector<TokenId> ids;
  std::vector<int32_t> type_ids;
  std::vector<int32_t> attention_mask;  // 1 for tokens, 0 for padding
};

class Tokenizer {
 public:
  // Validates the vocabulary (sizes, ids in range, merges, patterns): InvalidArgument with
  // the offending field otherwise.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Create(Vocab vocab);

  std::vector<TokenId> Encode(std::string_view text, const EncodeOptions& options) const;
  // Encode with add_special and parse_special, then truncation and padding.
  ModelInput EncodeForModel(std::string_view text) const;

  // The bytes a token stands for (may be part of a UTF-8 character). Control tokens give
  // "" unless `special`. Out-of-range ids give "".
  std::string TokenToPiece(TokenId id, bool special) const;

  // The piece of `id` as rendered in a decoded text. *first: no earlier token has had a
  // piece yet (there the encoder's leading space is dropped and HF WordPiece keeps a
  // leading "##"); cleared once a token has one. Also applies the HF WordPiece decoder's
  // cleanup (" ," -> ",").
  std::string PieceInText(TokenId id, const DecodeOptions& options, bool* first) const;

  // Concatenated pieces (raw bytes: byte-fallback tokens may leave invalid UTF-8 when the
  // ids do not come from Encode).
  std::string Decode(std::span<const TokenId> ids, const DecodeOptions& options) const;

  // HF byte fallback decoding (tokenizers' ByteFallback decoder): a run of <0xXX> tokens
  // whose bytes are not valid UTF-8 as a whole gives one U+FFFD per token. True for HF
  // vocabularies with byte fallback; ByteOfToken then says which tokens are bytes (-1: not).
  bool GroupsByteRuns() const;
  int ByteOfToken(TokenId id) const;
  // Resolves a run of `count` byte tokens holding `bytes`, as the ByteFallback decoder does.
  static void AppendByteRun(std::string_view bytes, size_t count, std::string* out);

  // Whether decoding strips one leading space from the first piece.
  bool StripsLeadingSpace() const;
  // End of generation: EOS, EOT, EOM, and (GGUF) the tokens llama.cpp ends on by text.
  bool IsEndOfGeneration(TokenId id) const;
  bool IsControl(TokenId id) const;

  const Vocab& vocab() const { return vocab_; }
  int32_t size() const { return static_cast<int32_t>(vocab_.tokens.size()); }
  TokenId Find(std::string_view text) const { return index_.Find(text); }

 private:
  struct Fragment {
    TokenId token;  // kNoToken for raw text
    size_t offset;
    size_t length;
  };
  struct SpecialMatch {
    TokenId id;
    bool always;  // user-defined: matched even without parse_special
    bool lstrip;
    bool rstrip;
  };

  explicit Tokenizer(Vocab vocab);
  absl::Status Init();
  TokenType Type(TokenId id) const;
  void Partition(std::string_view text, bool parse_special, std::vector<Fragment>* out) const;
  // `first`: the fragment follows a special token or starts the text (SPM), or starts the
  // text (HF).
  void EncodeText(std::string_view text, bool first, std::vector<TokenId>* out) const;
  void EncodeHfText(std::string_view text, bool first_section, std::vector<TokenId>* out) const;

  Vocab vocab_;
  TokenIndex index_;
  std::vector<SpecialMatch> specials_;      // longest text first
  std::vector<TokenId> end_of_generation_;  // sorted
  std::optional<BpeModel> bpe_;
  std::optional<SpmModel> spm_;
  std::optional<UnigramModel> unigram_;
  std::optional<PreTokenizer> pre_;
};

}  // namespace jetserve::tokenizer

#endif  // JETSERVE_ENGINE_TOKENIZER_TOKENIZER_H_
