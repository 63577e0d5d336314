#include "tools/jetserve/bench_command.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <optional>
#include <random>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/encoder/text_encoder.h"
#include "engine/model/decoder.h"
#include "engine/runtime/batch_scheduler.h"
#include "engine/runtime/decoder_model.h"
#include "engine/util/thread_pool.h"
#include "tools/jetserve/cli_args.h"

namespace jetserve::cli {
namespace {

using Clock = std::chrono::steady_clock;

const std::vector<OptionSpec>& Specs() {
  static const auto* specs = new std::vector<OptionSpec>{
      {"model", 'm', true},          {"concurrency", '\0', true}, {"n-predict", 'n', true},
      {"prompt-tokens", '\0', true}, {"threads", 't', true},      {"block-tokens", '\0', true},
      {"rounds", '\0', true},        {"protocol", '\0', false},   {"encoder", '\0', false},
      {"prefix", '\0', false},       {"no-pack", '\0', false}};
  return *specs;
}

// Counts one request's tokens.
class CountingSink final : public runtime::RequestSink {
 public:
  bool Cancelled() const override { return false; }
  void OnEvent(const runtime::GenerationEvent&) override { ++tokens; }
  void OnFinish(absl::Status s, const runtime::GenerationStats&) override {
    status = std::move(s);
    done = true;
  }
  int64_t tokens = 0;
  bool done = false;
  absl::Status status;
};

struct Round {
  int64_t tokens = 0;
  double seconds = 0;
  double cpu_seconds = 0;  // process CPU time (all threads): less sensitive to other load
  int64_t steps = 0;
};

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

absl::StatusOr<Round> RunRound(const runtime::DecoderModel& m, ThreadPool* pool, int concurrency,
                               int n, int prompt_tokens, int64_t block_tokens) {
  const int64_t ctx = prompt_tokens + n + 1;
  runtime::BatchScheduler sched(*m.decoder, *m.tokenizer, pool,
                                {.n_ctx = ctx,
                                 .block_tokens = block_tokens,
                                 .max_seqs = concurrency,
                                 .max_queued = 0,
                                 .step_tokens = std::max<int64_t>(256, concurrency + 1)});
  std::vector<CountingSink> sinks(static_cast<size_t>(concurrency));
  const int32_t vocab = static_cast<int32_t>(m.decoder->config().n_vocab);
  const auto start = Clock::now();
  const double cpu_start = ProcessCpuSeconds();
  for (int i = 0; i < concurrency; ++i) {
    // Distinct prompts (a fixed pseudo-random walk over the vocabulary) and seeds.
    std::vector<int32_t> prompt;
    uint64_t x = 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(i + 1);
    for (int t = 0; t < prompt_tokens; ++t) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      prompt.push_back(static_cast<int32_t>(x % static_cast<uint64_t>(vocab)));
    }
    runtime::GenerateOptions o;
    o.sampling.seed = static_cast<uint64_t>(i);
    o.stop.max_tokens = n;
    o.stop.ignore_eos = true;
    absl::Status s = sched.Submit(
        {.prompt = std::move(prompt), .options = o, .sink = &sinks[static_cast<size_t>(i)]});
    if (!s.ok()) return s;
  }
  while (!std::all_of(sinks.begin(), sinks.end(), [](const CountingSink& k) { return k.done; })) {
    sched.Step();
  }
  Round r;
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.cpu_seconds = ProcessCpuSeconds() - cpu_start;
  r.steps = sched.Stats().steps;
  for (const CountingSink& k : sinks) {
    if (!k.status.ok()) return k.status;
    r.tokens += k.tokens;
  }
  return r;
}

// ---- --protocol: the jetserve side of tests/bench/compare.py ----------------------------

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Read bandwidth in GB/s: `threads` threads each sum their part of a 512 MiB buffer (well
// over any L3 here), best of `reps` passes. The sum is printed so the reads are not dropped.
double ReadBandwidth(ThreadPool* pool, int reps, double* checksum) {
  const size_t n = (size_t{512} << 20) / sizeof(uint64_t);
  std::vector<uint64_t> buf(n);
  pool->ParallelFor(static_cast<int64_t>(n), [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) buf[static_cast<size_t>(i)] = static_cast<uint64_t>(i);
  });
  std::vector<uint64_t> sums(static_cast<size_t>(pool->num_threads()));
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    pool->ParallelFor(static_cast<int64_t>(n), [&](int64_t b, int64_t e, int thread) {
      // Eight independent sums: enough loads in flight to saturate the bus.
      uint64_t s[8] = {};
      int64_t i = b;
      for (; i + 8 <= e; i += 8) {
        for (int j = 0; j < 8; ++j) s[j] += buf[static_cast<size_t>(i + j)];
      }
      for (; i < e; ++i) s[0] += buf[static_cast<size_t>(i)];
      uint64_t total = 0;
      for (uint64_t v : s) total += v;
      sums[static_cast<size_t>(thread)] += total;
    });
    best = std::min(best, Since(t0));
  }
  *checksum = 0;
  for (uint64_t v : sums) *checksum += static_cast<double>(v);
  return static_cast<double>(n * sizeof(uint64_t)) / best / 1e9;
}

