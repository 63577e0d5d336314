#include "engine/runtime/choice.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace jetserve::runtime {

TokenLogprobs RawLogprobs(const float* logits, int64_t vocab, int32_t token, int top_n) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < vocab; ++i) mx = std::max(mx, logits[i]);
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - mx));
  const float lz = mx + static_cast<float>(std::log(sum));
  TokenLogprobs out;
  out.token = token;
  out.logprob = logits[token] - lz;
  for (int64_t i = 0; i < vocab && top_n > 0; ++i) {
    const float lp = logits[i] - lz;
    if (static_cast<int>(out.top.size()) == top_n && lp <= out.top.back().logprob) continue;
    auto pos = std::find_if(out.top.begin(), out.top.end(),
                            [&](const LogprobEntry& e) { return lp > e.logprob; });
    out.top.insert(pos, {static_cast<int32_t>(i), lp});
    if (static_cast<int>(out.top.size()) > top_n) out.top.pop_back();
  }
  return out;
}

Choice::Choice(const tokenizer::Tokenizer& tokenizer, const GenerateOptions& options, int32_t index,
               int64_t max_tokens, int32_t vocab)
    : tokenizer_(tokenizer),
      o_(options),
      index_(index),
      max_tokens_(max_tokens),
      vocab_(vocab),
      detok_(tokenizer, {.special = !options.skip_special_tokens, .strip_leading_space = false}),
      matcher_(options.stop.stop) {
  banned_early_ = o_.stop.stop_token_ids;
  if (!o_.stop.ignore_eos) {
    for (int32_t id = 0; id < tokenizer.size() && id < vocab; ++id) {
      if (tokenizer.IsEndOfGeneration(id)) banned_early_.push_back(id);
    }
  }
}

absl::StatusOr<std::unique_ptr<Choice>> Choice::Create(
    const tokenizer::Tokenizer& tokenizer, const GenerateOptions& options, int32_t index,
    absl::Span<const int32_t> prompt, int64_t max_tokens, int64_t n_ctx, int32_t vocab) {
  std::unique_ptr<Choice> c(new Choice(tokenizer, options, index, max_tokens, vocab));
  SamplingOptions so = options.sampling;
  so.seed = options.sampling.seed + static_cast<uint64_t>(index);
  absl::StatusOr<std::unique_ptr<Sampler>> sampler = Sampler::Create(so, vocab, n_ctx);
  if (!sampler.ok()) return sampler.status();
  c->sampler_ = std::move(*sampler);
  for (const int32_t t : prompt) c->sampler_->Accept(t);
  return c;
}

GenerationEvent Choice::Step(const float* logits) {
  const bool early = generated_ < o_.stop.min_tokens;
  const int32_t tok =
      sampler_->Sample({logits, static_cast<size_t>(vocab_)},
                       early ? absl::MakeConstSpan(banned_early_) : absl::Span<const int32_t>());
  sampler_->Accept(tok);
  ++generated_;
  GenerationEvent ev;
  ev.choice = index_;
  ev.token = tok;
  ev.choice_tokens = generated_;
  if (o_.logprobs.logprobs || o_.logprobs.top_logprobs > 0) {
    TokenLogprobs lp;
    lp.token = tok;
    lp.logprob = sampler_->LastLogprob(tok);
    sampler_->LastTopLogprobs(o_.logprobs.top_logprobs, &lp.top);
    ev.logprobs = std::move(lp);
  }
  const bool allow_stop = generated_ >= o_.stop.min_tokens;
  auto finish_text = [&]() {  // releases what detokenizer and matcher still hold
    StopMatcher::Result r = matcher_.Push(detok_.Finish(), allow_stop);
    ev.text += r.text;
    if (r.stopped) {
      ev.finish = FinishReason::kStopString;
      ev.matched_stop = o_.stop.stop[static_cast<size_t>(r.stop_index)];
    } else {
      ev.text += matcher_.Flush();
    }
  };
  const bool is_stop_token = std::find(o_.stop.stop_token_ids.begin(), o_.stop.stop_token_ids.end(),
                                       tok) != o_.stop.stop_token_ids.end();
  if (!o_.stop.ignore_eos && !early && tokenizer_.IsEndOfGeneration(tok)) {
    ev.finish = FinishReason::kEos;
    finish_text();
  } else if (is_stop_token && !early) {
    ev.finish = FinishReason::kStopToken;
    ev.matched_stop_token = tok;
    finish_text();
  } else {
    StopMatcher::Result r = matcher_.Push(detok_.Push(tok), allow_stop);
    ev.text = std::move(r.text);
    if (r.stopped) {
      ev.finish = FinishReason::kStopString;
      ev.matched_stop = o_.stop.stop[static_cast<size_t>(r.stop_index)];
    } else if (generated_ >= max_tokens_) {
      ev.finish = FinishReason::kLength;
      finish_text();
    }
  }
  if (ev.finish != FinishReason::kNone) finished_ = true;
  return ev;
}

}  // namespace jetserve::runtime
