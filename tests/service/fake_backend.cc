#include "tests/service/fake_backend.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/log.h"

namespace jetserve::testing {
namespace {

namespace v1 = ::jetserve::v1;
namespace wv1 = ::jetserve::worker::v1;

// Debian's Abseil has its own string_view; the log helpers take std::string_view.
std::string_view Std(absl::string_view s) { return {s.data(), s.size()}; }

std::optional<absl::StatusCode> CodeFromName(absl::string_view name) {
  for (int c = 0; c <= 16; ++c) {
    const auto code = static_cast<absl::StatusCode>(c);
    if (absl::StatusCodeToString(code) == name) return code;
  }
  return std::nullopt;
}

absl::Status ParseInt(absl::string_view key, absl::string_view value, int min, int max, int* out) {
  if (!absl::SimpleAtoi(value, out) || *out < min || *out > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fake directive ", key, "=", value, ": expected an integer in [", min, ", ", max, "]"));
  }
  return absl::OkStatus();
}

std::string PromptText(const wv1::GenerateRequest& request) {
  if (request.request().has_chat()) {
    std::string text;
    for (const v1::ChatMessage& m : request.request().chat().messages()) {
      absl::StrAppend(&text, m.content(), "\n");
    }
    return text;
  }
  return request.request().prompt();
}

// Unary directives: delay_ms=N, fail=CODE.
struct UnaryScript {
  int delay_ms = 0;
  std::optional<absl::StatusCode> fail;
};

absl::StatusOr<UnaryScript> ParseUnaryScript(absl::string_view text) {
  UnaryScript script;
  for (absl::string_view word : absl::StrSplit(text, absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(word, absl::MaxSplits('=', 1));
    if (kv.first == "delay_ms") {
      if (absl::Status s = ParseInt(kv.first, kv.second, 0, 3600000, &script.delay_ms); !s.ok()) {
        return s;
      }
    } else if (kv.first == "fail") {
      script.fail = CodeFromName(kv.second);
      if (!script.fail) {
        return absl::InvalidArgumentError(
            absl::StrCat("fake directive fail=", kv.second, ": not a gRPC code name"));
      }
    }
  }
  return script;
}

}  // namespace

uint64_t NameHash(absl::string_view name) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : name) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

absl::StatusOr<FakeScript> ParseFakeScript(absl::string_view text) {
  FakeScript script;
  for (absl::string_view word : absl::StrSplit(text, absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
    const size_t eq = word.find('=');
    if (eq == absl::string_view::npos) continue;
    absl::string_view key = word.substr(0, eq);
    absl::string_view value = word.substr(eq + 1);
    absl::Status s;
    if (key == "tokens") {
      s = ParseInt(key, value, 0, 1000000, &script.tokens);
    } else if (key == "delay_ms") {
      s = ParseInt(key, value, 0, 3600000, &script.delay_ms);
    } else if (key == "chunk_bytes") {
      s = ParseInt(key, value, 0, 4 << 20, &script.chunk_bytes);
    } else if (key == "fail_at") {
      s = ParseInt(key, value, 0, 1000000, &script.fail_at);
    } else if (key == "exit_at") {
      s = ParseInt(key, value, 0, 1000000, &script.exit_at);
    } else if (key == "fail_code") {
      std::optional<absl::StatusCode> code = CodeFromName(value);
      if (!code || *code == absl::StatusCode::kOk) {
        return absl::InvalidArgumentError(
            absl::StrCat("fake directive fail_code=", value, ": not a gRPC error code name"));
      }
      script.fail_code = *code;
    }
    if (!s.ok()) return s;
  }
  return script;
}

struct FakeBackend::Sequence {
  worker::GenerateStream* stream = nullptr;
  FakeScript script;
  std::string request_id;
  int64_t prompt_bytes = 0;
  int next = 0;
  bool paused = false;
  absl::Time received;
  absl::Time last_token;
  absl::Time next_at;
};

FakeBackend::FakeBackend(FakeBackendOptions options)
    : options_(std::move(options)),
      metrics_(options_.metrics != nullptr ? options_.metrics : &null_metrics_) {
  if (!options_.event_log_path.empty()) {
    event_fd_ =
        open(options_.event_log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  metrics_->SetKvCacheBlocks({.used = 0, .free = 1024});
  scheduler_ = std::thread([this] { Schedule(); });
}

FakeBackend::~FakeBackend() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  scheduler_.join();
  if (event_fd_ >= 0) close(event_fd_);
}

v1::ModelInfo FakeBackend::Info() const {
  v1::ModelInfo info;
  info.set_name(options_.name);
  info.add_tasks(v1::MODEL_TASK_GENERATE);
  info.add_tasks(v1::MODEL_TASK_EMBED);
  info.add_tasks(v1::MODEL_TASK_CLASSIFY);
  info.add_tasks(v1::MODEL_TASK_RERANK);
  info.set_architecture("fake");
  info.set_format("fake");
  info.set_quantization("F32");
  info.set_context_length(4096);
  info.set_vocab_size(256);
  info.set_embedding_dimensions(3);
  info.add_labels("negative");
  info.add_labels("positive");
  return info;
}

wv1::Capacity FakeBackend::Capacity() const {
  wv1::Capacity capacity;
  capacity.set_max_concurrent_requests(options_.capacity);
  capacity.set_max_batch_sequences(options_.capacity);
  capacity.set_kv_blocks_total(1024);
  capacity.set_kv_blocks_free(1024);
  capacity.set_kv_block_tokens(16);
  capacity.set_context_length(4096);
  return capacity;
}

wv1::Memory FakeBackend::Memory() const { return wv1::Memory(); }

worker::BackendLoad FakeBackend::Load() const {
  absl::MutexLock lock(&mu_);
  return {.running = running_, .queued = 0};
}

void FakeBackend::Record(absl::string_view event, absl::string_view request_id,
                         absl::string_view method, int64_t n) {
  {
    absl::MutexLock lock(&events_mu_);
    events_.push_back({std::string(event), std::string(request_id), std::string(method), n});
  }
  if (event_fd_ < 0) return;
  std::string line = "{\"event\":";
  AppendJsonString(Std(event), &line);
  line += ",\"request_id\":";
  AppendJsonString(Std(request_id), &line);
  line += ",\"method\":";
  AppendJsonString(Std(method), &line);
  absl::StrAppend(&line, ",\"n\":", n, ",\"pid\":", getpid(), ",\"model\":");
  AppendJsonString(options_.name, &line);
  line += "}\n";
  // One write per line: concurrent writers (several workers, one file) never interleave.
  if (write(event_fd_, line.data(), line.size()) < 0) {
    JETSERVE_LOG(kWarning, "fake_event_log_write_failed").Add("path", options_.event_log_path);
  }
}

std::vector<FakeEvent> FakeBackend::events() const {
  absl::MutexLock lock(&events_mu_);
  return events_;
}

std::optional<FakeEvent> FakeBackend::WaitForEvent(absl::string_view event,
                                                   absl::string_view request_id,
                                                   absl::Duration timeout) const {
  std::optional<FakeEvent> found;
  auto find = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(events_mu_) {
    for (const FakeEvent& e : events_) {
      if (e.event == event && e.request_id == request_id) {
        found = e;
        return true;
      }
    }
    return false;
  };
  absl::MutexLock lock(&events_mu_);
  events_mu_.AwaitWithTimeout(absl::Condition(&find), timeout);
  return found;
}

int FakeBackend::CountEvents(absl::string_view event, absl::string_view request_id) const {
  absl::MutexLock lock(&events_mu_);
  return static_cast<int>(std::count_if(events_.begin(), events_.end(), [&](const FakeEvent& e) {
    return e.event == event && e.request_id == request_id;
  }));
}

void FakeBackend::Generate(worker::GenerateStream* stream) {
  const std::string& request_id = stream->context().request_id();
  Record("start", request_id, "Generate", 0);
  const std::string prompt = PromptText(stream->request());
  absl::StatusOr<FakeScript> script = ParseFakeScript(prompt);
  if (!script.ok()) {
    Record("finished", request_id, "Generate", 0);
    stream->Finish(script.status());
    return;
  }
  const v1::StopCriteria& stop = stream->request().request().stop();
  if (stop.has_max_tokens()) script->tokens = std::min(script->tokens, stop.max_tokens());
  auto seq = std::make_unique<Sequence>();
  seq->stream = stream;
  seq->script = *script;
  seq->request_id = request_id;
  seq->prompt_bytes = static_cast<int64_t>(prompt.size());
  seq->received = absl::Now();
  seq->next_at = seq->received + absl::Milliseconds(seq->script.delay_ms);
  metrics_->AddPromptTokens(seq->prompt_bytes);
  stream->SetWakeCallback([this] { Notify(); });
  absl::MutexLock lock(&mu_);
  ++running_;
  incoming_.push_back(std::move(seq));
  notified_ = true;
}

void FakeBackend::Notify() {
  absl::MutexLock lock(&mu_);
  notified_ = true;
}

void FakeBackend::Schedule() {
  std::vector<std::unique_ptr<Sequence>> active;
  absl::Time wake_at = absl::InfiniteFuture();
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return notified_ || stopping_; };
      mu_.AwaitWithDeadline(absl::Condition(&ready), wake_at);
      if (stopping_) return;
      notified_ = false;
      for (auto& seq : incoming_) active.push_back(std::move(seq));
      incoming_.clear();
    }
    wake_at = absl::InfiniteFuture();
    const absl::Time now = absl::Now();
    int finished = 0;
    for (auto it = active.begin(); it != active.end();) {
      Sequence& seq = **it;
      if (!Step(seq, now)) {
        it = active.erase(it);
        ++finished;
        continue;
      }
      if (!seq.paused) wake_at = std::min(wake_at, seq.next_at);
      wake_at = std::min(wake_at, seq.stream->context().deadline());
      ++it;
    }
    if (finished > 0) {
      absl::MutexLock lock(&mu_);
      running_ -= finished;
    }
  }
}

