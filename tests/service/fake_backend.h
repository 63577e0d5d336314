// FakeBackend: a scriptable stand-in for an inference engine, for service tests only (never
// linked into a shipped binary). It implements every task of worker/backend.h
// deterministically and cheaply, and records what happened on the worker side (events) so
// that tests can check that cancellation, deadlines and flow control reached the engine.
//
// In process:  FakeBackend(FakeBackendOptions{.name = "m", .capacity = 4})
// As a process: jetserve-fake-worker — the real worker main (all jetserve-worker flags,
//   --model is accepted and ignored) with the fake backend and these extra flags:
//     --fake-capacity=N          advertised Capacity.max_concurrent_requests (default 4)
//     --fake-crash-at-start      exit 1 before serving (prints "fake crash at start")
//     --fake-start-delay-ms=N    sleep N ms before serving (a slow model load)
//     --fake-event-log=PATH      append one JSON line per event (see below)
//   It prints "listening on ADDR" on stdout once serving (the real port for port 0),
//   answers grpc.health.v1 SERVING, and drains on SIGTERM like the real worker.
//
// Generate: the prompt (or the chat messages' contents, joined) may hold directives,
// whitespace-separated key=value words anywhere in the text; other words are ignored:
//     tokens=N        tokens to generate (default 8; capped by stop.max_tokens)
//     delay_ms=N      pause before each token (default 0)
//     chunk_bytes=N   pad each message's text to N bytes with '.' (default: no padding)
//     fail_at=N       before token N, end the call with fail_code (default INTERNAL)
//     fail_code=NAME  a gRPC code name, e.g. UNAVAILABLE, RESOURCE_EXHAUSTED
//     exit_at=N       before token N, kill the whole process (_exit(3)): a worker crash
//   Token i is one message: index 0, token_ids [i], text "[NAME #i]" (NAME = --name, so
//   routing is visible). The last token's message carries finish_reason LENGTH and usage
//   (prompt_tokens = prompt bytes, completion_tokens = tokens); tokens=0 sends just that.
//   A bad directive value is INVALID_ARGUMENT naming it. One scheduler thread runs all
//   calls like a batching engine: a call whose client is not reading (!Writable()) is
//   skipped ("paused") until its stream wakes it.
// Unary calls (directives read from the first text: delay_ms=N waits, honouring
//   cancellation; fail=NAME fails with that code):
//   Tokenize    ids = the UTF-8 bytes of the text (chat: "role: content\n" per message);
//               pieces = one byte each
//   Detokenize  the bytes of the ids; an id outside [0, 256) is INVALID_ARGUMENT
//   Embed       per input [bytes of the text, NameHash(NAME) % 1000, input index],
//               resized to `dimensions` if set; never normalized
//   Classify    labels = candidate_labels or ["negative", "positive"]; label
//               (bytes % n) scores 1, the rest 0; top_k honoured
//   Rerank      score = 1 / (1 + |bytes(doc) - bytes(query)|), best first; top_n honoured
//
// Events, one JSON object per line (event log file) and in memory (events()):
//   {"event":"start","request_id":"r1","method":"Generate","n":0,"pid":123,"model":"NAME"}
//   event: "start", "token" (n = token index), "paused"/"resumed" (n = next token),
//          "cancelled"/"deadline" (the backend saw it; n = tokens produced),
//          "failed" (fail_at), "exit" (exit_at), "finished" (n = tokens produced).
#ifndef JETSERVE_TESTS_SERVICE_FAKE_BACKEND_H_
#define JETSERVE_TESTS_SERVICE_FAKE_BACKEND_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "worker/backend.h"

namespace jetserve::testing {

struct FakeBackendOptions {
  // The served name; appears in every generated text.
  std::string name = "fake";
  int capacity = 4;
  // Append events here as JSON lines; empty: memory only.
  std::string event_log_path;
  // Not owned; null: discarded.
  worker::GenerationMetrics* metrics = nullptr;
};

// Generate directives (see above).
struct FakeScript {
  int tokens = 8;
  int delay_ms = 0;
  int chunk_bytes = 0;
  int fail_at = -1;
  absl::StatusCode fail_code = absl::StatusCode::kInternal;
  int exit_at = -1;
};
absl::StatusOr<FakeScript> ParseFakeScript(absl::string_view text);

struct FakeEvent {
  std::string event;
  std::string request_id;
  std::string method;
  int64_t n = 0;
};

// FNV-1a of `name`, the Embed "name hash".
uint64_t NameHash(absl::string_view name);

class FakeBackend final : public worker::Backend {
 public:
  explicit FakeBackend(FakeBackendOptions options);
  // Stops the scheduler. Every Generate call must have finished (shut the server down
  // first).
  ~FakeBackend() override;

  jetserve::v1::ModelInfo Info() const override;
  jetserve::worker::v1::Capacity Capacity() const override;
  jetserve::worker::v1::Memory Memory() const override;
  worker::BackendLoad Load() const override;

  void Generate(worker::GenerateStream* stream) override;
  absl::StatusOr<jetserve::v1::ClassifyResponse> Classify(
      const worker::CallContext& ctx,
      const jetserve::worker::v1::ClassifyRequest& request) override;
  absl::StatusOr<jetserve::v1::RerankResponse> Rerank(
      const worker::CallContext& ctx, const jetserve::worker::v1::RerankRequest& request) override;
  absl::StatusOr<jetserve::v1::EmbedResponse> Embed(
      const worker::CallContext& ctx, const jetserve::worker::v1::EmbedRequest& request) override;
  absl::StatusOr<jetserve::v1::TokenizeResponse> Tokenize(
      const worker::CallContext& ctx,
      const jetserve::worker::v1::TokenizeRequest& request) override;
  absl::StatusOr<jetserve::v1::DetokenizeResponse> Detokenize(
      const worker::CallContext& ctx,
      const jetserve::worker::v1::DetokenizeRequest& request) override;

  // Events so far, oldest first.
  std::vector<FakeEvent> events() const;
  // Waits until an event `event` for `request_id` was recorded; returns it.
  std::optional<FakeEvent> WaitForEvent(absl::string_view event, absl::string_view request_id,
                                        absl::Duration timeout) const;
  // Events named `event` for `request_id`.
  int CountEvents(absl::string_view event, absl::string_view request_id) const;

 private:
  struct Sequence;
  void Record(absl::string_view event, absl::string_view request_id, absl::string_view method,
              int64_t n);
  void Notify();
  void Schedule();
  // Runs `seq` as far as it can now; returns false once it finished.
  bool Step(Sequence& seq, absl::Time now);
  // delay_ms / fail directives of unary calls.
  absl::Status RunUnaryScript(const worker::CallContext& ctx, absl::string_view method,
                              absl::string_view text);

  const FakeBackendOptions options_;
  worker::NullGenerationMetrics null_metrics_;
  worker::GenerationMetrics* const metrics_;
  int event_fd_ = -1;

  mutable absl::Mutex events_mu_;
  std::vector<FakeEvent> events_ ABSL_GUARDED_BY(events_mu_);

  // Hand-over from gRPC threads to the scheduler. Never held while calling a stream, so
  // that stream wake callbacks (which take it) cannot deadlock against Finish.
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Sequence>> incoming_ ABSL_GUARDED_BY(mu_);
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int running_ ABSL_GUARDED_BY(mu_) = 0;

  std::thread scheduler_;
};

}  // namespace jetserve::testing

#endif  // JETSERVE_TESTS_SERVICE_FAKE_BACKEND_H_
