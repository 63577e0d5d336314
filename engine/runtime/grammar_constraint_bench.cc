// Grammar mask per step: the trie walk (TokenTrie::Allowed) against its peer, a scan that
// advances the grammar over every token string, in the same run, on states of a JSON
// Schema grammar. Prints both times and the ratio; checks both give the same mask.
//
//   grammar_constraint_bench [model.gguf]   (default: SmolLM2 in /work/cache/models)
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/grammar/json_schema.h"
#include "engine/runtime/grammar_constraint.h"
#include "engine/tokenizer/load_tokenizer.h"

namespace {

double Ms(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace jetserve;
  const std::string path =
      argc > 1 ? argv[1] : "/work/cache/models/SmolLM2-135M-Instruct.Q4_1.gguf";
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> tok = tokenizer::LoadTokenizer(path);
  if (!tok.ok()) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), std::string(tok.status().message()).c_str());
    return 1;
  }
  auto trie = runtime::TokenTrie::FromTokenizer(**tok);
  const std::string gbnf = *grammar::JsonSchemaToGbnf(
      R"({"type":"object","properties":{"name":{"type":"string","maxLength":40},)"
      R"("age":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}},)"
      R"("required":["name","age"]})");
  auto g = *grammar::Grammar::Parse(gbnf);
  const std::vector<std::pair<const char*, std::string>> states = {
      {"start", ""},
      {"after {", "{"},
      {"in a string", "{\"name\": \"Tom"},
      {"in a number", "{\"name\": \"Tom\", \"age\": 1"}};
  std::printf("vocab %d tokens, trie %zu nodes\n", trie->vocab_size(), trie->nodes().size());
  std::printf("%-12s %12s %12s %8s %8s\n", "state", "trie ms", "scan ms", "ratio", "allowed");
  for (const auto& [name, prefix] : states) {
    const grammar::GrammarState s = grammar::GrammarState::Start(g).AdvanceBytes(prefix);
    std::vector<uint8_t> a(static_cast<size_t>(trie->vocab_size())), b(a.size());
    const int reps = 5;
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) {
      std::fill(a.begin(), a.end(), 0);
      trie->Allowed(s, &a);
    }
    auto t1 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) {
      for (int32_t id = 0; id < trie->vocab_size(); ++id) {
        const std::string& p = trie->piece(id);
        b[static_cast<size_t>(id)] = !p.empty() && !s.AdvanceBytes(p).dead();
      }
    }
    auto t2 = std::chrono::steady_clock::now();
    int allowed = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i] != b[i]) {
        std::fprintf(stderr, "masks differ at token %zu\n", i);
        return 1;
      }
      allowed += a[i];
    }
    const double tm = Ms(t0, t1) / reps, sm = Ms(t1, t2) / reps;
    std::printf("%-12s %12.3f %12.3f %7.1fx %8d\n", name, tm, sm, sm / tm, allowed);
  }
  return 0;
}