bool FakeBackend::Step(Sequence& seq, absl::Time now) {
  worker::GenerateStream& stream = *seq.stream;
  // At most a batch of tokens per round, so one fast sequence cannot starve the others.
  for (int batch = 0; batch < 64; ++batch) {
    if (stream.Cancelled()) {
      const absl::Status status = stream.context().CancelledStatus();
      Record(status.code() == absl::StatusCode::kDeadlineExceeded ? "deadline" : "cancelled",
             seq.request_id, "Generate", seq.next);
      stream.Finish(status);
      return false;
    }
    if (absl::Now() < seq.next_at) return true;
    if (!stream.Writable()) {
      if (!seq.paused) Record("paused", seq.request_id, "Generate", seq.next);
      seq.paused = true;
      return true;
    }
    if (seq.paused) Record("resumed", seq.request_id, "Generate", seq.next);
    seq.paused = false;
    if (seq.next == seq.script.exit_at) {
      Record("exit", seq.request_id, "Generate", seq.next);
      std::_Exit(3);
    }
    if (seq.next == seq.script.fail_at) {
      Record("failed", seq.request_id, "Generate", seq.next);
      stream.Finish(
          absl::Status(seq.script.fail_code, absl::StrCat("fake failure at token ", seq.next)));
      return false;
    }
    v1::GenerateResponse response;
    response.set_index(0);
    const bool last = seq.next + 1 >= seq.script.tokens;
    if (seq.script.tokens > 0) {
      std::string text = absl::StrCat("[", options_.name, " #", seq.next, "]");
      if (static_cast<int>(text.size()) < seq.script.chunk_bytes) {
        text.resize(seq.script.chunk_bytes, '.');
      }
      response.set_text(std::move(text));
      response.add_token_ids(seq.next % 256);
      const absl::Time t = absl::Now();
      if (seq.next == 0) {
        metrics_->ObserveTimeToFirstToken(t - seq.received);
      } else {
        metrics_->ObserveTimePerOutputToken(t - seq.last_token);
      }
      metrics_->AddGeneratedTokens(1);
      seq.last_token = t;
      Record("token", seq.request_id, "Generate", seq.next);
      ++seq.next;
    }
    if (last) {
      response.set_finish_reason(v1::FINISH_REASON_LENGTH);
      v1::Usage* usage = response.mutable_usage();
      usage->set_prompt_tokens(static_cast<int32_t>(seq.prompt_bytes));
      usage->set_completion_tokens(seq.next);
      usage->set_total_time_ms(absl::ToDoubleMilliseconds(absl::Now() - seq.received));
      stream.Write(std::move(response));
      Record("finished", seq.request_id, "Generate", seq.next);
      stream.Finish(absl::OkStatus());
      return false;
    }
    stream.Write(std::move(response));
    seq.next_at = absl::Now() + absl::Milliseconds(seq.script.delay_ms);
    (void)now;
  }
  return true;
}

