#include "worker/decoder_backend.h"

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "engine/encoder/decoder_text.h"
#include "engine/model/decoder.h"
#include "engine/runtime/batch_scheduler.h"
#include "engine/runtime/decoder_model.h"
#include "engine/runtime/generator.h"
#include "engine/tokenizer/detokenizer.h"
#include "engine/util/thread_pool.h"
#include "worker/chat_request.h"
#include "worker/encoder_backend.h"

namespace jetserve::worker {
namespace {

// KV cache budget when --kv-memory is not given.
constexpr int64_t kDefaultKvMemory = int64_t{512} << 20;

namespace v1 = ::jetserve::v1;
namespace wv1 = ::jetserve::worker::v1;
using runtime::FinishReason;

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

// Identifies the model in KV block hashes: blocks of different files never match. The
// GGUF header region (metadata, vocabulary, tensor table) and the file size.
uint64_t ModelSalt(const model::Decoder& d) {
  const auto bytes = d.file().bytes();
  const size_t n = std::min<size_t>(bytes.size(), size_t{1} << 20);
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<uint8_t>(bytes[i]);
    h *= 0x100000001b3ULL;
  }
  return h ^ (static_cast<uint64_t>(bytes.size()) * 0x9e3779b97f4a7c15ULL);
}

class DecoderBackend;

// One Generate call as the scheduler sees it: forwards events to the gRPC stream (with
// usage on the last one), reports metrics, and deletes itself after OnFinish.
class StreamSink final : public runtime::RequestSink {
 public:
  StreamSink(GenerateStream* stream, GenerationMetrics* metrics,
             const tokenizer::Tokenizer& tokenizer, runtime::GenerateOptions options,
             int32_t prompt_tokens, absl::Time received, std::optional<ChatStream> chat)
      : stream_(stream),
        metrics_(metrics),
        tokenizer_(tokenizer),
        options_(std::move(options)),
        prompt_tokens_(prompt_tokens),
        received_(received),
        last_token_(static_cast<size_t>(options_.n), absl::InfinitePast()),
        chat_(std::move(chat)) {}

  const runtime::GenerateOptions& options() const { return options_; }

  bool Cancelled() const override { return stream_->Cancelled(); }
  bool Writable() const override { return stream_->Writable(); }
  void OnAdmitted() override {
    if (admitted_ != absl::InfinitePast()) return;  // resumed after a preemption
    admitted_ = absl::Now();
    metrics_->AddPromptTokens(prompt_tokens_);
  }
  void OnPromptCached(int64_t tokens) override { cached_tokens_ = static_cast<int32_t>(tokens); }

  void OnEvent(const runtime::GenerationEvent& e) override {
    const absl::Time now = absl::Now();
    if (generated_ == 0) {
      first_token_ = now;
      metrics_->ObserveTimeToFirstToken(now - received_);
    }
    absl::Time& last = last_token_[static_cast<size_t>(e.choice)];
    if (last != absl::InfinitePast()) metrics_->ObserveTimePerOutputToken(now - last);
    last = now;
    ++generated_;
    metrics_->AddGeneratedTokens(1);
    v1::GenerateResponse out;
    out.set_index(e.choice);
    if (chat_.has_value()) {
      chat_->Apply(e, &out);  // text, reasoning_text, tool_calls
    } else {
      out.set_text(e.text);
    }
    if (e.token.has_value()) out.add_token_ids(*e.token);
    if (e.logprobs.has_value()) *out.add_logprobs() = Logprob(*e.logprobs);
    for (const runtime::TokenLogprobs& lp : e.prompt_logprobs) {
      *out.add_prompt_logprobs() = Logprob(lp);
    }
    if (e.finish != FinishReason::kNone) {
      out.set_finish_reason(ToProto(e.finish));
      if (e.finish == FinishReason::kEos && chat_.has_value() && chat_->called_tools(e.choice)) {
        out.set_finish_reason(v1::FINISH_REASON_TOOL_CALLS);
      }
      out.set_matched_stop(e.matched_stop);
      if (e.matched_stop_token >= 0) out.set_matched_stop_token(e.matched_stop_token);
      if (++finished_choices_ == options_.n) {
        const absl::Time start = admitted_ == absl::InfinitePast() ? received_ : admitted_;
        v1::Usage* u = out.mutable_usage();
        u->set_prompt_tokens(prompt_tokens_);
        u->set_cached_prompt_tokens(cached_tokens_);
        u->set_completion_tokens(generated_);
        u->set_queue_time_ms(absl::ToDoubleMilliseconds(start - received_));
        u->set_time_to_first_token_ms(absl::ToDoubleMilliseconds(first_token_ - received_));
        u->set_total_time_ms(absl::ToDoubleMilliseconds(now - received_));
        const double prefill_s = absl::ToDoubleSeconds(first_token_ - start);
        if (prefill_s > 0) u->set_prompt_tokens_per_second(prompt_tokens_ / prefill_s);
        const double gen_s = absl::ToDoubleSeconds(now - first_token_);
        if (generated_ > 1 && gen_s > 0) {
          u->set_completion_tokens_per_second((generated_ - 1) / gen_s / options_.n);
        }
        u->set_seed(options_.sampling.seed);
      }
    }
    stream_->Write(std::move(out));
  }

