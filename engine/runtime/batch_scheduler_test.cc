// Continuous batching on a random-weight llama model. Independent checks: tokens equal the
// one-sequence Generator's (private contiguous KV cache, no scheduler) whatever the batch
// neighbours, prefill chunk and KV block size; every request of a random load with
// cancellations and deadlines ends with the status its sink saw; afterwards a walk of the
// KV pool finds every block free exactly once; preempted sequences resume with the same
// tokens; running streams get a token every step while a long prompt is prefilled; the
// queue bound rejects exactly the excess.
#include "engine/runtime/batch_scheduler.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/model/random_model.h"
#include "engine/tokenizer/load_tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/status_matchers.h"

namespace jetserve::runtime {
namespace {

using Clock = std::chrono::steady_clock;
using ::jetserve::testing::StatusIs;

// The sanitizer job builds without optimization: smaller sizes there keep it quick while
// running every path.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

class Sink : public RequestSink {
 public:
  explicit Sink(int n = 1) : tokens(static_cast<size_t>(n)) {}
  bool Cancelled() const override { return cancel.load() || Clock::now() >= deadline; }
  bool Writable() const override { return writable.load(); }
  void OnEvent(const GenerationEvent& e) override {
    std::lock_guard<std::mutex> lock(mu);
    tokens[static_cast<size_t>(e.choice)].push_back(*e.token);
    if (e.finish != FinishReason::kNone) ++finished_choices;
    ++events;
    if (cancel_after >= 0 && events >= cancel_after) cancel = true;
  }
  void OnFinish(absl::Status s, const GenerationStats& st) override {
    std::lock_guard<std::mutex> lock(mu);
    cancelled_at_finish = Cancelled();
    status = std::move(s);
    stats = st;
    ++finishes;
    done = true;
  }

  std::mutex mu;
  std::vector<std::vector<int32_t>> tokens;
  int events = 0;
  int finished_choices = 0;
  int cancel_after = -1;
  std::atomic<bool> cancel{false};
  std::atomic<bool> writable{true};
  Clock::time_point deadline = Clock::time_point::max();
  absl::Status status;
  GenerationStats stats;
  bool cancelled_at_finish = false;
  int finishes = 0;
  std::atomic<bool> done{false};
};

// Every block is exactly once either on the free list (not cached) or on the evictable
// list (cached), and nobody holds a reference.
void ExpectAllBlocksFree(const model::KvBlockPool& pool) {
  std::vector<int> seen(static_cast<size_t>(pool.num_blocks()), 0);
  for (const int32_t b : pool.FreeList()) {
    ASSERT_GE(b, 0);
    ASSERT_LT(b, pool.num_blocks());
    EXPECT_FALSE(pool.cached(b)) << "block " << b;
    ++seen[static_cast<size_t>(b)];
  }
  for (const int32_t b : pool.EvictableList()) {
    ASSERT_GE(b, 0);
    ASSERT_LT(b, pool.num_blocks());
    EXPECT_TRUE(pool.cached(b)) << "block " << b;
    ++seen[static_cast<size_t>(b)];
  }
  for (int64_t b = 0; b < pool.num_blocks(); ++b) {
    EXPECT_EQ(seen[static_cast<size_t>(b)], 1) << "block " << b;
    EXPECT_EQ(pool.ref_count(static_cast<int32_t>(b)), 0) << "block " << b;
  }
  EXPECT_EQ(pool.num_cached(), static_cast<int64_t>(pool.EvictableList().size()));
  EXPECT_EQ(pool.num_available(), pool.num_blocks());
}

class BatchSchedulerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = new std::string(::testing::TempDir() + "/batch_scheduler_test_" +
                            std::to_string(::getpid()) + ".gguf");
    model::RandomDecoderSpec spec;
    for (const auto& s : model::RandomDecoderSpecs()) {
      if (s.name == "llama-Q8_0.gguf") spec = s;
    }
    spec.context_length = 4096;
    ASSERT_OK(model::WriteRandomDecoder(spec, *path_));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove(*path_);
    delete path_;
  }
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(decoder_, model::Decoder::Open(*path_));
    ASSERT_OK_AND_ASSIGN(tokenizer_, tokenizer::LoadTokenizer(*path_));
  }

  std::vector<int32_t> RandomPrompt(std::mt19937& rng, int len) {
    std::uniform_int_distribution<int32_t> tok(3, 500);
    std::vector<int32_t> p(static_cast<size_t>(len));
    for (int32_t& t : p) t = tok(rng);
    return p;
  }

  // The reference: the one-sequence Generator (contiguous private KV cache).
  std::vector<std::vector<int32_t>> Reference(const std::vector<int32_t>& prompt,
                                              const GenerateOptions& o, int64_t n_ctx) {
    Generator gen(*decoder_, *tokenizer_, &pool_, {.n_ctx = n_ctx, .max_rows = 64});
    std::vector<std::vector<int32_t>> out(static_cast<size_t>(o.n));
    EXPECT_OK(gen.Generate(prompt, o, [&](const GenerationEvent& e) {
      out[static_cast<size_t>(e.choice)].push_back(*e.token);
      return true;
    }));
    return out;
  }

  static GenerateOptions Greedy(int max_tokens) {
    GenerateOptions o;
    o.sampling.temperature = 0;
    o.stop.max_tokens = max_tokens;
    o.stop.ignore_eos = true;
    return o;
  }

  static GenerateOptions RandomOptions(std::mt19937& rng, int max_tokens) {
    GenerateOptions o;
    o.sampling.temperature = std::uniform_real_distribution<float>(0.5f, 1.5f)(rng);
    o.sampling.top_k = std::uniform_int_distribution<int>(0, 50)(rng);
    o.sampling.seed = rng();
    o.stop.max_tokens = max_tokens;
    o.stop.ignore_eos = true;
    o.n = std::uniform_int_distribution<int>(1, 2)(rng);
    return o;
  }

  // Runs the loop on the test thread until every sink is done.
  static void Drain(BatchScheduler& s, const std::vector<Sink*>& sinks) {
    for (int guard = 0; guard < 1000000; ++guard) {
      bool all = true;
      for (Sink* k : sinks) all = all && k->done.load();
      if (all) return;
      s.Step();
    }
    FAIL() << "requests did not finish";
  }

  static std::string* path_;
  ThreadPool pool_{2};
  std::unique_ptr<model::Decoder> decoder_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
};
std::string* BatchSchedulerTest::path_ = nullptr;