absl::Status FakeBackend::RunUnaryScript(const worker::CallContext& ctx, absl::string_view method,
                                         absl::string_view text) {
  Record("start", ctx.request_id(), method, 0);
  absl::StatusOr<UnaryScript> script = ParseUnaryScript(text);
  if (!script.ok()) return script.status();
  if (script->delay_ms > 0 && ctx.WaitForCancellation(absl::Milliseconds(script->delay_ms))) {
    const absl::Status status = ctx.CancelledStatus();
    Record(status.code() == absl::StatusCode::kDeadlineExceeded ? "deadline" : "cancelled",
           ctx.request_id(), method, 0);
    return status;
  }
  if (script->fail) {
    Record("failed", ctx.request_id(), method, 0);
    return absl::Status(*script->fail, absl::StrCat("fake failure in ", method));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ClassifyResponse> FakeBackend::Classify(const worker::CallContext& ctx,
                                                           const wv1::ClassifyRequest& request) {
  const v1::ClassifyRequest& r = request.request();
  if (r.inputs().empty())
    return absl::InvalidArgumentError("inputs: at least one input is required");
  if (absl::Status s = RunUnaryScript(ctx, "Classify", r.inputs(0).text()); !s.ok()) return s;
  std::vector<std::string> labels(r.candidate_labels().begin(), r.candidate_labels().end());
  if (labels.empty()) labels = {"negative", "positive"};
  v1::ClassifyResponse response;
  int64_t tokens = 0;
  for (const v1::TextInput& input : r.inputs()) {
    const size_t bytes = input.text().size() + input.text_pair().size();
    tokens += static_cast<int64_t>(bytes);
    const size_t top = bytes % labels.size();
    v1::Classification* c = response.add_results();
    std::vector<size_t> order = {top};
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i != top) order.push_back(i);
    }
    const size_t keep = r.top_k() > 0 ? std::min<size_t>(r.top_k(), order.size()) : order.size();
    for (size_t k = 0; k < keep; ++k) {
      v1::LabelScore* label = c->add_labels();
      label->set_label(labels[order[k]]);
      label->set_index(static_cast<int32_t>(order[k]));
      label->set_score(order[k] == top ? 1.0f : 0.0f);
    }
  }
  response.mutable_usage()->set_prompt_tokens(static_cast<int32_t>(tokens));
  Record("finished", ctx.request_id(), "Classify", r.inputs_size());
  return response;
}