  void OnFinish(absl::Status status, const runtime::GenerationStats&) override {
    if (absl::IsCancelled(status) && stream_->Cancelled()) {
      status = stream_->context().CancelledStatus();
    }
    stream_->Finish(std::move(status));
    delete this;
  }

 private:
  v1::TokenLogprob Logprob(const runtime::TokenLogprobs& lp) const {
    v1::TokenLogprob out;
    out.set_token_id(lp.token);
    out.set_token(tokenizer_.TokenToPiece(lp.token, true));
    out.set_logprob(lp.logprob);
    for (const runtime::LogprobEntry& e : lp.top) {
      v1::TopLogprob* t = out.add_top();
      t->set_token_id(e.token);
      t->set_token(tokenizer_.TokenToPiece(e.token, true));
      t->set_logprob(e.logprob);
    }
    return out;
  }

  GenerateStream* stream_;
  GenerationMetrics* metrics_;
  const tokenizer::Tokenizer& tokenizer_;
  const runtime::GenerateOptions options_;
  const int32_t prompt_tokens_;
  const absl::Time received_;
  absl::Time admitted_ = absl::InfinitePast();
  absl::Time first_token_ = absl::InfinitePast();
  std::vector<absl::Time> last_token_;  // per choice
  int32_t generated_ = 0;
  int32_t finished_choices_ = 0;
  int32_t cached_tokens_ = 0;       // prompt tokens found in the prefix cache
  std::optional<ChatStream> chat_;  // chat requests: output parsing
};

class DecoderBackend final : public Backend {
 public:
  DecoderBackend(const BackendOptions& options, std::unique_ptr<model::Decoder> decoder,
                 std::unique_ptr<tokenizer::Tokenizer> tokenizer,
                 const runtime::SchedulerOptions& scheduler_options)
      : options_(options),
        decoder_(std::move(decoder)),
        tokenizer_(std::move(tokenizer)),
        pool_(static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
        scheduler_(*decoder_, *tokenizer_, &pool_, scheduler_options),
        chat_(ModelChat::Load(*decoder_, *tokenizer_)),
        text_(*decoder_, *tokenizer_, scheduler_options.n_ctx) {
    if (!chat_.template_problem.empty()) {
      JETSERVE_LOG(kError, "chat_template")
          .Add("model", options_.model_name)
          .Add("problem", chat_.template_problem);
    }
    scheduler_.SetStepObserver([this](const runtime::StepInfo& step) {
      GenerationMetrics* m = options_.metrics;
      const runtime::SchedulerStats& st = step.stats;
      if (step.sequences > 0) m->ObserveBatchSize(step.sequences);
      const int64_t used = st.kv_blocks_total - st.kv_blocks_free;
      m->SetBatchState(
          st.running, st.waiting,
          st.kv_blocks_total > 0 ? static_cast<double>(used) / st.kv_blocks_total : 0.0);
      m->SetKvCacheBlocks({.used = used, .free = st.kv_blocks_free});
      if (st.preemptions > preemptions_seen_) {
        m->AddPreemptions(st.preemptions - preemptions_seen_);
        preemptions_seen_ = st.preemptions;
      }
      if (st.prefix_queried_tokens > prefix_queried_seen_) {
        m->AddPrefixCacheTokens(st.prefix_queried_tokens - prefix_queried_seen_,
                                st.prefix_hit_tokens - prefix_hit_seen_);
        prefix_queried_seen_ = st.prefix_queried_tokens;
        prefix_hit_seen_ = st.prefix_hit_tokens;
      }
      m->SetPrefixCacheBlocks(st.kv_blocks_cached);
    });
    const runtime::SchedulerStats st = scheduler_.Stats();
    options_.metrics->SetKvCacheBlocks({.used = 0, .free = st.kv_blocks_total});
    scheduler_.Start();
  }

  ~DecoderBackend() override { scheduler_.Stop(); }

  v1::ModelInfo Info() const override {
    const model::ModelConfig& c = decoder_->config();
    v1::ModelInfo info;
    info.set_name(options_.model_name);
    info.add_tasks(v1::MODEL_TASK_GENERATE);
    info.add_tasks(v1::MODEL_TASK_EMBED);     // pooled final hidden states
    info.add_tasks(v1::MODEL_TASK_CLASSIFY);  // zero-shot, by label log-likelihood
    info.set_embedding_dimensions(static_cast<int32_t>(c.n_embd));
    info.set_architecture(c.arch_name);
    info.set_format("gguf");
    const std::string_view q =
        GgmlTypeName(decoder_->weights().layers.empty() ? decoder_->weights().output.type
                                                        : decoder_->weights().layers[0].down.type);
    info.set_quantization(std::string(q));
    int64_t params = 0;
    for (const GgufTensorInfo& t : decoder_->file().tensors()) params += t.num_elements;
    info.set_parameter_count(params);
    info.set_context_length(static_cast<int32_t>(n_ctx()));
    info.set_vocab_size(static_cast<int32_t>(c.n_vocab));
    info.set_device("cpu");
    info.set_state(v1::MODEL_STATE_READY);
    info.set_has_chat_template(!chat_.chat_template.is_fallback());
    return info;
  }

  wv1::Capacity Capacity() const override {
    const runtime::SchedulerOptions& so = scheduler_.options();
    const runtime::SchedulerStats st = scheduler_.Stats();
    wv1::Capacity c;
    c.set_max_concurrent_requests(so.max_seqs);
    c.set_max_batch_sequences(so.max_seqs);
    c.set_max_queued_requests(so.max_queued);
    c.set_kv_blocks_total(st.kv_blocks_total);
    c.set_kv_blocks_free(st.kv_blocks_free);
    c.set_kv_block_tokens(static_cast<int32_t>(so.block_tokens));
    c.set_context_length(static_cast<int32_t>(n_ctx()));
    return c;
  }

  wv1::Memory Memory() const override {
    wv1::Memory m;
    m.set_weights_bytes(static_cast<int64_t>(decoder_->file().bytes().size()));
    const runtime::SchedulerOptions& so = scheduler_.options();
    m.set_kv_cache_bytes(so.num_blocks *
                         model::KvBlockPool::BlockBytes(decoder_->config(), so.block_tokens));
    return m;
  }

  BackendLoad Load() const override {
    const runtime::SchedulerStats st = scheduler_.Stats();
    return {.running = st.running, .queued = st.waiting};
  }

  void Generate(GenerateStream* stream) override {
    const absl::Time received = absl::Now();
    // Wakes the scheduler when a paused stream drains or the call is cancelled.
    stream->SetWakeCallback([this] { scheduler_.Notify(); });
    const v1::GenerateRequest& r = stream->request().request();
    runtime::GenerateOptions o = ToOptions(r);
    std::string rendered;
    absl::StatusOr<std::vector<int32_t>> prompt = Prompt(r, &o, &rendered);
    const absl::Status format =
        prompt.ok() ? ApplyResponseFormat(r, chat_, &o, rendered) : prompt.status();
    if (!format.ok()) {
      stream->Finish(format);
      return;
    }
    std::optional<ChatStream> chat;
    if (r.input_case() == v1::GenerateRequest::kChat) {
      chat.emplace(chat_, r.chat(), rendered, o.n);
      if (chat->needs_special_tokens()) o.skip_special_tokens = false;
    }
    const auto prompt_tokens = static_cast<int32_t>(prompt->size());
    auto* sink = new StreamSink(stream, options_.metrics, *tokenizer_, std::move(o), prompt_tokens,
                                received, std::move(chat));
    absl::Status s = scheduler_.Submit(
        {.prompt = *std::move(prompt),
         .options = sink->options(),
         .priority = static_cast<int32_t>(stream->request().envelope().priority()),
         .sink = sink,
         .prefix_cache = !r.has_prefix_cache() || r.prefix_cache()});
    if (!s.ok()) {
      delete sink;
      if (absl::IsResourceExhausted(s)) {
        s = absl::ResourceExhaustedError(
            absl::StrCat("model ", options_.model_name, ": ", s.message()));
      }
      stream->Finish(s);
    }
    // On success the stream and sink belong to the scheduler thread now: not touched here.
  }

  absl::StatusOr<v1::TokenizeResponse> Tokenize(const CallContext&,
                                                const wv1::TokenizeRequest& request) override {
    const v1::TokenizeRequest& r = request.request();
    const bool special = !r.has_add_special_tokens() || r.add_special_tokens();
    std::vector<int32_t> ids;
    if (r.input_case() == v1::TokenizeRequest::kChat) {
      absl::StatusOr<std::string> text = RenderChat(chat_, r.chat());
      if (!text.ok()) return text.status();
      ids = tokenizer_->Encode(*text, {.add_special = false, .parse_special = true});
    } else {
      ids = tokenizer_->Encode(r.text(), {.add_special = special, .parse_special = special});
    }
    v1::TokenizeResponse out;
    for (const int32_t id : ids) {
      out.add_token_ids(id);
      if (r.return_pieces()) out.add_pieces(tokenizer_->TokenToPiece(id, true));
    }
    return out;
  }

  // Embed and zero-shot Classify (engine/encoder/decoder_text.h) run one call at a time on
  // their own pool, beside the scheduler's.
  absl::StatusOr<v1::EmbedResponse> Embed(const CallContext& ctx,
                                          const wv1::EmbedRequest& request) override {
    const absl::Time start = absl::Now();
    const v1::EmbedRequest& r = request.request();
    absl::StatusOr<encoder::EmbedOptions> o = ToEmbedOptions(r);
    if (!o.ok()) return o.status();
    const std::vector<std::string> texts(r.inputs().begin(), r.inputs().end());
    std::vector<uint8_t> truncated;
    std::vector<int32_t> tokens;
    std::lock_guard<std::mutex> lock(text_mu_);
    if (ctx.Cancelled()) return ctx.CancelledStatus();
    absl::StatusOr<std::vector<std::vector<float>>> vecs =
        text_.Embed(texts, *o, TextPool(), &truncated, &tokens);
    if (!vecs.ok()) return vecs.status();
    v1::EmbedResponse out;
    int32_t total = 0;
    for (size_t i = 0; i < vecs->size(); ++i) {
      v1::Embedding* e = out.add_embeddings();
      e->mutable_values()->Add((*vecs)[i].begin(), (*vecs)[i].end());
      e->set_tokens(tokens[i]);
      e->set_truncated(truncated[i] != 0);
      total += tokens[i];
    }
    out.mutable_usage()->set_prompt_tokens(total);
    out.mutable_usage()->set_total_time_ms(absl::ToDoubleMilliseconds(absl::Now() - start));
    return out;
  }

  absl::StatusOr<v1::ClassifyResponse> Classify(const CallContext& ctx,
                                                const wv1::ClassifyRequest& request) override {
    const absl::Time start = absl::Now();
    const v1::ClassifyRequest& r = request.request();
    if (r.candidate_labels().empty()) {
      return absl::InvalidArgumentError(
          "decoder models classify zero-shot only: give candidate_labels");
    }
    if (r.top_k() < 0) return absl::InvalidArgumentError("top_k is negative");
    absl::StatusOr<encoder::ZeroShotOptions> o = ToZeroShotOptions(r);
    if (!o.ok()) return o.status();
    const std::vector<std::string> labels(r.candidate_labels().begin(), r.candidate_labels().end());
    std::lock_guard<std::mutex> lock(text_mu_);
    v1::ClassifyResponse out;
    for (int i = 0; i < r.inputs_size(); ++i) {
      if (!r.inputs(i).text_pair().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("input ", i, ": decoder models take single texts, not pairs"));
      }
      if (ctx.Cancelled()) return ctx.CancelledStatus();
      absl::StatusOr<std::vector<encoder::LabelScore>> s =
          text_.ZeroShot(r.inputs(i).text(), labels, *o, TextPool());
      if (!s.ok())
        return absl::Status(s.status().code(),
                            absl::StrCat("input ", i, ": ", s.status().message()));
      AddLabelScores(*s, labels, r.top_k(), out.add_results());
    }
    out.mutable_usage()->set_total_time_ms(absl::ToDoubleMilliseconds(absl::Now() - start));
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
  int64_t n_ctx() const { return scheduler_.options().n_ctx; }

  // Made on the first Embed/Classify call (a generate-only worker never starts it).
  ThreadPool* TextPool() {
    if (text_pool_ == nullptr) {
      text_pool_ = std::make_unique<ThreadPool>(
          static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    }
    return text_pool_.get();
  }

  // Prompt tokens after the context-overflow policy; max_tokens may be lowered.
  // For a chat, *rendered gets the prompt text (the template's rendering).
  absl::StatusOr<std::vector<int32_t>> Prompt(const v1::GenerateRequest& r,
                                              runtime::GenerateOptions* o, std::string* rendered) {
    std::vector<int32_t> ids;
    if (r.input_case() == v1::GenerateRequest::kChat) {
      absl::StatusOr<std::string> text = RenderChat(chat_, r.chat());
      if (!text.ok()) return text.status();
      *rendered = *std::move(text);
      ids = tokenizer_->Encode(*rendered, {.add_special = false, .parse_special = true});
    } else {
      const bool special = !r.has_add_special_tokens() || r.add_special_tokens();
      ids = runtime::EncodePrompt(*tokenizer_, r.prompt(), special);
    }
    if (ids.empty()) return absl::InvalidArgumentError("the prompt has no tokens");
    const int64_t ctx = n_ctx();
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

  BackendOptions options_;
  std::unique_ptr<model::Decoder> decoder_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  ThreadPool pool_;
  runtime::BatchScheduler scheduler_;
  const ModelChat chat_;
  // Scheduler thread (step observer) only.
  int64_t preemptions_seen_ = 0, prefix_queried_seen_ = 0, prefix_hit_seen_ = 0;
  const encoder::DecoderText text_;
  std::mutex text_mu_;                     // one Embed/Classify call at a time
  std::unique_ptr<ThreadPool> text_pool_;  // guarded by text_mu_
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
  runtime::SchedulerOptions so;
  so.n_ctx = runtime::ServedContext(*model->decoder, options.ctx);
  so.max_seqs = std::max(1, options.max_seqs);
  so.max_queued = std::max(0, options.max_queued);
  so.salt = ModelSalt(*model->decoder);
  so.prefix_cache = options.prefix_cache;
  const int64_t block_bytes =
      model::KvBlockPool::BlockBytes(model->decoder->config(), so.block_tokens);
  const int64_t per_seq = (so.n_ctx + so.block_tokens - 1) / so.block_tokens;
  if (options.kv_memory_bytes > 0) {
    so.num_blocks = options.kv_memory_bytes / block_bytes;
    if (so.num_blocks < per_seq) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--kv-memory ", options.kv_memory_bytes, " bytes holds ", so.num_blocks, " blocks of ",
          so.block_tokens, " tokens; one sequence of the context (", so.n_ctx, " tokens) needs ",
          per_seq * block_bytes, " bytes (lower --ctx or raise --kv-memory)"));
    }
  } else {
    // Default budget: max_seqs full contexts, at most kDefaultKvMemory, at least one
    // context.
    so.num_blocks =
        std::max(per_seq, std::min(per_seq * so.max_seqs, kDefaultKvMemory / block_bytes));
  }
  return std::unique_ptr<Backend>(
      new DecoderBackend(options, std::move(model->decoder), std::move(model->tokenizer), so));
}

}  // namespace jetserve::worker
