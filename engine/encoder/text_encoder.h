// Texts in, vectors and labels out: the encoder model plus its tokenizer, serving the
// Embed / Classify / Rerank jobs of the API on the native encoder.
//
//   JS_ASSIGN_OR_RETURN(auto te, TextEncoder::Load("models/minilm"));   // or a .gguf file
//   EncoderWorkspace ws;                                               // reuse per thread
//   JS_ASSIGN_OR_RETURN(auto vecs, te->Embed(texts, {.dimensions = 128}, &pool, &ws));
//   JS_ASSIGN_OR_RETURN(auto labels, te->Classify(pairs, {.top_k = 1}, &pool, &ws));
//   JS_ASSIGN_OR_RETURN(auto scores, te->Rerank(query, docs, {}, &pool, &ws));
//   JS_ASSIGN_OR_RETURN(auto zs, te->ZeroShot(text, {"sports", "politics"}, {}, &pool, &ws));
//
// Special tokens follow the tokenizer: tokenizer.json's post-processor template (single and
// pair), else per family ([CLS] a [SEP] b [SEP] with token types 0/1 for BERT,
// <s> a </s></s> b </s> for RoBERTa). A text over the model's limit is InvalidArgument unless
// a Truncation says which end to cut (the longest side of a pair first, as HF's longest_first).
#ifndef JETSERVE_ENGINE_ENCODER_TEXT_ENCODER_H_
#define JETSERVE_ENGINE_ENCODER_TEXT_ENCODER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/encoder/encoder_loader.h"
#include "engine/tokenizer/tokenizer.h"

namespace jetserve::encoder {

// What to do with an input over the model's limit: refuse it (InvalidArgument), keep its
// first tokens (cut the end) or keep its last tokens (cut the start). Special tokens are
// kept either way; a pair is cut longest side first (HF's longest_first, truncation_side
// right / left).
enum class Truncation { kNone, kEnd, kStart };

struct EmbedOptions {
  std::optional<Pooling> pooling;  // default: the model's (sentence-transformers config)
  std::optional<bool> normalize;   // default: the model's
  Truncation truncation = Truncation::kNone;
  int dimensions = 0;  // > 0: keep the first `dimensions` values (Matryoshka), renormalized
};

struct ClassifyOptions {
  Truncation truncation = Truncation::kNone;
  int top_k = 0;                    // 0: all labels, best first
  std::optional<bool> multi_label;  // sigmoid per label; default: config.json problem_type
  bool raw = false;                 // raw logits instead of probabilities
};

struct RerankOptions {
  Truncation truncation = Truncation::kNone;
  bool normalize = true;  // false: the raw relevance logit
};

struct ZeroShotOptions {
  std::string hypothesis_template = "This example is {}.";
  bool multi_label = false;  // each label scored alone (entailment vs contradiction)
  Truncation truncation = Truncation::kNone;
};

struct TextPair {
  std::string text;
  std::optional<std::string> text_pair;
};

struct LabelScore {
  std::string label;
  float score = 0;
};

class TextEncoder {
 public:
  // The encoder (LoadEncoder) and its tokenizer: GGUF metadata, or tokenizer.json beside the
  // ONNX file.
  static absl::StatusOr<std::unique_ptr<TextEncoder>> Load(const std::string& path,
                                                           const EncoderLoadOptions& options = {});
  TextEncoder(std::unique_ptr<EncoderModel> model, std::unique_ptr<tokenizer::Tokenizer> tokenizer);

  const Encoder& encoder() const { return *model_->encoder; }
  const EncoderModel& model() const { return *model_; }
  const tokenizer::Tokenizer& tokenizer() const { return *tokenizer_; }

  // `truncated` (optional): per text, 1 if it was cut to fit. ws->row_start gives each
  // text's token count afterwards.
  absl::StatusOr<std::vector<std::vector<float>>> Embed(
      absl::Span<const std::string> texts, const EmbedOptions& options, ThreadPool* pool,
      EncoderWorkspace* ws, std::vector<uint8_t>* truncated = nullptr) const;
  // Labels with probabilities (softmax, or sigmoid for multi-label), best first.
  absl::StatusOr<std::vector<std::vector<LabelScore>>> Classify(absl::Span<const TextPair> inputs,
                                                                const ClassifyOptions& options,
                                                                ThreadPool* pool,
                                                                EncoderWorkspace* ws) const;
  // Cross-encoder relevance of each document to the query, in document order: sigmoid of the
  // single logit (as sentence-transformers' CrossEncoder and TEI), or for a multi-label head
  // the softmax probability of the last label.
  absl::StatusOr<std::vector<float>> Rerank(const std::string& query,
                                            absl::Span<const std::string> documents,
                                            const RerankOptions& options, ThreadPool* pool,
                                            EncoderWorkspace* ws) const;
  // Zero-shot over caller-given labels; the hypothesis is the template with each label.
  // NLI models (config.json labels include "entailment" and "contradiction") score as HF's
  // zero-shot pipeline: premise = text; softmax of the entailment logits over the labels, or
  // with multi_label entailment vs contradiction per label. Embedding models (no classifier
  // head) score by the cosine similarity of the text's and each hypothesis' normalized
  // embeddings: softmax of kSimilarityLogitScale x cosine over the labels, or with
  // multi_label the cosine itself. Other classifiers: FailedPrecondition.
  absl::StatusOr<std::vector<LabelScore>> ZeroShot(const std::string& text,
                                                   absl::Span<const std::string> labels,
                                                   const ZeroShotOptions& options, ThreadPool* pool,
                                                   EncoderWorkspace* ws) const;

  // Scale of cosine similarities before the zero-shot softmax of embedding models: the
  // factor sentence-transformers trains its embedders with (MultipleNegativesRankingLoss).
  static constexpr float kSimilarityLogitScale = 20.0f;

  // Classifier logits, [inputs x num_labels].
  absl::StatusOr<std::vector<float>> Logits(absl::Span<const TextPair> inputs,
                                            Truncation truncation, ThreadPool* pool,
                                            EncoderWorkspace* ws) const;

  // Model-ready token ids of a text or pair and its token types.
  absl::Status Tokenize(const std::string& a, const std::string* b, Truncation truncation,
                        std::vector<int32_t>* ids, std::vector<int32_t>* type_ids,
                        bool* was_truncated = nullptr) const;

 private:
  absl::StatusOr<std::vector<LabelScore>> ZeroShotBySimilarity(
      const std::string& text, absl::Span<const std::string> labels,
      absl::Span<const std::string> hypotheses, const ZeroShotOptions& options, ThreadPool* pool,
      EncoderWorkspace* ws) const;

  std::unique_ptr<EncoderModel> model_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::vector<int32_t> prefix_, suffix_;  // special tokens around a text
};

}  // namespace jetserve::encoder

#endif  // JETSERVE_ENGINE_ENCODER_TEXT_ENCODER_H_
