#include "worker/decoder_backend.h"

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/model/decoder.h"
#include "engine/model/thread_pool.h"
#include "engine/runtime/decoder_model.h"
#include "engine/runtime/generator.h"
#include "engine/tokenizer/detokenizer.h"

namespace jetserve::worker {
namespace {

namespace v1 = ::jetserve::v1;
namespace wv1 = ::jetserve::worker::v1;
using runtime::FinishReason;

constexpr int kMaxQueued = 64;

v1::FinishReason ToProto(FinishReason r) {
  switch (r) {
    case FinishReason::kEos:
      return v1::FINISH_REASON_EOS;
    case FinishReason::kLength:
      return v1::FINISH_REASON_LENGTH;
    case FinishReason::kStopString:
      return v1::FINISH_REASON_STOP_STRING;
    case FinishReason::kStopToken:
      return v1::FINISH_REASON_STOP_TOKEN;
    case FinishReason::kNone:
      break;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

runtime::GenerateOptions ToOptions(const v1::GenerateRequest& r) {
  runtime::GenerateOptions o;
  const v1::SamplingParams& s = r.sampling();
  if (s.has_temperature()) o.sampling.temperature = s.temperature();
  if (s.has_top_k()) o.sampling.top_k = s.top_k();
  if (s.has_top_p()) o.sampling.top_p = s.top_p();
  if (s.has_min_p()) o.sampling.min_p = s.min_p();
  if (s.has_typical_p()) o.sampling.typical_p = s.typical_p();
  if (s.has_repetition_penalty()) o.sampling.repetition_penalty = s.repetition_penalty();
  if (s.has_presence_penalty()) o.sampling.presence_penalty = s.presence_penalty();
  if (s.has_frequency_penalty()) o.sampling.frequency_penalty = s.frequency_penalty();
  if (s.has_penalty_last_n()) o.sampling.penalty_last_n = s.penalty_last_n();
  for (const auto& [id, bias] : s.logit_bias()) o.sampling.logit_bias.push_back({id, bias});
  std::sort(o.sampling.logit_bias.begin(), o.sampling.logit_bias.end());  // map order varies
  o.sampling.seed = s.has_seed() ? s.seed() : std::random_device{}();
  const v1::StopCriteria& st = r.stop();
  if (st.has_max_tokens()) o.stop.max_tokens = st.max_tokens();
  o.stop.min_tokens = st.min_tokens();
  o.stop.stop.assign(st.stop().begin(), st.stop().end());
  o.stop.stop_token_ids.assign(st.stop_token_ids().begin(), st.stop_token_ids().end());
  o.stop.ignore_eos = st.ignore_eos();
  o.logprobs.logprobs = r.logprobs().logprobs();
  o.logprobs.top_logprobs = r.logprobs().top_logprobs();
  o.logprobs.echo_prompt = r.logprobs().echo_prompt();
  if (r.has_n()) o.n = r.n();
  o.skip_special_tokens = !r.has_skip_special_tokens() || r.skip_special_tokens();
  return o;
}

class DecoderBackend final : public Backend {
 public:
  DecoderBackend(const BackendOptions& options, std::unique_ptr<model::Decoder> decoder,
                 std::unique_ptr<tokenizer::Tokenizer> tokenizer)
      : options_(options),
        decoder_(std::move(decoder)),
        tokenizer_(std::move(tokenizer)),
        pool_(static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
        generator_(*decoder_, *tokenizer_, &pool_,
                   {.n_ctx = runtime::ServedContext(*decoder_, /*requested=*/0)}) {
    thread_ = std::thread([this] { Loop(); });
  }

  ~DecoderBackend() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  v1::ModelInfo Info() const override {
    const model::ModelConfig& c = decoder_->config();
    v1::ModelInfo info;
    info.set_name(options_.model_name);
    info.add_tasks(v1::MODEL_TASK_GENERATE);
    info.set_architecture(c.arch_name);
    info.set_format("gguf");
    const std::string_view q =
        GgmlTypeName(decoder_->weights().layers.empty() ? decoder_->weights().output.type
                                                        : decoder_->weights().layers[0].down.type);
    info.set_quantization(std::string(q));
    int64_t params = 0;
    for (const GgufTensorInfo& t : decoder_->file().tensors()) params += t.num_elements;
    info.set_parameter_count(params);
    info.set_context_length(static_cast<int32_t>(generator_.n_ctx()));
    info.set_vocab_size(static_cast<int32_t>(c.n_vocab));
    info.set_device("cpu");
    info.set_state(v1::MODEL_STATE_READY);
    info.set_has_chat_template(decoder_->file().Has("tokenizer.chat_template"));
    return info;
  }

  wv1::Capacity Capacity() const override {
    wv1::Capacity c;
    c.set_max_concurrent_requests(1);
    c.set_max_batch_sequences(1);
    c.set_max_queued_requests(kMaxQueued);
    c.set_context_length(static_cast<int32_t>(generator_.n_ctx()));
    return c;
  }

  wv1::Memory Memory() const override {
    wv1::Memory m;
    m.set_weights_bytes(static_cast<int64_t>(decoder_->file().bytes().size()));
    const model::ModelConfig& c = decoder_->config();
    m.set_kv_cache_bytes(c.n_layer * generator_.n_ctx() * c.n_head_kv *
                         (c.head_dim + c.head_dim_v) * static_cast<int64_t>(sizeof(float)));
    return m;
  }

  BackendLoad Load() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return {.running = running_, .queued = static_cast<int32_t>(queue_.size())};
  }

  void Generate(GenerateStream* stream) override {
    stream->SetWakeCallback([this] { cv_.notify_all(); });
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (static_cast<int>(queue_.size()) < kMaxQueued && !stop_) {
        queue_.push_back({stream, absl::Now()});
        cv_.notify_all();
        return;
      }
    }
    stream->Finish(absl::ResourceExhaustedError(absl::StrCat(
        "model ", options_.model_name, ": more than ", kMaxQueued, " requests are waiting")));
  }

  absl::StatusOr<v1::TokenizeResponse> Tokenize(const CallContext&,
                                                const wv1::TokenizeRequest& request) override {
    const v1::TokenizeRequest& r = request.request();
    if (r.input_case() != v1::TokenizeRequest::kText) {
      return absl::UnimplementedError("chat templates are not supported yet; send text");
    }
    const bool special = !r.has_add_special_tokens() || r.add_special_tokens();
    v1::TokenizeResponse out;
    for (const int32_t id :
         tokenizer_->Encode(r.text(), {.add_special = special, .parse_special = special})) {
      out.add_token_ids(id);
      if (r.return_pieces()) out.add_pieces(tokenizer_->TokenToPiece(id, true));
    }
    return out;
  }

  absl::StatusOr<v1::DetokenizeResponse> Detokenize(
      const CallContext&, const wv1::DetokenizeRequest& request) override {
    const v1::DetokenizeRequest& r = request.request();
    std::vector<int32_t> ids(r.token_ids().begin(), r.token_ids().end());
    for (const int32_t id : ids) {
      if (id < 0 || id >= decoder_->config().n_vocab) {
        return absl::InvalidArgumentError(absl::StrCat("token id ", id, " is out of range [0, ",
                                                       decoder_->config().n_vocab, ")"));
      }
    }
    const bool skip = !r.has_skip_special_tokens() || r.skip_special_tokens();
    v1::DetokenizeResponse out;
    out.set_text(tokenizer::ToValidUtf8(
        tokenizer_->Decode(ids, {.special = !skip, .strip_leading_space = true})));
    return out;
  }

 private:
  struct Pending {
    GenerateStream* stream;
    absl::Time received;
  };

  void Loop() {
    while (true) {
      Pending p;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (stop_) {
          for (Pending& q : queue_) {
            q.stream->Finish(absl::UnavailableError("the worker is shutting down"));
          }
          queue_.clear();
          return;
        }
        p = queue_.front();
        queue_.pop_front();
        running_ = 1;
      }
      Serve(p);
      std::lock_guard<std::mutex> lock(mu_);
      running_ = 0;
    }
  }

  // Prompt tokens after the context-overflow policy; max_tokens may be lowered.
  absl::StatusOr<std::vector<int32_t>> Prompt(const v1::GenerateRequest& r,
                                              runtime::GenerateOptions* o) {
    if (r.input_case() != v1::GenerateRequest::kPrompt) {
      return absl::UnimplementedError("chat templates are not supported yet; send a prompt");
    }
    const bool special = !r.has_add_special_tokens() || r.add_special_tokens();
    std::vector<int32_t> ids = runtime::EncodePrompt(*tokenizer_, r.prompt(), special);
    if (ids.empty()) return absl::InvalidArgumentError("the prompt has no tokens");
    const int64_t ctx = generator_.n_ctx();
    const int64_t want = o->stop.max_tokens > 0 ? o->stop.max_tokens : 1;
    if (static_cast<int64_t>(ids.size()) + want <= ctx) return ids;
    switch (r.context_overflow()) {
      case v1::CONTEXT_OVERFLOW_TRUNCATE_START: {
        const size_t keep = static_cast<size_t>(std::max<int64_t>(1, ctx - want));
        const size_t bos = tokenizer_->vocab().add_bos && ids.size() > 1 ? 1 : 0;
        ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(bos),
                  ids.end() - static_cast<std::ptrdiff_t>(keep - bos));
        return ids;
      }
      case v1::CONTEXT_OVERFLOW_CLAMP_MAX_TOKENS:
        if (static_cast<int64_t>(ids.size()) < ctx) {
          o->stop.max_tokens = static_cast<int32_t>(ctx - static_cast<int64_t>(ids.size()));
          return ids;
        }
        break;
      default:
        break;
    }
    return absl::InvalidArgumentError(absl::StrCat("prompt of ", ids.size(),
                                                   " tokens + max_tokens ", want,
                                                   " exceeds the context length ", ctx));
  }