// Bytes of weights one decode step reads: every tensor except the token embeddings, of
// which one row is read, unless the output layer is tied to them (no output.weight).
uint64_t WeightBytesPerToken(const GgufFile& file) {
  uint64_t total = 0, embd = 0;
  bool tied = true;
  for (const GgufTensorInfo& t : file.tensors()) {
    total += t.data.size();
    if (t.name == "token_embd.weight") embd = t.data.size();
    if (t.name == "output.weight") tied = false;
  }
  return tied ? total : total - embd;
}

std::vector<int32_t> RandomTokens(std::mt19937_64* rng, int64_t n, int32_t vocab) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  std::uniform_int_distribution<int32_t> d(0, vocab - 1);
  for (int32_t& t : ids) t = d(*rng);
  return ids;
}

// Line protocol on stdin/stdout, one reply line per command (WALL: wall-clock seconds, CPU:
// the process's CPU seconds over all threads):
//   info        -> "info weight_bytes_per_token B threads T"   (decoders; encoders: B = 0)
//   bw          -> "bw GBPS"      read bandwidth with the same threads
//   pp N        -> "pp N WALL CPU"  one batch of N random prompt tokens on an empty cache
//   tg N        -> "tg N WALL CPU"  N single-token decode steps from an empty cache
//   enc B L     -> "enc B L WALL CPU"  one batch of B sequences of L random tokens, mean-pooled
//   quit
// Errors: "error MESSAGE" and the command is skipped.
int RunProtocol(const std::string& model, bool encoder, int threads, bool pack, std::istream& in,
                std::ostream& out, std::ostream& err) {
  ThreadPool pool(threads);
  std::mt19937_64 rng(1234);
  std::unique_ptr<model::Decoder> decoder;
  std::unique_ptr<encoder::TextEncoder> text_encoder;
  constexpr int64_t kMaxTokens = 4096;
  if (encoder) {
    absl::StatusOr<std::unique_ptr<encoder::TextEncoder>> te = encoder::TextEncoder::Load(model);
    if (!te.ok()) {
      err << "jetserve bench: " << te.status().message() << "\n";
      return 1;
    }
    text_encoder = std::move(*te);
  } else {
    absl::StatusOr<std::unique_ptr<model::Decoder>> d =
        model::Decoder::Open(model, {.pack_weights = pack});
    if (!d.ok()) {
      err << "jetserve bench: " << d.status().message() << "\n";
      return 1;
    }
    decoder = std::move(*d);
  }
  // Decoder state sized for the longest command; built on first use.
  std::unique_ptr<model::KvCache> cache;
  std::unique_ptr<model::RunState> state;
  std::vector<float> logits;
  encoder::EncoderWorkspace ws;
  std::vector<float> pooled;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> w = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (w.empty()) continue;
    auto num = [&](size_t i, int64_t* v) {
      return i < w.size() && absl::SimpleAtoi(w[i], v) && *v >= 1 && *v <= kMaxTokens;
    };
    int64_t a = 0, b = 0;
    if (w[0] == "quit") break;
    if (w[0] == "info") {
      out << "info weight_bytes_per_token "
          << (decoder != nullptr ? WeightBytesPerToken(decoder->file()) : 0) << " threads "
          << pool.num_threads() << std::endl;
    } else if (w[0] == "bw") {
      double checksum = 0;
      const double gbps = ReadBandwidth(&pool, 5, &checksum);
      out << "bw " << gbps << " checksum " << checksum << std::endl;
    } else if ((w[0] == "pp" || w[0] == "tg") && decoder != nullptr && num(1, &a)) {
      const model::ModelConfig& c = decoder->config();
      if (cache == nullptr) {
        const int64_t ctx =
            std::min<int64_t>(c.n_ctx_train > 0 ? c.n_ctx_train : kMaxTokens, kMaxTokens);
        cache = std::make_unique<model::KvCache>(c, ctx);
        state = std::make_unique<model::RunState>(
            *decoder,
            model::RunStateOptions{.max_rows = 512, .n_ctx = ctx, .threads = pool.num_threads()});
        logits.resize(static_cast<size_t>(c.n_vocab));
      }
      cache->Truncate(0);
      const std::vector<int32_t> ids = RandomTokens(&rng, a, static_cast<int32_t>(c.n_vocab));
      absl::Status s;
      const double cpu0 = ProcessCpuSeconds();
      const auto t0 = Clock::now();
      if (w[0] == "pp") {
        s = decoder->Eval(ids, false, cache.get(), state.get(), &pool, logits.data());
      } else {
        for (int64_t i = 0; i < a && s.ok(); ++i) {
          s = decoder->Eval(absl::MakeConstSpan(&ids[static_cast<size_t>(i)], 1), false,
                            cache.get(), state.get(), &pool, logits.data());
        }
      }
      const double sec = Since(t0), cpu = ProcessCpuSeconds() - cpu0;
      if (!s.ok()) {
        out << "error " << s.message() << std::endl;
      } else {
        out << w[0] << " " << a << " " << sec << " " << cpu << std::endl;
      }
    } else if (w[0] == "enc" && text_encoder != nullptr && num(1, &a) && num(2, &b)) {
      const encoder::Encoder& e = text_encoder->encoder();
      std::vector<std::vector<int32_t>> ids;
      std::vector<encoder::EncoderSequence> batch;
      for (int64_t i = 0; i < a; ++i) {
        ids.push_back(RandomTokens(&rng, b, e.config().n_vocab));
      }
      for (const auto& v : ids) batch.push_back({.ids = v, .type_ids = {}});
      const double cpu0 = ProcessCpuSeconds();
      const auto t0 = Clock::now();
      absl::Status s = e.Forward(batch, &pool, &ws);
      if (s.ok()) e.Pool(encoder::Pooling::kMean, ws, &pooled);
      const double sec = Since(t0), cpu = ProcessCpuSeconds() - cpu0;
      if (!s.ok()) {
        out << "error " << s.message() << std::endl;
      } else {
        out << "enc " << a << " " << b << " " << sec << " " << cpu << std::endl;
      }
    } else {
      out << "error bad command \"" << line << "\"" << std::endl;
    }
  }
  return 0;
}

