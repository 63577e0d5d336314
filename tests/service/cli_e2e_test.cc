// End to end: Generate through a real jetserve-gateway and jetserve-worker returns the same
// text and token ids as `jetserve run` on the same model with the same settings (greedy,
// and seeded temperature sampling). Runs on a tiny random llama model with SmolLM2's real
// vocabulary (written by `jetserve gen-model`), and on SmolLM2-135M-Instruct itself when
// it is in the model cache ($JETSERVE_MODELS or ~/.cache/jetserve/models).
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/service/gateway_harness.h"

namespace jetserve::testing {
namespace {

namespace v1 = ::jetserve::v1;

struct Settings {
  std::string prompt;
  int max_tokens = 16;
  std::optional<float> temperature;  // unset: the API's default (1)
  std::optional<int> top_k;
  std::optional<float> top_p;
  uint64_t seed = 0;
  std::vector<std::string> stop;
};

struct Output {
  std::string text;
  std::vector<int32_t> tokens;
  std::string error;  // empty when ok
};

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs a shell command; returns its exit status (-1 when it did not exit).
int Shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// `jetserve run` (prompt through stdin, verbatim); token ids from --verbose's stderr line.
Output RunCli(const TempDir& dir, const std::string& model, const Settings& s) {
  { std::ofstream(dir.File("prompt.txt"), std::ios::binary) << s.prompt; }
  std::string cmd =
      absl::StrCat(ShellQuote(BinaryPath("bin/jetserve")), " run -m ", ShellQuote(model),
                   " -p - --verbose -n ", s.max_tokens, " --seed ", s.seed);
  if (s.temperature.has_value()) absl::StrAppend(&cmd, " --temp ", *s.temperature);
  if (s.top_k.has_value()) absl::StrAppend(&cmd, " --top-k ", *s.top_k);
  if (s.top_p.has_value()) absl::StrAppend(&cmd, " --top-p ", *s.top_p);
  for (const std::string& stop : s.stop) absl::StrAppend(&cmd, " --stop ", ShellQuote(stop));
  absl::StrAppend(&cmd, " < ", dir.File("prompt.txt"), " > ", dir.File("run.out"), " 2> ",
                  dir.File("run.err"));
  Output out;
  const int code = Shell(cmd);
  out.text = ReadFileOrEmpty(dir.File("run.out"));
  const std::string err = ReadFileOrEmpty(dir.File("run.err"));
  if (code != 0) {
    out.error = absl::StrCat("exit ", code, ": ", err);
    return out;
  }
  for (absl::string_view line : absl::StrSplit(err, '\n')) {
    if (!absl::ConsumePrefix(&line, "[tokens") || !absl::ConsumeSuffix(&line, "]")) continue;
    for (absl::string_view w : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
      int32_t id = 0;
      if (!absl::SimpleAtoi(w, &id)) out.error = absl::StrCat("bad token id in: ", err);
      out.tokens.push_back(id);
    }
    return out;
  }
  out.error = absl::StrCat("no [tokens ...] line on stderr: ", err);
  return out;
}

Output RunGateway(v1::Jetserve::Stub& stub, const std::string& model, const Settings& s) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
  v1::GenerateRequest request;
  request.set_model(model);
  request.set_prompt(s.prompt);
  request.mutable_stop()->set_max_tokens(s.max_tokens);
  for (const std::string& stop : s.stop) request.mutable_stop()->add_stop(stop);
  v1::SamplingParams* p = request.mutable_sampling();
  p->set_seed(s.seed);
  if (s.temperature.has_value()) p->set_temperature(*s.temperature);
  if (s.top_k.has_value()) p->set_top_k(*s.top_k);
  if (s.top_p.has_value()) p->set_top_p(*s.top_p);
  auto reader = stub.Generate(&context, request);
  Output out;
  v1::GenerateResponse response;
  while (reader->Read(&response)) {
    out.text += response.text();
    out.tokens.insert(out.tokens.end(), response.token_ids().begin(), response.token_ids().end());
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) out.error = status.error_message();
  return out;
}

std::vector<Settings> Cases() {
  std::vector<Settings> cases;
  cases.push_back({.prompt = "The capital of France is", .max_tokens = 24, .temperature = 0.0f});
  cases.push_back({.prompt = "Once upon a time",
                   .max_tokens = 24,
                   .temperature = 0.8f,
                   .top_k = 40,
                   .top_p = 0.95f,
                   .seed = 1234});
  cases.push_back({.prompt = "Write a haiku about the sea.\n", .max_tokens = 20, .seed = 7});
  return cases;
}

// Serves `model_path` as "m" through a gateway with one local jetserve-worker and checks
// every case against `jetserve run`; each must generate at least `min_tokens`.
void ExpectSameAsRun(const std::string& model_path, int min_tokens) {
  TempDir dir;
  const std::string config = absl::StrFormat(
      R"({"listen": "127.0.0.1:0", "workerBinary": "%s", "runtimeDir": "%s/run",
          "models": [{"name": "m", "path": "%s", "local": {}}]})",
      BinaryPath("bin/jetserve-worker"), dir.path(), model_path);
  auto gw = GatewayProcess::Start(dir, config);
  ASSERT_TRUE(gw.ok()) << gw.status();
  ASSERT_TRUE(WaitForReadyReplicas((*gw)->stub(), "m", 1, absl::Seconds(120))) << (*gw)->log();
  for (const Settings& s : Cases()) {
    SCOPED_TRACE(absl::StrCat("prompt \"", s.prompt, "\" seed ", s.seed));
    const Output api = RunGateway((*gw)->stub(), "m", s);
    ASSERT_EQ(api.error, "") << (*gw)->log();
    const Output cli = RunCli(dir, model_path, s);
    ASSERT_EQ(cli.error, "");
    EXPECT_EQ(cli.tokens, api.tokens);
    EXPECT_EQ(cli.text, api.text);
    EXPECT_GE(static_cast<int>(api.tokens.size()), min_tokens);
  }
}

TEST(CliEndToEndTest, RandomModelWithRealVocabularyMatchesGenerate) {
  TempDir dir;
  const std::string model = dir.File("tiny.gguf");
  const char* src = getenv("JETSERVE_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "run through ctest (JETSERVE_SOURCE_DIR)";
  const std::string vocab =
      absl::StrCat(src, "/tests/data/tokenizer/vocabs/smollm2-135m.vocab.gguf");
  ASSERT_EQ(Shell(absl::StrCat(ShellQuote(BinaryPath("bin/jetserve")), " gen-model ",
                               ShellQuote(model), " --vocab-from ", ShellQuote(vocab),
                               " --layers 2 --embd 64 --ff 128 --heads 4 --heads-kv 2",
                               " --ctx 512 --tie-embeddings --seed 5")),
            0);
  // A random model may emit EOS at any step; at least the first token is compared.
  ExpectSameAsRun(model, 1);
}

TEST(CliEndToEndTest, SmolLM2MatchesGenerate) {
  const char* env = getenv("JETSERVE_MODELS");
  const char* home = getenv("HOME");
  const std::string dir = env != nullptr && *env != '\0' ? std::string(env)
                                                         : absl::StrCat(home != nullptr ? home : "",
                                                                        "/.cache/jetserve/models");
  const std::string model = dir + "/SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::filesystem::exists(model)) {
    GTEST_SKIP() << model << " is not there (deploy/fetch-model.sh smollm2 fetches it)";
  }
  ExpectSameAsRun(model, 4);
}

}  // namespace
}  // namespace jetserve::testing