  v1::TokenLogprob Logprob(const runtime::TokenLogprobs& lp) const {
    v1::TokenLogprob out;
    out.set_token_id(lp.token);
    out.set_token(tokenizer_->TokenToPiece(lp.token, true));
    out.set_logprob(lp.logprob);
    for (const runtime::LogprobEntry& e : lp.top) {
      v1::TopLogprob* t = out.add_top();
      t->set_token_id(e.token);
      t->set_token(tokenizer_->TokenToPiece(e.token, true));
      t->set_logprob(e.logprob);
    }
    return out;
  }

  void Serve(const Pending& p) {
    GenerateStream* stream = p.stream;
    if (stream->Cancelled()) {
      stream->Finish(stream->context().CancelledStatus());
      return;
    }
    const v1::GenerateRequest& r = stream->request().request();
    runtime::GenerateOptions o = ToOptions(r);
    absl::StatusOr<std::vector<int32_t>> prompt = Prompt(r, &o);
    if (!prompt.ok()) {
      stream->Finish(prompt.status());
      return;
    }
    const absl::Time start = absl::Now();
    int32_t finished_choices = 0, generated = 0;
    absl::Time first_token = absl::InfinitePast(), last_token = absl::InfinitePast();
    options_.metrics->AddPromptTokens(static_cast<int64_t>(prompt->size()));
    absl::Status s = generator_.Generate(*prompt, o, [&](const runtime::GenerationEvent& e) {
      // Flow control: wait while the client is not reading (the wake callback notifies).
      {
        std::unique_lock<std::mutex> lock(mu_);
        while (!stream->Writable() && !stream->Cancelled() && !stop_) {
          cv_.wait_for(lock, std::chrono::milliseconds(50));
        }
      }
      if (stream->Cancelled() || stop_) return false;
      const absl::Time now = absl::Now();
      if (generated == 0) {
        first_token = now;
        options_.metrics->ObserveTimeToFirstToken(now - p.received);
      } else {
        options_.metrics->ObserveTimePerOutputToken(now - last_token);
      }
      last_token = now;
      ++generated;
      options_.metrics->AddGeneratedTokens(1);
      v1::GenerateResponse out;
      out.set_index(e.choice);
      out.set_text(e.text);
      if (e.token.has_value()) out.add_token_ids(*e.token);
      if (e.logprobs.has_value()) *out.add_logprobs() = Logprob(*e.logprobs);
      for (const runtime::TokenLogprobs& lp : e.prompt_logprobs) {
        *out.add_prompt_logprobs() = Logprob(lp);
      }
      if (e.finish != FinishReason::kNone) {
        out.set_finish_reason(ToProto(e.finish));
        out.set_matched_stop(e.matched_stop);
        if (e.matched_stop_token >= 0) out.set_matched_stop_token(e.matched_stop_token);
        if (++finished_choices == o.n) {
          v1::Usage* u = out.mutable_usage();
          u->set_prompt_tokens(static_cast<int32_t>(prompt->size()));
          u->set_completion_tokens(generated);
          u->set_queue_time_ms(absl::ToDoubleMilliseconds(start - p.received));
          u->set_time_to_first_token_ms(absl::ToDoubleMilliseconds(first_token - p.received));
          u->set_total_time_ms(absl::ToDoubleMilliseconds(now - p.received));
          const double prefill_s = absl::ToDoubleSeconds(first_token - start);
          if (prefill_s > 0) u->set_prompt_tokens_per_second(prompt->size() / prefill_s);
          const double gen_s = absl::ToDoubleSeconds(now - first_token);
          if (generated > 1 && gen_s > 0) {
            u->set_completion_tokens_per_second((generated - 1) / gen_s / o.n);
          }
          u->set_seed(o.sampling.seed);
        }
      }
      return stream->Write(std::move(out));
    });
    if (!s.ok() && absl::IsCancelled(s)) {
      stream->Finish(stream->Cancelled() ? stream->context().CancelledStatus()
                                         : absl::UnavailableError("the worker is shutting down"));
      return;
    }
    stream->Finish(s);
  }

  BackendOptions options_;
  std::unique_ptr<model::Decoder> decoder_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  ThreadPool pool_;
  runtime::Generator generator_;  // used by thread_ only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;  // guarded by mu_
  int32_t running_ = 0;        // guarded by mu_
  bool stop_ = false;          // guarded by mu_
  std::thread thread_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> LoadDecoderBackend(const BackendOptions& options) {
  if (options.device.kind == DeviceKind::kCuda) {
    return absl::UnimplementedError(
        absl::StrCat("--device ", options.device.ToString(),
                     ": the decoder engine runs on the CPU only so far; use --device cpu"));
  }
  absl::StatusOr<runtime::DecoderModel> model = runtime::OpenDecoderModel(options.model_path);
  if (!model.ok()) return model.status();
  return std::unique_ptr<Backend>(
      new DecoderBackend(options, std::move(model->decoder), std::move(model->tokenizer)));
}

}  // namespace jetserve::worker