// Notes when a request's first token came.
class FirstTokenSink final : public runtime::RequestSink {
 public:
  bool Cancelled() const override { return false; }
  void OnEvent(const runtime::GenerationEvent&) override {
    if (!first.has_value()) first = Clock::now();
  }
  void OnPromptCached(int64_t tokens) override { cached = tokens; }
  void OnFinish(absl::Status s, const runtime::GenerationStats&) override {
    status = std::move(s);
    done = true;
  }
  std::optional<Clock::time_point> first;
  int64_t cached = 0;
  bool done = false;
  absl::Status status;
};

struct PrefixRound {
  double first_ms = 0, second_ms = 0, bypass_ms = 0;
  int64_t cached = 0;
};

// Time to first token of three requests sharing a `shared`-token system prompt (each with
// its own 16-token tail), one after the other on a fresh scheduler: the first computes
// everything, the second finds the system prompt in the prefix cache, the third bypasses
// the cache (the peer: the same work as the first, on the same warm scheduler).
absl::StatusOr<PrefixRound> RunPrefixRound(const runtime::DecoderModel& m, ThreadPool* pool,
                                           int shared, int64_t block_tokens, uint64_t seed) {
  constexpr int kTail = 16;
  runtime::BatchScheduler sched(
      *m.decoder, *m.tokenizer, pool,
      {.n_ctx = shared + kTail + 2, .block_tokens = block_tokens, .max_seqs = 1});
  const auto vocab = static_cast<uint64_t>(m.decoder->config().n_vocab);
  uint64_t x = 0x9e3779b97f4a7c15ULL ^ seed;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return static_cast<int32_t>(x % vocab);
  };
  std::vector<int32_t> system;
  for (int t = 0; t < shared; ++t) system.push_back(next());
  double ms[3] = {0, 0, 0};
  PrefixRound r;
  for (int i = 0; i < 3; ++i) {
    std::vector<int32_t> prompt = system;
    for (int t = 0; t < kTail; ++t) prompt.push_back(next());
    runtime::GenerateOptions o;
    o.sampling.temperature = 0;
    o.stop.max_tokens = 1;
    o.stop.ignore_eos = true;
    FirstTokenSink sink;
    const auto start = Clock::now();
    absl::Status s = sched.Submit(
        {.prompt = std::move(prompt), .options = o, .sink = &sink, .prefix_cache = i != 2});
    if (!s.ok()) return s;
    while (!sink.done) sched.Step();
    if (!sink.status.ok()) return sink.status;
    ms[i] = std::chrono::duration<double, std::milli>(*sink.first - start).count();
    if (i == 1) r.cached = sink.cached;
  }
  r.first_ms = ms[0];
  r.second_ms = ms[1];
  r.bypass_ms = ms[2];
  return r;
}