absl::StatusOr<v1::RerankResponse> FakeBackend::Rerank(const worker::CallContext& ctx,
                                                       const wv1::RerankRequest& request) {
  const v1::RerankRequest& r = request.request();
  if (absl::Status s = RunUnaryScript(ctx, "Rerank", r.query()); !s.ok()) return s;
  v1::RerankResponse response;
  std::vector<v1::RerankResult> results;
  int64_t tokens = 0;
  for (int i = 0; i < r.documents_size(); ++i) {
    const std::string& doc = r.documents(i);
    tokens += static_cast<int64_t>(doc.size() + r.query().size());
    v1::RerankResult result;
    result.set_index(i);
    result.set_score(1.0f / (1.0f + std::fabs(static_cast<float>(doc.size()) -
                                              static_cast<float>(r.query().size()))));
    if (r.return_documents()) result.set_document(doc);
    results.push_back(std::move(result));
  }
  std::stable_sort(
      results.begin(), results.end(),
      [](const v1::RerankResult& a, const v1::RerankResult& b) { return a.score() > b.score(); });
  const size_t keep = r.top_n() > 0 ? std::min<size_t>(r.top_n(), results.size()) : results.size();
  for (size_t i = 0; i < keep; ++i) *response.add_results() = std::move(results[i]);
  response.mutable_usage()->set_prompt_tokens(static_cast<int32_t>(tokens));
  Record("finished", ctx.request_id(), "Rerank", r.documents_size());
  return response;
}

