// One choice of a generation request, step by step: sampler (with its history and random
// state), streaming detokenizer and stop matching. Given the logits after the sequence's
// last token, Step samples the next token and returns the event to stream. Generator
// (one sequence at a time) and BatchScheduler (continuous batching) both drive choices
// through this class, so both give the same tokens, text and finish reasons.
//
//   ASSIGN_OR_RETURN(auto choice, Choice::Create(tokenizer, options, 0, prompt, max_tokens,
//                                                n_ctx, vocab));
//   GenerationEvent e = choice->Step(logits);   // e.token, e.text, e.finish
#ifndef JETSERVE_ENGINE_RUNTIME_CHOICE_H_
#define JETSERVE_ENGINE_RUNTIME_CHOICE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/runtime/generator.h"
#include "engine/runtime/sampling.h"
#include "engine/runtime/stop_matcher.h"
#include "engine/tokenizer/detokenizer.h"
#include "engine/tokenizer/tokenizer.h"

namespace jetserve::runtime {

// Log-softmax of raw logits at `token`, with the top_n alternatives (prompt logprobs).
TokenLogprobs RawLogprobs(const float* logits, int64_t vocab, int32_t token, int top_n);

class Choice {
 public:
  // options must be valid (ValidateGenerateOptions); the choice samples with seed + index.
  // max_tokens: the resolved limit (>= 1). tokenizer and options outlive the choice.
  static absl::StatusOr<std::unique_ptr<Choice>> Create(
      const tokenizer::Tokenizer& tokenizer, const GenerateOptions& options, int32_t index,
      absl::Span<const int32_t> prompt, int64_t max_tokens, int64_t n_ctx, int32_t vocab);

  // Samples the next token from logits (vocab floats) and returns its event (finish set
  // on the last one). Not to be called after a finishing event.
  GenerationEvent Step(const float* logits);

  int32_t index() const { return index_; }
  int32_t generated() const { return generated_; }
  bool finished() const { return finished_; }

 private:
  Choice(const tokenizer::Tokenizer& tokenizer, const GenerateOptions& options, int32_t index,
         int64_t max_tokens, int32_t vocab);

  const tokenizer::Tokenizer& tokenizer_;
  const GenerateOptions& o_;
  int32_t index_;
  int64_t max_tokens_;
  int32_t vocab_;
  std::unique_ptr<Sampler> sampler_;
  tokenizer::StreamingDetokenizer detok_;
  StopMatcher matcher_;
  std::vector<int32_t> banned_early_;  // stop tokens (+ EOG) before min_tokens
  int32_t generated_ = 0;
  bool finished_ = false;
};

}  // namespace jetserve::runtime

#endif  // JETSERVE_ENGINE_RUNTIME_CHOICE_H_