int RunPrefixBench(const runtime::DecoderModel& m, ThreadPool* pool, int shared,
                   int64_t block_tokens, int64_t rounds, std::ostream& out, std::ostream& err) {
  PrefixRound best;
  for (int64_t i = 0; i < rounds; ++i) {
    absl::StatusOr<PrefixRound> r =
        RunPrefixRound(m, pool, shared, block_tokens, static_cast<uint64_t>(i));
    if (!r.ok()) {
      err << "jetserve bench: " << r.status().message() << "\n";
      return 1;
    }
    if (i == 0 || r->second_ms < best.second_ms) best.second_ms = r->second_ms;
    if (i == 0 || r->first_ms < best.first_ms) best.first_ms = r->first_ms;
    if (i == 0 || r->bypass_ms < best.bypass_ms) best.bypass_ms = r->bypass_ms;
    best.cached = r->cached;
  }
  out << "prefix cache: " << shared << "-token shared prompt + 16 own tokens, " << block_tokens
      << "-token blocks, " << pool->num_threads() << " threads, best of " << rounds << "\n"
      << std::fixed << std::setprecision(1)
      << "  time to first token, first request:  " << best.first_ms << " ms\n"
      << "  second request (" << best.cached << " tokens cached): " << best.second_ms << " ms (x"
      << std::setprecision(2) << best.first_ms / best.second_ms << " faster)\n"
      << std::setprecision(1) << "  third, bypassing the cache: " << best.bypass_ms << " ms (x"
      << std::setprecision(2) << best.bypass_ms / best.second_ms << " vs the second)\n"
      << std::defaultfloat;
  return 0;
}

}  // namespace

std::string BenchCommandUsage() {
  return "  bench -m FILE [--concurrency 1,4,8,16] [-n 64] [--prompt-tokens 16] [-t THREADS]\n"
         "      [--block-tokens 16] [--rounds 1]\n"
         "      Continuous-batching throughput in-process: per concurrency, aggregate\n"
         "      generated tokens/s and the ratio to the first concurrency.\n"
         "  bench -m FILE|DIR --protocol [--encoder] [--no-pack] [-t THREADS]\n"
         "      Timing commands on stdin (pp N, tg N, enc B L, bw, info): the jetserve\n"
         "      side of tests/bench/compare.py. --no-pack: the row-major kernels only\n"
         "      (weights not packed at load).\n"
         "  bench -m FILE --prefix [--prompt-tokens 1000] [--block-tokens 16] [--rounds 1]\n"
         "      Prefix cache: time to first token of a request with a shared system prompt\n"
         "      computed, then found in the cache, then bypassing it.\n";
}