absl::StatusOr<v1::EmbedResponse> FakeBackend::Embed(const worker::CallContext& ctx,
                                                     const wv1::EmbedRequest& request) {
  const v1::EmbedRequest& r = request.request();
  if (r.inputs().empty())
    return absl::InvalidArgumentError("inputs: at least one input is required");
  if (absl::Status s = RunUnaryScript(ctx, "Embed", r.inputs(0)); !s.ok()) return s;
  if (r.has_dimensions() && (r.dimensions() < 1 || r.dimensions() > 4096)) {
    return absl::InvalidArgumentError(
        absl::StrCat("dimensions: ", r.dimensions(), " is not in [1, 4096]"));
  }
  v1::EmbedResponse response;
  int64_t tokens = 0;
  const float hash = static_cast<float>(NameHash(options_.name) % 1000);
  for (int i = 0; i < r.inputs_size(); ++i) {
    const std::string& text = r.inputs(i);
    tokens += static_cast<int64_t>(text.size());
    std::vector<float> values = {static_cast<float>(text.size()), hash, static_cast<float>(i)};
    if (r.has_dimensions()) values.resize(r.dimensions(), 0.0f);
    v1::Embedding* e = response.add_embeddings();
    e->mutable_values()->Add(values.begin(), values.end());
    e->set_tokens(static_cast<int32_t>(text.size()));
  }
  response.mutable_usage()->set_prompt_tokens(static_cast<int32_t>(tokens));
  Record("finished", ctx.request_id(), "Embed", r.inputs_size());
  return response;
}

absl::StatusOr<v1::TokenizeResponse> FakeBackend::Tokenize(const worker::CallContext& ctx,
                                                           const wv1::TokenizeRequest& request) {
  const v1::TokenizeRequest& r = request.request();
  std::string text;
  v1::TokenizeResponse response;
  if (r.has_chat()) {
    for (const v1::ChatMessage& m : r.chat().messages()) {
      absl::StrAppend(&text, m.role(), ": ", m.content(), "\n");
    }
    response.set_rendered_text(text);
  } else {
    text = r.text();
  }
  if (absl::Status s = RunUnaryScript(ctx, "Tokenize", text); !s.ok()) return s;
  for (unsigned char c : text) {
    response.add_token_ids(c);
    if (r.return_pieces()) response.add_pieces(std::string(1, static_cast<char>(c)));
  }
  Record("finished", ctx.request_id(), "Tokenize", response.token_ids_size());
  return response;
}

absl::StatusOr<v1::DetokenizeResponse> FakeBackend::Detokenize(
    const worker::CallContext& ctx, const wv1::DetokenizeRequest& request) {
  Record("start", ctx.request_id(), "Detokenize", 0);
  v1::DetokenizeResponse response;
  std::string text;
  const auto& ids = request.request().token_ids();
  for (int i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= 256) {
      return absl::InvalidArgumentError(
          absl::StrCat("token_ids[", i, "] = ", ids[i], " is out of range [0, 256)"));
    }
    text.push_back(static_cast<char>(ids[i]));
  }
  response.set_text(std::move(text));
  Record("finished", ctx.request_id(), "Detokenize", ids.size());
  return response;
}

}  // namespace jetserve::testing