// What a choice streamed, for exact comparison: per event the token, its log probability
// and the alternatives, and the echoed prompt log probabilities.
struct Trace {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;  // the token's, then each alternative's (token, logprob)
  std::vector<int32_t> top_tokens;
  void Add(const GenerationEvent& e) {
    auto add = [&](const TokenLogprobs& lp) {
      logprobs.push_back(lp.logprob);
      top_tokens.push_back(lp.token);
      for (const LogprobEntry& t : lp.top) {
        top_tokens.push_back(t.token);
        logprobs.push_back(t.logprob);
      }
    };
    for (const TokenLogprobs& lp : e.prompt_logprobs) add(lp);
    tokens.push_back(*e.token);
    if (e.logprobs.has_value()) add(*e.logprobs);
  }
  bool operator==(const Trace& o) const {
    return tokens == o.tokens && logprobs == o.logprobs && top_tokens == o.top_tokens;
  }
};

// Records traces; cancels itself after `cancel_after` events when set.
class TraceSink : public RequestSink {
 public:
  explicit TraceSink(int n) : traces(static_cast<size_t>(n)) {}
  bool Cancelled() const override { return cancel; }
  void OnPromptCached(int64_t tokens) override { cached = tokens; }
  void OnEvent(const GenerationEvent& e) override {
    traces[static_cast<size_t>(e.choice)].Add(e);
    if (cancel_after >= 0 && ++events >= cancel_after) cancel = true;
  }
  void OnFinish(absl::Status s, const GenerationStats&) override {
    status = std::move(s);
    ++finishes;
  }
  std::vector<Trace> traces;
  int cancel_after = -1, events = 0, finishes = 0;
  bool cancel = false;
  int64_t cached = -1;
  absl::Status status;
};

