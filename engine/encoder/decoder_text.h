// Embed and zero-shot Classify on a decoder-only model (GGUF): the text tasks of the API
// served by a causal LM, beside engine/encoder's TextEncoder for BERT-family models.
//
//   DecoderText dt(*decoder, *tokenizer, /*max_tokens=*/4096);
//   JS_ASSIGN_OR_RETURN(auto vecs, dt.Embed(texts, {.pooling = Pooling::kLast}, &pool));
//   JS_ASSIGN_OR_RETURN(auto scores, dt.ZeroShot(text, {"sports", "cooking"}, {}, &pool));
//
// Embed pools the final hidden states (after the output norm, before the output
// projection; what llama.cpp's embedding mode pools): the last token's (default, unless the
// GGUF states <arch>.pooling_type), the mean, or the first token's; then normalize and
// `dimensions` as TextEncoder does. Texts are tokenized with the vocabulary's BOS/EOS,
// special-token text not parsed.
//
// Zero-shot scores each candidate label by its log-likelihood as the continuation of a
// prompt: the template "... {} ..." is cut at "{}"; the context is
// `text + "\n" + template-before-{}` with its trailing spaces moved to the continuation,
// the continuation is `spaces + label` (tokenized alone, no BOS). A label's score is the sum
// of its tokens' log-probabilities; the labels' scores go through one softmax, or with
// multi_label each label gets exp(mean token log-probability) (the geometric-mean
// probability of its tokens, independent of the other labels). The template's text after
// "{}" is not scored.
//
// The Decoder and Tokenizer are borrowed and must outlive this object, which is immutable
// (calls may run concurrently, each with its own pool).
#ifndef JETSERVE_ENGINE_ENCODER_DECODER_TEXT_H_
#define JETSERVE_ENGINE_ENCODER_DECODER_TEXT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/encoder/text_encoder.h"
#include "engine/model/decoder.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/util/thread_pool.h"

namespace jetserve::encoder {

class DecoderText {
 public:
  // max_tokens: the longest input served (e.g. the worker's context length).
  DecoderText(const model::Decoder& decoder, const tokenizer::Tokenizer& tokenizer,
              int64_t max_tokens);

  int64_t max_tokens() const { return max_tokens_; }
  Pooling default_pooling() const { return pooling_; }

  // `truncated` / `tokens` (optional): per text, whether it was cut and its token count.
  absl::StatusOr<std::vector<std::vector<float>>> Embed(
      absl::Span<const std::string> texts, const EmbedOptions& options, ThreadPool* pool,
      std::vector<uint8_t>* truncated = nullptr, std::vector<int32_t>* tokens = nullptr) const;

  // Labels with scores, best first (see above).
  absl::StatusOr<std::vector<LabelScore>> ZeroShot(const std::string& text,
                                                   absl::Span<const std::string> labels,
                                                   const ZeroShotOptions& options,
                                                   ThreadPool* pool) const;

  // The natural-log probability of each continuation token of each label, in label order.
  // *context_tokens (optional) gets the context's token count after truncation.
  absl::StatusOr<std::vector<std::vector<double>>> LabelLogProbs(
      const std::string& text, absl::Span<const std::string> labels,
      const std::string& hypothesis_template, Truncation truncation, ThreadPool* pool,
      int32_t* context_tokens = nullptr) const;

  // Token ids of one text as Embed feeds them (after truncation).
  absl::StatusOr<std::vector<int32_t>> EmbedTokens(const std::string& text, Truncation truncation,
                                                   bool* was_truncated = nullptr) const;

 private:
  const model::Decoder& decoder_;
  const tokenizer::Tokenizer& tokenizer_;
  int64_t max_tokens_;
  Pooling pooling_ = Pooling::kLast;
};

}  // namespace jetserve::encoder

#endif  // JETSERVE_ENGINE_ENCODER_DECODER_TEXT_H_
