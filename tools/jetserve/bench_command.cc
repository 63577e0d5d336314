#include "tools/jetserve/bench_command.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <optional>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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
      {"rounds", '\0', true}};
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
  int64_t steps = 0;
};

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
  r.steps = sched.Stats().steps;
  for (const CountingSink& k : sinks) {
    if (!k.status.ok()) return k.status;
    r.tokens += k.tokens;
  }
  return r;
}

}  // namespace

std::string BenchCommandUsage() {
  return "  bench -m FILE [--concurrency 1,4,8,16] [-n 64] [--prompt-tokens 16] [-t THREADS]\n"
         "      [--block-tokens 16] [--rounds 1]\n"
         "      Continuous-batching throughput in-process: per concurrency, aggregate\n"
         "      generated tokens/s and the ratio to the first concurrency.\n";
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
  if (!get_int("prompt-tokens", 16, 1, 1 << 16, &prompt_tokens)) {
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
  if (prompt_tokens + n + 1 > m->decoder->config().n_ctx_train) {
    return usage(absl::StrCat("--prompt-tokens + -n exceed the model's context (",
                              m->decoder->config().n_ctx_train, ")"));
  }
  ThreadPool pool(threads > 0
                      ? static_cast<int>(threads)
                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
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
        << tps / first << " vs concurrency " << levels[0] << ", " << r.steps << " steps)\n"
        << std::defaultfloat;
  }
  return 0;
}

}  // namespace jetserve::cli