int RunBenchCommand(const std::vector<std::string>& words, std::ostream& out, std::ostream& err) {
  absl::StatusOr<ParsedArgs> args = ParseArgs(words, Specs());
  auto usage = [&](const std::string& msg) {
    err << "jetserve bench: " << msg << "\n" << BenchCommandUsage();
    return 2;
  };
  if (!args.ok()) return usage(std::string(args.status().message()));
  const std::optional<std::string> model = args->Get("model");
  if (!model.has_value()) return usage("-m/--model is required");
  if (args->Has("protocol")) {
    int64_t t = 0;
    absl::StatusOr<std::optional<int64_t>> tv = args->GetInt("threads");
    if (!tv.ok() || (t = tv->value_or(0)) < 0 || t > 1024) return usage("-t must be in [0, 1024]");
    const int threads = t > 0 ? static_cast<int>(t)
                              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    return RunProtocol(*model, args->Has("encoder"), threads, !args->Has("no-pack"), std::cin, out,
                       err);
  }
  std::vector<int> levels;
  for (const absl::string_view part : absl::StrSplit(args->GetOr("concurrency", "1,4,8,16"), ',')) {
    int c = 0;
    if (!absl::SimpleAtoi(part, &c) || c < 1 || c > 1024) {
      return usage(
          absl::StrCat("--concurrency: \"", std::string(part), "\" is not a number in [1, 1024]"));
    }
    levels.push_back(c);
  }
  auto get_int = [&](const char* name, int64_t fallback, int64_t lo, int64_t hi,
                     int64_t* value) -> bool {
    absl::StatusOr<std::optional<int64_t>> v = args->GetInt(name);
    if (!v.ok()) return false;
    *value = v->value_or(fallback);
    return *value >= lo && *value <= hi;
  };
  int64_t n = 0, prompt_tokens = 0, threads = 0, block_tokens = 0, rounds = 0;
  if (!get_int("rounds", 1, 1, 100, &rounds)) return usage("--rounds must be in [1, 100]");
  if (!get_int("n-predict", 64, 1, 1 << 16, &n)) return usage("-n must be in [1, 65536]");
  const bool prefix = args->Has("prefix");
  if (!get_int("prompt-tokens", prefix ? 1000 : 16, 1, 1 << 16, &prompt_tokens)) {
    return usage("--prompt-tokens must be in [1, 65536]");
  }
  if (!get_int("threads", 0, 0, 1024, &threads)) return usage("-t must be in [0, 1024]");
  if (!get_int("block-tokens", 16, 1, 4096, &block_tokens)) {
    return usage("--block-tokens must be in [1, 4096]");
  }
  absl::StatusOr<runtime::DecoderModel> m = runtime::OpenDecoderModel(*model);
  if (!m.ok()) {
    err << "jetserve bench: " << m.status().message() << "\n";
    return 1;
  }
  if (!prefix && prompt_tokens + n + 1 > m->decoder->config().n_ctx_train) {
    return usage(absl::StrCat("--prompt-tokens + -n exceed the model's context (",
                              m->decoder->config().n_ctx_train, ")"));
  }
  ThreadPool pool(threads > 0
                      ? static_cast<int>(threads)
                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  if (prefix) {
    if (prompt_tokens + 18 > m->decoder->config().n_ctx_train) {
      return usage(absl::StrCat("--prompt-tokens + 18 exceed the model's context (",
                                m->decoder->config().n_ctx_train, ")"));
    }
    // Warm-up: maps the weights in.
    if (absl::StatusOr<Round> w = RunRound(*m, &pool, 1, 2, 16, block_tokens); !w.ok()) {
      err << "jetserve bench: " << w.status().message() << "\n";
      return 1;
    }
    return RunPrefixBench(*m, &pool, static_cast<int>(prompt_tokens), block_tokens, rounds, out,
                          err);
  }
  // Warm-up: maps the weights in.
  if (absl::StatusOr<Round> w =
          RunRound(*m, &pool, 1, 2, static_cast<int>(prompt_tokens), block_tokens);
      !w.ok()) {
    err << "jetserve bench: " << w.status().message() << "\n";
    return 1;
  }
  out << "model " << *model << ", " << pool.num_threads() << " threads, prompt " << prompt_tokens
      << " tokens, " << n << " generated per stream\n";
  // Rounds alternate over the concurrencies (a busy machine slows them alike); each
  // concurrency reports its best round.
  std::vector<Round> best(levels.size());
  for (int64_t round = 0; round < rounds; ++round) {
    for (size_t li = 0; li < levels.size(); ++li) {
      absl::StatusOr<Round> r = RunRound(*m, &pool, levels[li], static_cast<int>(n),
                                         static_cast<int>(prompt_tokens), block_tokens);
      if (!r.ok()) {
        err << "jetserve bench: " << r.status().message() << "\n";
        return 1;
      }
      if (best[li].seconds == 0 || r->tokens / r->seconds > best[li].tokens / best[li].seconds) {
        best[li] = *r;
      }
    }
  }
  const double first = static_cast<double>(best[0].tokens) / best[0].seconds;
  for (size_t li = 0; li < levels.size(); ++li) {
    const Round& r = best[li];
    const double tps = static_cast<double>(r.tokens) / r.seconds;
    out << "concurrency " << std::setw(3) << levels[li] << ": " << std::setw(6) << r.tokens
        << " tokens in " << std::fixed << std::setprecision(2) << std::setw(7) << r.seconds
        << " s = " << std::setw(8) << tps << " tok/s aggregate (x" << std::setprecision(2)
        << tps / first << " vs concurrency " << levels[0] << ", " << r.steps << " steps; "
        << std::setprecision(1) << static_cast<double>(r.tokens) / r.cpu_seconds
        << " tok per CPU-second)\n"
        << std::defaultfloat;
  }
  return 0;
}

}  // namespace jetserve::cli
