#include "engine/runtime/generator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/runtime/choice.h"
#include "engine/tokenizer/detokenizer.h"

namespace jetserve::runtime {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

absl::Status ValidateGenerateOptions(const GenerateOptions& o, int32_t vocab, int64_t n_ctx) {
  absl::Status s = ValidateSamplingOptions(o.sampling, vocab);
  if (!s.ok()) return s;
  if (o.n < 1 || o.n > 16) {
    return absl::InvalidArgumentError(absl::StrCat("n = ", o.n, " is out of range [1, 16]"));
  }
  if (o.stop.max_tokens != -1 && (o.stop.max_tokens < 1 || o.stop.max_tokens > n_ctx)) {
    return absl::InvalidArgumentError(
        absl::StrCat("stop.max_tokens = ", o.stop.max_tokens, " is out of range [1, ", n_ctx, "]"));
  }
  if (o.stop.min_tokens < 0) {
    return absl::InvalidArgumentError("stop.min_tokens must be >= 0");
  }
  if (o.stop.stop.size() > 16) return absl::InvalidArgumentError("more than 16 stop strings");
  for (const std::string& st : o.stop.stop) {
    if (st.empty() || st.size() > 256) {
      return absl::InvalidArgumentError("stop strings must have 1 to 256 bytes");
    }
  }
  if (o.stop.stop_token_ids.size() > 64) {
    return absl::InvalidArgumentError("more than 64 stop_token_ids");
  }
  for (const int32_t id : o.stop.stop_token_ids) {
    if (id < 0 || id >= vocab) {
      return absl::InvalidArgumentError(
          absl::StrCat("stop.stop_token_ids: token id ", id, " is out of range [0, ", vocab, ")"));
    }
  }
  if (o.logprobs.top_logprobs < 0 || o.logprobs.top_logprobs > 20) {
    return absl::InvalidArgumentError(absl::StrCat(
        "logprobs.top_logprobs = ", o.logprobs.top_logprobs, " is out of range [0, 20]"));
  }
  return absl::OkStatus();
}

Generator::Generator(const model::Decoder& decoder, const tokenizer::Tokenizer& tokenizer,
                     ThreadPool* pool, const GeneratorOptions& options)
    : decoder_(decoder),
      tokenizer_(tokenizer),
      pool_(pool),
      n_ctx_(std::max<int64_t>(1, std::min(options.n_ctx, decoder.config().n_ctx_train))),
      state_(decoder,
             {.max_rows = options.max_rows, .n_ctx = n_ctx_, .threads = pool->num_threads()}) {
  const int64_t vocab = decoder.config().n_vocab;
  logits_.resize(static_cast<size_t>(vocab));
  prompt_last_.resize(static_cast<size_t>(vocab));
}

model::KvCache* Generator::CacheFor(int index, int64_t tokens) {
  if (static_cast<int>(caches_.size()) <= index) caches_.resize(static_cast<size_t>(index) + 1);
  std::unique_ptr<model::KvCache>& c = caches_[static_cast<size_t>(index)];
  // Sized to what the request needs (not the whole context), grown when a later one needs
  // more: n choices of a short request stay small.
  if (c == nullptr || c->n_ctx() < tokens) {
    c = std::make_unique<model::KvCache>(decoder_.config(), tokens);
  }
  return c.get();
}

absl::Status Generator::Generate(absl::Span<const int32_t> prompt, const GenerateOptions& o,
                                 const Callback& callback, GenerationStats* stats) {
  const int64_t vocab = decoder_.config().n_vocab;
  if (prompt.empty()) return absl::InvalidArgumentError("the prompt has no tokens");
  if (static_cast<int64_t>(prompt.size()) >= n_ctx_) {
    return absl::InvalidArgumentError(absl::StrCat("prompt of ", prompt.size(),
                                                   " tokens leaves no room in the context of ",
                                                   n_ctx_, " tokens"));
  }
  absl::Status s = ValidateGenerateOptions(o, static_cast<int32_t>(vocab), n_ctx_);
  if (!s.ok()) return s;
  const auto t_start = Clock::now();

  const int64_t room = n_ctx_ - static_cast<int64_t>(prompt.size());
  const int64_t max_tokens =
      o.stop.max_tokens < 0 ? room : std::min<int64_t>(o.stop.max_tokens, room);
  const int64_t needed = static_cast<int64_t>(prompt.size()) + max_tokens;

  // Prompt: once, shared by all choices.
  model::KvCache* prompt_cache = CacheFor(0, needed);
  prompt_cache->Truncate(0);
  std::vector<TokenLogprobs> prompt_logprobs;
  if (o.logprobs.echo_prompt) {
    std::vector<float> all(prompt.size() * static_cast<size_t>(vocab));
    s = decoder_.Eval(prompt, true, prompt_cache, &state_, pool_, all.data());
    if (!s.ok()) return s;
    for (size_t i = 1; i < prompt.size(); ++i) {
      prompt_logprobs.push_back(
          RawLogprobs(all.data() + (i - 1) * vocab, vocab, prompt[i], o.logprobs.top_logprobs));
    }
    std::copy_n(all.data() + (prompt.size() - 1) * vocab, vocab, prompt_last_.data());
  } else {
    s = decoder_.Eval(prompt, false, prompt_cache, &state_, pool_, prompt_last_.data());
    if (!s.ok()) return s;
  }
  const auto t_prefill = Clock::now();
  GenerationStats st;
  st.prompt_tokens = static_cast<int32_t>(prompt.size());
  st.seed = o.sampling.seed;
  Clock::time_point t_first{}, t_last{};
  int32_t first_choice_tokens = 0;

  for (int32_t c = 0; c < o.n; ++c) {
    model::KvCache* cache = prompt_cache;
    if (o.n > 1) {
      cache = CacheFor(c + 1, needed);
      cache->CopyPrefixFrom(*prompt_cache, static_cast<int64_t>(prompt.size()));
    }
    absl::StatusOr<std::unique_ptr<Choice>> choice =
        Choice::Create(tokenizer_, o, c, prompt, max_tokens, n_ctx_, static_cast<int32_t>(vocab));
    if (!choice.ok()) return choice.status();
    const float* logits = prompt_last_.data();
    bool first_event = true;
    while (true) {
      GenerationEvent ev = (*choice)->Step(logits);
      if (first_event) {
        ev.prompt_logprobs = prompt_logprobs;
        first_event = false;
      }
      const auto now = Clock::now();
      if (c == 0 && ev.choice_tokens == 1) t_first = now;
      if (c == 0) t_last = now;
      st.completion_tokens += 1;
      if (!callback(ev)) return absl::CancelledError("generation cancelled by the caller");
      if (ev.finish != FinishReason::kNone) break;
      const int32_t tok = *ev.token;
      s = decoder_.Eval({&tok, 1}, false, cache, &state_, pool_, logits_.data());
      if (!s.ok()) return s;
      logits = logits_.data();
    }
    if (c == 0) first_choice_tokens = (*choice)->generated();
  }
  const auto t_end = Clock::now();
  st.time_to_first_token_ms = Ms(t_start, t_first);
  st.total_time_ms = Ms(t_start, t_end);
  const double prefill_s = Ms(t_start, t_prefill) / 1000.0;
  st.prompt_tokens_per_second = prefill_s > 0 ? static_cast<double>(prompt.size()) / prefill_s : 0;
  const double gen_s = Ms(t_first, t_last) / 1000.0;
  st.completion_tokens_per_second =
      first_choice_tokens > 1 && gen_s > 0 ? (first_choice_tokens - 1) / gen_s : 0;
  if (stats != nullptr) *stats = st;
  return absl::OkStatus();
}

}  // namespace jetserve::runtime