TEST_F(BatchSchedulerTest, SameTokensAloneBatchedAndAnyChunking) {
  std::mt19937 rng(7);
  const std::vector<int32_t> prompt = RandomPrompt(rng, 37);
  const GenerateOptions greedy = Greedy(24);
  const std::vector<int32_t> want = Reference(prompt, greedy, 256)[0];
  ASSERT_EQ(want.size(), 24u);

  // Others: random prompts and seeded sampling, each with its own reference.
  std::vector<std::vector<int32_t>> other_prompts;
  std::vector<GenerateOptions> other_options;
  for (int i = 0; i < (kSanitized ? 7 : 15); ++i) {
    other_prompts.push_back(RandomPrompt(rng, std::uniform_int_distribution<int>(1, 60)(rng)));
    other_options.push_back(RandomOptions(rng, std::uniform_int_distribution<int>(1, 30)(rng)));
  }
  struct Config {
    int64_t step_tokens, block_tokens, max_rows;
    bool others;
  };
  for (const Config& cfg :
       {Config{256, 16, 64, false}, Config{17, 1, 5, false}, Config{256, 16, 64, true},
        Config{20, 3, 7, true}, Config{40, 64, 64, true}}) {
    SCOPED_TRACE(::testing::Message() << "step_tokens " << cfg.step_tokens << " block "
                                      << cfg.block_tokens << " others " << cfg.others);
    BatchScheduler sched(*decoder_, *tokenizer_, &pool_,
                         {.n_ctx = 256,
                          .block_tokens = cfg.block_tokens,
                          .max_seqs = 32,
                          .step_tokens = cfg.step_tokens,
                          .max_rows = cfg.max_rows});
    std::vector<std::unique_ptr<Sink>> sinks;
    std::vector<Sink*> all;
    sinks.push_back(std::make_unique<Sink>());
    all.push_back(sinks.back().get());
    if (cfg.others) {
      for (size_t i = 0; i < other_prompts.size(); ++i) {
        sinks.push_back(std::make_unique<Sink>(other_options[i].n));
        all.push_back(sinks.back().get());
      }
    }
    // The greedy request arrives while the others are already running.
    for (size_t i = 1; i < sinks.size(); ++i) {
      ASSERT_OK(sched.Submit({.prompt = other_prompts[i - 1],
                              .options = other_options[i - 1],
                              .sink = sinks[i].get()}));
      if (i % 4 == 0) sched.Step();
    }
    sched.Step();
    ASSERT_OK(sched.Submit({.prompt = prompt, .options = greedy, .sink = sinks[0].get()}));
    Drain(sched, all);
    EXPECT_OK(sinks[0]->status);
    EXPECT_EQ(sinks[0]->tokens[0], want);
    for (size_t i = 1; i < sinks.size(); ++i) {
      EXPECT_OK(sinks[i]->status);
      EXPECT_EQ(sinks[i]->tokens, Reference(other_prompts[i - 1], other_options[i - 1], 256))
          << "request " << i;
    }
    ExpectAllBlocksFree(sched.kv_pool());
  }
}

