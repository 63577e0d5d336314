// Token sampling: small chainable stages (logit_bias, penalties, top-k, typical-p, top-p,
// min-p, temperature) in llama.cpp's order, then a greedy or seeded random pick. Mirrors
// SamplingParams of proto/jetserve/v1/generate.proto as a plain struct (the engine links
// no protobuf; the worker converts).
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Sampler> s, Sampler::Create(options, vocab, n_ctx));
//   for (int32_t t : prompt) s->Accept(t);          // penalties see prompt tokens too
//   int32_t next = s->Sample(logits);                // logits: vocab floats
//   s->Accept(next);
//
// A Sampler owns its buffers (sized once for the vocabulary) and its random stream
// (std::mt19937_64, whose output sequence the C++ standard fixes): the same options and
// seed give the same tokens on every platform.
#ifndef JETSERVE_ENGINE_RUNTIME_SAMPLING_H_
#define JETSERVE_ENGINE_RUNTIME_SAMPLING_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace jetserve::runtime {

class SamplerStage;
// Makes a fresh constraint stage per choice (e.g. a grammar, grammar_constraint.h). The
// stage masks candidates before every other stage and sees only generated tokens.
using ConstraintFactory = std::function<std::unique_ptr<SamplerStage>()>;

struct SamplingOptions {
  float temperature = 1.0f;         // 0: greedy
  int32_t top_k = 0;                // 0: disabled
  float top_p = 1.0f;               // 1: disabled
  float min_p = 0.0f;               // 0: disabled
  float typical_p = 1.0f;           // 1: disabled
  float repetition_penalty = 1.0f;  // 1: disabled
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int32_t penalty_last_n = 64;                        // -1: whole context, 0: penalties off
  std::vector<std::pair<int32_t, float>> logit_bias;  // <= -100 bans, >= 100 forces
  uint64_t seed = 0;
  ConstraintFactory constraint;  // empty: unconstrained
};

// InvalidArgument naming the field when a value is outside the documented range.
absl::Status ValidateSamplingOptions(const SamplingOptions& options, int32_t vocab_size);

struct TokenCandidate {
  int32_t id;
  float logit;
  float p;  // set by Softmax
};

// The working set the stages narrow down.
class Candidates {
 public:
  void Reset(absl::Span<const float> logits);
  // Sorts by logit (descending, ties by id) and sets p to the softmax over the set.
  void Softmax();
  std::vector<TokenCandidate>& items() { return items_; }
  const std::vector<TokenCandidate>& items() const { return items_; }
  bool sorted() const { return sorted_; }
  void set_sorted(bool s) { sorted_ = s; }
  // Keeps the first n (after sorting).
  void Truncate(size_t n) { items_.resize(std::min(n, items_.size())); }

 private:
  std::vector<TokenCandidate> items_;
  bool sorted_ = false;
};

// One stage of the chain: {name, apply, accept, reset}.
class SamplerStage {
 public:
  virtual ~SamplerStage() = default;
  virtual std::string_view name() const = 0;
  virtual void Apply(Candidates& c) = 0;
  virtual void Accept(int32_t /*token*/) {}
  virtual void Reset() {}
  // Constraints: whether `token` may come next (checked before computing a full mask).
  virtual bool Allows(int32_t /*token*/) { return true; }
};

std::unique_ptr<SamplerStage> MakeLogitBias(std::vector<std::pair<int32_t, float>> bias);
// llama.cpp's penalties over the last `last_n` accepted tokens: a seen token's logit is
// divided by `repeat` when positive (multiplied when not), then lowered by
// count * frequency + presence.
std::unique_ptr<SamplerStage> MakePenalties(int32_t vocab, int32_t last_n, float repeat,
                                            float frequency, float presence);
std::unique_ptr<SamplerStage> MakeTopK(int32_t k);
std::unique_ptr<SamplerStage> MakeTypicalP(float p);
std::unique_ptr<SamplerStage> MakeTopP(float p);
std::unique_ptr<SamplerStage> MakeMinP(float p);
std::unique_ptr<SamplerStage> MakeTemperature(float t);

// Top alternatives with log probabilities.
struct LogprobEntry {
  int32_t token;
  float logprob;
};

class Sampler {
 public:
  // n_ctx bounds the penalty window when penalty_last_n is -1.
  static absl::StatusOr<std::unique_ptr<Sampler>> Create(const SamplingOptions& options,
                                                         int32_t vocab_size, int64_t n_ctx);

  // Adds a token to the history (prompt tokens and each sampled token).
  void Accept(int32_t token);
  // Picks the next token from logits (vocab floats). Banned ids (e.g. EOS before
  // min_tokens) get -inf first.
  int32_t Sample(absl::Span<const float> logits, absl::Span<const int32_t> banned = {});
  // Log-probabilities of the distribution Sample saw last, after logit_bias, penalties and
  // temperature (temperature 0 counts as 1) and before truncation: the chosen token's and
  // the `top_n` most likely, highest first.
  float LastLogprob(int32_t token) const;
  void LastTopLogprobs(int top_n, std::vector<LogprobEntry>* out) const;

  const SamplingOptions& options() const { return options_; }

 private:
  Sampler(const SamplingOptions& options, int32_t vocab);
  int32_t SampleOnce(absl::Span<const float> logits, absl::Span<const int32_t> banned,
                     bool constrained);
  // log_z_, computed on first use after a Sample: a full-vocabulary pass that only logprobs
  // need.
  float LogZ() const;

  SamplingOptions options_;
  int32_t vocab_;
  std::mt19937_64 rng_;
  std::unique_ptr<SamplerStage> constraint_;             // applied first; may be null
  bool generating_ = false;                              // Sample() called: accepts are output
  std::vector<std::unique_ptr<SamplerStage>> pre_;       // bias, penalties
  std::vector<std::unique_ptr<SamplerStage>> truncate_;  // top-k ... temperature
  Candidates cand_;
  std::vector<float> adjusted_;  // logits after pre_, for logprobs
  size_t adjusted_n_ = 0;        // entries of adjusted_ the last Sample set
  float adjusted_max_ = 0;       // their maximum
  mutable float log_z_ = 0;      // log-sum-exp of adjusted_ / temperature (LogZ)
  mutable bool log_z_ready_ = true;
};

}  // namespace jetserve::runtime

#endif  // JETSERVE_ENGINE_RUNTIME_SAMPLING_H_