TEST_F(BatchSchedulerTest, RandomLoadWithCancellationsAndDeadlines) {
  std::mt19937 rng(11);
  const int64_t n_ctx = 128;
  BatchScheduler sched(*decoder_, *tokenizer_, &pool_,
                       {.n_ctx = n_ctx,
                        .block_tokens = 8,
                        .num_blocks = 40,  // < 16 full contexts: admission waits, preempts
                        .max_seqs = 16,
                        .max_queued = 200,
                        .step_tokens = 48});
  sched.Start();
  constexpr int kRequests = 200;
  std::vector<std::unique_ptr<Sink>> sinks;
  std::vector<std::vector<int32_t>> prompts;
  std::vector<GenerateOptions> options;
  for (int i = 0; i < kRequests; ++i) {
    prompts.push_back(
        RandomPrompt(rng, std::uniform_int_distribution<int>(1, kSanitized ? 16 : 40)(rng)));
    options.push_back(
        RandomOptions(rng, std::uniform_int_distribution<int>(1, kSanitized ? 8 : 24)(rng)));
    auto sink = std::make_unique<Sink>(options.back().n);
    const int kind = std::uniform_int_distribution<int>(0, 3)(rng);
    if (kind == 1) sink->cancel_after = std::uniform_int_distribution<int>(0, 10)(rng);
    if (kind == 2) {
      sink->deadline =
          Clock::now() + std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 300)(rng));
    }
    if (kind == 3 && i % 2 == 0) sink->cancel = true;  // cancelled before it starts
    sinks.push_back(std::move(sink));
  }
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_OK(sched.Submit({.prompt = prompts[static_cast<size_t>(i)],
                            .options = options[static_cast<size_t>(i)],
                            .priority = i % 3,
                            .sink = sinks[static_cast<size_t>(i)].get()}));
    if (i % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const auto give_up = Clock::now() + std::chrono::minutes(5);
  for (auto& s : sinks) {
    while (!s->done.load() && Clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  int ok = 0, cancelled = 0;
  for (int i = 0; i < kRequests; ++i) {
    Sink& s = *sinks[static_cast<size_t>(i)];
    ASSERT_TRUE(s.done.load()) << "request " << i << " never finished";
    std::lock_guard<std::mutex> lock(s.mu);
    EXPECT_EQ(s.finishes, 1);
    if (s.status.ok()) {
      ++ok;
      // Complete: every choice has exactly max_tokens tokens (ignore_eos).
      EXPECT_EQ(s.finished_choices, options[static_cast<size_t>(i)].n);
      for (const auto& t : s.tokens) {
        EXPECT_EQ(static_cast<int>(t.size()), options[static_cast<size_t>(i)].stop.max_tokens);
      }
    } else {
      ++cancelled;
      EXPECT_THAT(s.status, StatusIs(absl::StatusCode::kCancelled)) << "request " << i;
      EXPECT_TRUE(s.cancelled_at_finish) << "request " << i;
      EXPECT_LT(s.finished_choices, options[static_cast<size_t>(i)].n);
    }
  }
  std::cout << "200 requests: " << ok << " completed, " << cancelled << " cancelled, "
            << sched.Stats().preemptions << " preemptions\n";
  EXPECT_GT(ok, 0);
  EXPECT_GT(cancelled, 0);
  sched.Stop();
  ExpectAllBlocksFree(sched.kv_pool());

  // The whole pool is usable again: a request of the full context completes.
  BatchScheduler full(*decoder_, *tokenizer_, &pool_,
                      {.n_ctx = n_ctx, .block_tokens = 8, .num_blocks = 16, .max_seqs = 4});
  Sink sink;
  ASSERT_OK(full.Submit({.prompt = RandomPrompt(rng, 100),
                         .options = Greedy(static_cast<int>(n_ctx) - 100),
                         .sink = &sink}));
  Drain(full, {&sink});
  EXPECT_OK(sink.status);
  EXPECT_EQ(sink.tokens[0].size(), static_cast<size_t>(n_ctx - 100));
  ExpectAllBlocksFree(full.kv_pool());
}

TEST_F(BatchSchedulerTest, FullContextAfterLoadOnTheSamePool) {
  std::mt19937 rng(5);
  const int64_t n_ctx = 96;
  BatchScheduler sched(*decoder_, *tokenizer_, &pool_,
                       {.n_ctx = n_ctx, .block_tokens = 4, .num_blocks = 30, .max_seqs = 8});
  std::vector<std::unique_ptr<Sink>> sinks;
  std::vector<Sink*> all;
  for (int i = 0; i < 20; ++i) {
    sinks.push_back(std::make_unique<Sink>());
    if (i % 3 == 0) sinks.back()->cancel_after = 3;
    all.push_back(sinks.back().get());
    ASSERT_OK(sched.Submit(
        {.prompt = RandomPrompt(rng, 10 + i), .options = Greedy(20), .sink = sinks.back().get()}));
  }
  Drain(sched, all);
  ExpectAllBlocksFree(sched.kv_pool());
  Sink sink;
  ASSERT_OK(sched.Submit({.prompt = RandomPrompt(rng, 50),
                          .options = Greedy(static_cast<int>(n_ctx) - 50),
                          .sink = &sink}));
  Drain(sched, {&sink});
  EXPECT_OK(sink.status);
  EXPECT_EQ(sink.tokens[0].size(), static_cast<size_t>(n_ctx - 50));
  ExpectAllBlocksFree(sched.kv_pool());
}

TEST_F(BatchSchedulerTest, PreemptedSequencesResumeWithTheSameTokens) {
  std::mt19937 rng(3);
  const int64_t n_ctx = 128;
  std::vector<std::vector<int32_t>> prompts;
  std::vector<GenerateOptions> options;
  for (int i = 0; i < 8; ++i) {
    prompts.push_back(RandomPrompt(rng, 20 + i));
    const int n = kSanitized ? 30 : 60;
    options.push_back(i % 2 == 0 ? Greedy(n) : RandomOptions(rng, n));
    options.back().logprobs.logprobs = true;
  }
  // 8 sequences of up to ~90 tokens in 48 blocks of 4 = 192 positions: admission fits
  // their prompts, decoding runs out and must preempt.
  BatchScheduler sched(
      *decoder_, *tokenizer_, &pool_,
      {.n_ctx = n_ctx, .block_tokens = 4, .num_blocks = kSanitized ? 32 : 48, .max_seqs = 8});
  std::vector<std::unique_ptr<Sink>> sinks;
  std::vector<Sink*> all;
  for (int i = 0; i < 8; ++i) {
    sinks.push_back(std::make_unique<Sink>(options[static_cast<size_t>(i)].n));
    all.push_back(sinks.back().get());
    ASSERT_OK(sched.Submit({.prompt = prompts[static_cast<size_t>(i)],
                            .options = options[static_cast<size_t>(i)],
                            .sink = sinks.back().get()}));
  }
  Drain(sched, all);
  const int64_t preemptions = sched.Stats().preemptions;
  std::cout << "preemptions: " << preemptions << "\n";
  EXPECT_GT(preemptions, 0);
  for (int i = 0; i < 8; ++i) {
    EXPECT_OK(sinks[static_cast<size_t>(i)]->status);
    EXPECT_EQ(sinks[static_cast<size_t>(i)]->tokens,
              Reference(prompts[static_cast<size_t>(i)], options[static_cast<size_t>(i)], n_ctx))
        << "request " << i;
  }
  ExpectAllBlocksFree(sched.kv_pool());
}

TEST_F(BatchSchedulerTest, RunningStreamsKeepTheirPaceDuringALongPrefill) {
  const int64_t n_ctx = 2304;
  BatchScheduler sched(*decoder_, *tokenizer_, &pool_,
                       {.n_ctx = n_ctx, .block_tokens = 16, .max_seqs = 5, .step_tokens = 128});
  std::mt19937 rng(9);
  std::vector<std::unique_ptr<Sink>> streams;
  std::vector<Sink*> all;
  for (int i = 0; i < 4; ++i) {
    streams.push_back(std::make_unique<Sink>());
    all.push_back(streams.back().get());
    ASSERT_OK(sched.Submit(
        {.prompt = RandomPrompt(rng, 8), .options = Greedy(40), .sink = streams.back().get()}));
  }
  double decode_step_ms = 0;  // the peer: a step of the 4 streams alone
  for (int i = 0; i < 4; ++i) {
    const auto t0 = Clock::now();
    sched.Step();  // (the first one prefills their short prompts)
    if (i > 0) {
      decode_step_ms += std::chrono::duration<double, std::milli>(Clock::now() - t0).count() / 3;
    }
  }
  Sink long_prompt;
  all.push_back(&long_prompt);
  const int long_tokens = kSanitized ? 600 : 2000;
  ASSERT_OK(sched.Submit(
      {.prompt = RandomPrompt(rng, long_tokens), .options = Greedy(4), .sink = &long_prompt}));
  int prefill_steps = 0;
  double max_gap_ms = 0;
  std::vector<size_t> before(4);
  while (long_prompt.events == 0) {
    for (size_t i = 0; i < 4; ++i) before[i] = streams[i]->tokens[0].size();
    const auto t0 = Clock::now();
    ASSERT_TRUE(sched.Step());
    max_gap_ms =
        std::max(max_gap_ms, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    ++prefill_steps;
    for (size_t i = 0; i < 4; ++i) {
      ASSERT_EQ(streams[i]->tokens[0].size(), before[i] + 1)
          << "stream " << i << " got no token in prefill step " << prefill_steps;
    }
  }
  std::cout << long_tokens << "-token prompt prefilled in " << prefill_steps
            << " steps; every running stream got a token each step; max gap between tokens "
            << max_gap_ms << " ms (a decode step of the 4 streams alone: " << decode_step_ms
            << " ms)\n";
  EXPECT_GE(prefill_steps, long_tokens / 128);
  Drain(sched, all);
  for (Sink* s : all) EXPECT_OK(s->status);
}

TEST_F(BatchSchedulerTest, QueueBoundRejectsExactlyTheExcess) {
  BatchScheduler sched(*decoder_, *tokenizer_, &pool_,
                       {.n_ctx = 64, .max_seqs = 2, .max_queued = 3});
  std::vector<std::unique_ptr<Sink>> sinks;
  std::vector<Sink*> accepted;
  int rejected = 0;
  for (int i = 0; i < 8; ++i) {
    sinks.push_back(std::make_unique<Sink>());
    absl::Status s =
        sched.Submit({.prompt = {5, 6, 7}, .options = Greedy(4), .sink = sinks.back().get()});
    if (s.ok()) {
      accepted.push_back(sinks.back().get());
    } else {
      EXPECT_THAT(s, StatusIs(absl::StatusCode::kResourceExhausted));
      ++rejected;
    }
    if (i == 1) sched.Step();  // two running now; the bound counts them too
  }
  EXPECT_EQ(rejected, 3);
  Drain(sched, accepted);
  for (Sink* s : accepted) EXPECT_OK(s->status);
  // Room again once they finished.
  Sink again;
  EXPECT_OK(sched.Submit({.prompt = {5}, .options = Greedy(2), .sink = &again}));
  Drain(sched, {&again});
}

TEST_F(BatchSchedulerTest, HigherPriorityIsAdmittedFirst) {
  BatchScheduler sched(*decoder_, *tokenizer_, &pool_, {.n_ctx = 64, .max_seqs = 1});
  Sink first, low, high;
  ASSERT_OK(sched.Submit({.prompt = {5, 6}, .options = Greedy(3), .sink = &first}));
  sched.Step();  // `first` runs; the next two wait for the only slot
  ASSERT_OK(sched.Submit({.prompt = {7}, .options = Greedy(3), .priority = 0, .sink = &low}));
  ASSERT_OK(sched.Submit({.prompt = {8}, .options = Greedy(3), .priority = 2, .sink = &high}));
  Drain(sched, {&first});
  while (high.events == 0 && low.events == 0) sched.Step();
  EXPECT_GT(high.events, 0);
  EXPECT_EQ(low.events, 0);
  Drain(sched, {&high, &low});
}

TEST_F(BatchSchedulerTest, PausedReaderDoesNotStallOthersAndInvalidRequestsAreRejected) {
  BatchScheduler sched(*decoder_, *tokenizer_, &pool_, {.n_ctx = 64, .max_seqs = 4});
  Sink slow, fast;
  slow.writable = false;
  ASSERT_OK(sched.Submit({.prompt = {5, 6}, .options = Greedy(10), .sink = &slow}));
  ASSERT_OK(sched.Submit({.prompt = {7, 8}, .options = Greedy(10), .sink = &fast}));
  Drain(sched, {&fast});
  EXPECT_EQ(fast.tokens[0].size(), 10u);
  EXPECT_EQ(slow.events, 0);
  slow.writable = true;
  Drain(sched, {&slow});
  EXPECT_EQ(slow.tokens[0].size(), 10u);

  Sink bad;
  EXPECT_THAT(sched.Submit({.prompt = {}, .options = Greedy(1), .sink = &bad}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(sched.Submit({.prompt = {9999}, .options = Greedy(1), .sink = &bad}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      sched.Submit({.prompt = std::vector<int32_t>(64, 5), .options = Greedy(1), .sink = &bad}),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(bad.finishes, 0);
}

}  // namespace
}  // namespace jetserve::runtime

namespace jetserve::runtime {
namespace {

// The one-sequence Generator's traces (contiguous private KV cache, no scheduler, no prefix
// cache): the independent reference.
std::vector<Trace> ReferenceTraces(const model::Decoder& d, const tokenizer::Tokenizer& t,
                                   ThreadPool* pool, const std::vector<int32_t>& prompt,
                                   const GenerateOptions& o, int64_t n_ctx) {
  Generator gen(d, t, pool, {.n_ctx = n_ctx, .max_rows = 64});
  std::vector<Trace> out(static_cast<size_t>(o.n));
  EXPECT_OK(gen.Generate(prompt, o, [&](const GenerationEvent& e) {
    out[static_cast<size_t>(e.choice)].Add(e);
    return true;
  }));
  return out;
}

// Many requests sharing prefixes of random lengths (on, before and after block
// boundaries), with sampling, logprobs, echoed prompts, n > 1, requests bypassing the cache,
// cancellations, in a pool small enough to preempt and to evict cached blocks: every
// request streams exactly the Generator's tokens and log probabilities (a cancelled one a
// prefix of them); the cache was hit; afterwards every block is free or cached, once.
TEST_F(BatchSchedulerTest, PrefixCacheKeepsOutputsExactUnderLoad) {
  std::mt19937 rng(2026);
  const int64_t n_ctx = 128, bt = 4;
  BatchScheduler sched(*decoder_, *tokenizer_, &pool_,
                       {.n_ctx = n_ctx,
                        .block_tokens = bt,
                        .num_blocks = 34,  // ~ 4 contexts of 32 tokens: preempts and evicts
                        .max_seqs = 8,
                        .max_queued = 1000,
                        .step_tokens = 24});
  std::vector<std::vector<int32_t>> systems;
  for (int i = 0; i < 4; ++i) systems.push_back(RandomPrompt(rng, 44));
  const int requests = kSanitized ? 24 : 70;
  std::vector<std::vector<int32_t>> prompts;
  std::vector<GenerateOptions> options;
  std::vector<bool> bypass;
  std::vector<std::unique_ptr<TraceSink>> sinks;
  for (int i = 0; i < requests; ++i) {
    const std::vector<int32_t>& sys = systems[rng() % systems.size()];
    // Shared part: a multiple of the block size, one more or one less, or any length.
    int len = static_cast<int>(bt) * std::uniform_int_distribution<int>(0, 11)(rng);
    switch (rng() % 4) {
      case 0:
        len += 1;
        break;
      case 1:
        len = std::max(0, len - 1);
        break;
      case 2:
        len = std::uniform_int_distribution<int>(0, 44)(rng);
        break;
      default:
        break;
    }
    len = std::min(len, static_cast<int>(sys.size()));
    std::vector<int32_t> p(sys.begin(), sys.begin() + len);
    const std::vector<int32_t> own =
        RandomPrompt(rng, std::uniform_int_distribution<int>(len == 0 ? 1 : 0, 9)(rng));
    p.insert(p.end(), own.begin(), own.end());
    prompts.push_back(p);
    GenerateOptions o = RandomOptions(rng, std::uniform_int_distribution<int>(1, 12)(rng));
    o.n = std::uniform_int_distribution<int>(1, 3)(rng);
    o.logprobs.logprobs = true;
    o.logprobs.top_logprobs = 2;
    o.logprobs.echo_prompt = rng() % 8 == 0;
    options.push_back(o);
    bypass.push_back(rng() % 10 == 0);
    sinks.push_back(std::make_unique<TraceSink>(o.n));
    if (rng() % 6 == 0) sinks.back()->cancel_after = std::uniform_int_distribution<int>(0, 6)(rng);
  }
  // Arrivals spread over the steps: several run at once, later ones find earlier blocks.
  size_t next = 0;
  for (int guard = 0; guard < 100000; ++guard) {
    while (next < prompts.size() && (next < 3 || rng() % 3 == 0)) {
      ASSERT_OK(sched.Submit({.prompt = prompts[next],
                              .options = options[next],
                              .sink = sinks[next].get(),
                              .prefix_cache = !bypass[next]}));
      ++next;
    }
    sched.Step();
    if (next == prompts.size() && sched.Stats().requests == 0) break;
  }
  ASSERT_EQ(sched.Stats().requests, 0);
  int ok = 0, cancelled = 0, hits = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "request " << i << " prompt " << prompts[i].size());
    const TraceSink& k = *sinks[i];
    EXPECT_EQ(k.finishes, 1);
    const std::vector<Trace> want =
        ReferenceTraces(*decoder_, *tokenizer_, &pool_, prompts[i], options[i], n_ctx);
    if (k.status.ok()) {
      ++ok;
      EXPECT_TRUE(k.traces == want);
    } else {
      ++cancelled;
      EXPECT_THAT(k.status, StatusIs(absl::StatusCode::kCancelled));
      for (size_t c = 0; c < want.size(); ++c) {
        const Trace& got = k.traces[c];
        ASSERT_LE(got.tokens.size(), want[c].tokens.size());
        EXPECT_TRUE(std::equal(got.tokens.begin(), got.tokens.end(), want[c].tokens.begin()));
        EXPECT_TRUE(std::equal(got.logprobs.begin(), got.logprobs.end(), want[c].logprobs.begin()));
      }
    }
    if (bypass[i]) {
      EXPECT_EQ(k.cached, 0);
    }
    if (k.cached > 0) ++hits;
    EXPECT_LE(k.cached, static_cast<int64_t>(prompts[i].size()) - 1);
    EXPECT_EQ(k.cached % bt, 0);
  }
  const SchedulerStats st = sched.Stats();
  std::cout << requests << " requests: " << ok << " completed, " << cancelled << " cancelled, "
            << hits << " found cached prompt blocks; prefix tokens hit " << st.prefix_hit_tokens
            << " of " << st.prefix_queried_tokens << "; " << st.preemptions << " preemptions, "
            << sched.kv_pool().evictions() << " evictions\n";
  EXPECT_GT(ok, 0);
  EXPECT_GT(cancelled, 0);
  EXPECT_GE(hits, requests / 8);
  EXPECT_GT(st.prefix_hit_tokens, 0);
  EXPECT_LT(st.prefix_hit_tokens, st.prefix_queried_tokens);
  EXPECT_GT(st.preemptions, 0);
  EXPECT_GT(sched.kv_pool().evictions(), 0);
  ExpectAllBlocksFree(sched.kv_pool());
  EXPECT_EQ(st.kv_blocks_cached, sched.kv_pool().num_cached());
}

// n choices share the prompt's blocks: the first computes the prompt; the others are
// admitted once its full blocks are indexed and compute only past them. A request that
// bypasses the cache neither finds nor adds blocks.
TEST_F(BatchSchedulerTest, ChoicesShareThePromptAndBypassIsHonoured) {
  std::mt19937 rng(11);
  const int64_t bt = 4;
  BatchScheduler sched(*decoder_, *tokenizer_, &pool_,
                       {.n_ctx = 128, .block_tokens = bt, .max_seqs = 8, .step_tokens = 16});
  const std::vector<int32_t> prompt = RandomPrompt(rng, 42);  // 10 full blocks + 2
  GenerateOptions o = RandomOptions(rng, 5);
  o.n = 3;
  o.logprobs.logprobs = true;
  TraceSink k(3);
  ASSERT_OK(sched.Submit({.prompt = prompt, .options = o, .sink = &k}));
  int64_t peak_used = 0;
  while (k.finishes == 0) {
    sched.Step();
    const SchedulerStats st = sched.Stats();
    peak_used = std::max(peak_used, st.kv_blocks_total - st.kv_blocks_free);
  }
  EXPECT_OK(k.status);
  EXPECT_TRUE(k.traces == ReferenceTraces(*decoder_, *tokenizer_, &pool_, prompt, o, 128));
  // Choices 1 and 2 each found the 10 full blocks before the last prompt token.
  EXPECT_EQ(sched.Stats().prefix_hit_tokens, 2 * 40);
  EXPECT_EQ(k.cached, 0);  // the request's first choice found nothing
  // 3 choices of at most 46 tokens in the KV cache: 12 blocks each alone; sharing the 10
  // full prompt blocks, at most 10 + 3 x 2.
  EXPECT_LE(peak_used, 16);
  const int64_t cached = sched.kv_pool().num_cached();

  TraceSink again(3), bypass(3);
  ASSERT_OK(sched.Submit({.prompt = prompt, .options = o, .sink = &bypass, .prefix_cache = false}));
  while (bypass.finishes == 0) sched.Step();
  EXPECT_EQ(bypass.cached, 0);
  EXPECT_EQ(sched.Stats().prefix_hit_tokens, 2 * 40);
  EXPECT_EQ(sched.kv_pool().num_cached(), cached);
  EXPECT_TRUE(bypass.traces == k.traces);
  ASSERT_OK(sched.Submit({.prompt = prompt, .options = o, .sink = &again}));
  while (again.finishes == 0) sched.Step();
  EXPECT_EQ(again.cached, 40);
  EXPECT_EQ(sched.Stats().prefix_hit_tokens, 2 * 40 + 3 * 40);
  EXPECT_TRUE(again.traces == k.traces);
  ExpectAllBlocksFree(sched.kv_pool());

  // Off for the whole scheduler: nothing is indexed.
  BatchScheduler off(*decoder_, *tokenizer_, &pool_,
                     {.n_ctx = 128, .block_tokens = bt, .max_seqs = 8, .prefix_cache = false});
  TraceSink k2(3);
  ASSERT_OK(off.Submit({.prompt = prompt, .options = o, .sink = &k2}));
  int64_t off_peak = 0;
  while (k2.finishes == 0) {
    off.Step();
    const SchedulerStats st = off.Stats();
    off_peak = std::max(off_peak, st.kv_blocks_total - st.kv_blocks_free);
  }
  EXPECT_GE(off_peak, 33);  // 3 x 11 blocks for the prompt and first token alone
  EXPECT_TRUE(k2.traces == k.traces);
  EXPECT_EQ(off.kv_pool().num_cached(), 0);
  EXPECT_EQ(off.Stats().prefix_queried_tokens, 0);
}

}  // namespace
}  // namespace jetserve::runtime
