// Constrained sampling: at high temperature over random logits (a "random model"), every
// output of 100 seeds per schema ends by itself, parses as JSON and meets its schema; the
// trie walk prunes (visits far fewer nodes than a scan of every token string would).
// Outputs are written to $JETSERVE_BINARY_DIR/constrained_outputs.jsonl for
// tests/oracles/chat/validate_constrained.py, which validates them with Python jsonschema.
#include "engine/runtime/grammar_constraint.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "engine/grammar/json_schema.h"
#include "engine/model/decoder.h"
#include "engine/model/random_model.h"
#include "engine/runtime/generator.h"
#include "engine/tokenizer/load_tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace jetserve::runtime {
namespace {

using Json = nlohmann::json;

std::string RandomModelPath() {
  static const std::string path = [] {
    const std::string p =
        (std::filesystem::temp_directory_path() / "jetserve-grammar-llama-F32.gguf").string();
    model::RandomDecoderSpec spec;
    for (const auto& s : model::RandomDecoderSpecs()) {
      if (s.arch == "llama" && s.type == GgmlType::kF32) spec = s;
    }
    EXPECT_TRUE(model::WriteRandomDecoder(spec, p).ok());
    return p;
  }();
  return path;
}

// The vocabulary: SmolLM2's (49152 BPE tokens) when the model file is present, else the
// random model's byte-level 512-token one.
std::unique_ptr<tokenizer::Tokenizer> Vocab(std::string* which) {
  const char* dir = std::getenv("JETSERVE_MODEL_DIR");
  const std::string smol =
      std::string(dir ? dir : "/work/cache/models") + "/SmolLM2-135M-Instruct.Q4_1.gguf";
  const bool big =
      std::filesystem::exists(smol) && std::getenv("JETSERVE_GRAMMAR_SMALL_VOCAB") == nullptr;
  *which = big ? "SmolLM2" : "random-model";
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> t =
      tokenizer::LoadTokenizer(big ? smol : RandomModelPath());
  EXPECT_TRUE(t.ok()) << t.status();
  return std::move(*t);
}

const char kPersonSchema[] = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 12},
    "age": {"type": "integer"},
    "role": {"enum": ["admin", "user", "guest"]},
    "score": {"type": "number"},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 6}, "maxItems": 3},
    "active": {"type": ["boolean", "null"]},
    "address": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 10},
                "zip": {"type": "string", "minLength": 5, "maxLength": 5}}, "required": ["city"]}
  },
  "required": ["name", "role", "address"]
})";

const char kListSchema[] = R"({
  "type": "array", "minItems": 1, "maxItems": 4,
  "items": {"anyOf": [{"type": "integer"}, {"const": "x"}, {"type": "object",
            "properties": {"k": {"type": "boolean"}}, "required": ["k"]}]}
})";

// Checks the parsed output against kPersonSchema / kListSchema by hand (Python jsonschema
// re-checks the written file).
void CheckPerson(const Json& j) {
  ASSERT_TRUE(j.is_object());
  ASSERT_TRUE(j.contains("name") && j["name"].is_string());
  const std::u32string name = [&] {
    std::u32string out;
    for (const char c : j["name"].get<std::string>()) {
      if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) out.push_back(static_cast<char32_t>(c));
    }
    return out;
  }();
  EXPECT_GE(name.size(), 1u);
  EXPECT_LE(name.size(), 12u);
  ASSERT_TRUE(j.contains("role"));
  EXPECT_THAT(j["role"].get<std::string>(), ::testing::AnyOf("admin", "user", "guest"));
  ASSERT_TRUE(j.contains("address") && j["address"].is_object() && j["address"].contains("city"));
  if (j.contains("age")) {
    EXPECT_TRUE(j["age"].is_number_integer());
  }
  if (j.contains("tags")) {
    EXPECT_LE(j["tags"].size(), 3u);
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    EXPECT_THAT(it.key(),
                ::testing::AnyOf("name", "age", "role", "score", "tags", "active", "address"));
  }
}

struct SampleRun {
  std::string text;
  bool ended = false;
  int steps = 0;
};

SampleRun Sample(const tokenizer::Tokenizer& tok, const ConstraintFactory& factory, uint64_t seed,
                 std::vector<int32_t> eog, int max_steps) {
  SamplingOptions o;
  o.temperature = 1.5f;
  o.seed = seed;
  o.constraint = factory;
  std::unique_ptr<Sampler> s = *Sampler::Create(o, tok.size(), 4096);
  std::mt19937_64 rng(seed * 7919 + 1);
  std::normal_distribution<float> normal(0.f, 3.f);
  std::vector<float> logits(static_cast<size_t>(tok.size()));
  SampleRun r;
  for (; r.steps < max_steps; ++r.steps) {
    for (float& l : logits) l = normal(rng);
    const int32_t t = s->Sample(logits);
    s->Accept(t);
    if (std::find(eog.begin(), eog.end(), t) != eog.end()) {
      r.ended = true;
      break;
    }
    r.text += tok.TokenToPiece(t, false);
  }
  return r;
}

TEST(GrammarConstraintTest, HundredSeedsParseAndValidate) {
  std::string which;
  std::unique_ptr<tokenizer::Tokenizer> tok = Vocab(&which);
  std::shared_ptr<const TokenTrie> trie = TokenTrie::FromTokenizer(*tok);
  std::vector<int32_t> eog;
  for (int32_t id = 0; id < tok->size(); ++id) {
    if (tok->IsEndOfGeneration(id)) eog.push_back(id);
  }
  ASSERT_FALSE(eog.empty());
  const char* bin = std::getenv("JETSERVE_BINARY_DIR");
  std::ofstream log(std::string(bin ? bin : ".") + "/constrained_outputs.jsonl");
  struct Case {
    const char* name;
    std::string gbnf;
    std::string schema;
  };
  const std::vector<Case> cases = {
      {"person", *grammar::JsonSchemaToGbnf(kPersonSchema), kPersonSchema},
      {"list", *grammar::JsonSchemaToGbnf(kListSchema), kListSchema},
  };
  const int seeds = which == "SmolLM2" ? 100 : 100;
  int valid = 0, total = 0, steps = 0;
  for (const Case& c : cases) {
    std::shared_ptr<const grammar::Grammar> g = *grammar::Grammar::Parse(c.gbnf);
    const ConstraintFactory f = GrammarConstraintFactory(g, trie, eog);
    for (int seed = 0; seed < seeds; ++seed) {
      SampleRun r = Sample(*tok, f, static_cast<uint64_t>(seed), eog, 3000);
      ++total;
      steps += r.steps;
      ASSERT_TRUE(r.ended) << c.name << " seed " << seed << " did not end: " << r.text;
      {
        grammar::GrammarState st = grammar::GrammarState::Start(g);
        for (size_t i = 0; i < r.text.size(); ++i) {
          st = st.AdvanceByte(static_cast<uint8_t>(r.text[i]));
          ASSERT_FALSE(st.dead()) << "dies at byte " << i << " of " << r.text.size() << " (0x"
                                  << std::hex << (static_cast<unsigned>(r.text[i]) & 0xff)
                                  << std::dec << ")";
        }
        ASSERT_TRUE(st.CanEnd()) << c.name << " seed " << seed;
      }
      Json j = Json::parse(r.text, nullptr, false);
      ASSERT_FALSE(j.is_discarded()) << c.name << " seed " << seed << ": " << r.text;
      if (std::string(c.name) == "person") CheckPerson(j);
      if (std::string(c.name) == "list") {
        ASSERT_TRUE(j.is_array());
        EXPECT_GE(j.size(), 1u);
        EXPECT_LE(j.size(), 4u);
      }
      if (!::testing::Test::HasFailure()) ++valid;
      Json line = Json::object();
      line["schema"] = Json::parse(c.schema);
      line["output"] = r.text;
      log << line.dump() << "\n";
    }
  }
  std::printf("%s vocab: %d/%d constrained outputs valid, %d tokens sampled\n", which.c_str(),
              valid, total, steps);
}

TEST(GrammarConstraintTest, TrieWalkPrunes) {
  std::string which;
  std::unique_ptr<tokenizer::Tokenizer> tok = Vocab(&which);
  std::shared_ptr<const TokenTrie> trie = TokenTrie::FromTokenizer(*tok);
  size_t bytes = 0;
  for (int32_t id = 0; id < tok->size(); ++id) bytes += trie->piece(id).size();
  std::shared_ptr<const grammar::Grammar> g =
      *grammar::Grammar::Parse(R"(root ::= "{" [0-9]+ "}")");
  std::vector<uint8_t> allowed(static_cast<size_t>(tok->size()), 0);
  grammar::GrammarState s = grammar::GrammarState::Start(g).AdvanceBytes("{");
  const size_t visited = trie->Allowed(s, &allowed);
  // Only digit-led pieces are descended into.
  EXPECT_LT(visited, trie->nodes().size());
  if (which == "SmolLM2") {
    EXPECT_LT(visited * 20, trie->nodes().size());
  }
  for (int32_t id = 0; id < tok->size(); ++id) {
    const std::string& p = trie->piece(id);
    bool digits_then_brace = !p.empty();
    for (size_t i = 0; i < p.size(); ++i) {
      const bool digit = p[i] >= '0' && p[i] <= '9';
      if (!(digit || (p[i] == '}' && i == p.size() - 1 && i > 0))) digits_then_brace = false;
    }
    if (p.size() == 1 && p[0] == '}') digits_then_brace = false;
    EXPECT_EQ(allowed[static_cast<size_t>(id)] != 0, digits_then_brace)
        << "token " << id << " '" << p << "'";
  }
  std::printf("%s vocab: %zu trie nodes, %zu piece bytes; a digit step visits %zu nodes\n",
              which.c_str(), trie->nodes().size(), bytes, visited);
}

TEST(GrammarConstraintTest, GeneratorFollowsTheGrammar) {
  absl::StatusOr<std::unique_ptr<model::Decoder>> d = model::Decoder::Open(RandomModelPath());
  ASSERT_TRUE(d.ok()) << d.status();
  std::unique_ptr<tokenizer::Tokenizer> tok = *tokenizer::LoadTokenizer(RandomModelPath());
  ThreadPool pool(2);
  Generator gen(**d, *tok, &pool, {.n_ctx = 512});
  std::vector<int32_t> eog;
  for (int32_t id = 0; id < tok->size(); ++id) {
    if (tok->IsEndOfGeneration(id)) eog.push_back(id);
  }
  auto g = *grammar::Grammar::Parse(
      R"(root ::= "[" ("true" | "false") ("," ("true" | "false")){0,3} "]")");
  GenerateOptions o;
  o.sampling.temperature = 2.0f;
  o.sampling.constraint = GrammarConstraintFactory(g, TokenTrie::FromTokenizer(*tok), eog);
  o.stop.max_tokens = 200;
  o.n = 3;
  std::vector<std::string> text(3);
  std::vector<FinishReason> finish(3);
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    o.sampling.seed = seed;
    ASSERT_TRUE(gen.Generate(tok->Encode("Hello", {.add_special = true, .parse_special = false}), o,
                             [&](const GenerationEvent& e) {
                               text[static_cast<size_t>(e.choice)] += e.text;
                               if (e.finish != FinishReason::kNone)
                                 finish[static_cast<size_t>(e.choice)] = e.finish;
                               return true;
                             })
                    .ok());
    for (int c = 0; c < 3; ++c) {
      EXPECT_EQ(finish[static_cast<size_t>(c)], FinishReason::kEos) << text[static_cast<size_t>(c)];
      Json j = Json::parse(text[static_cast<size_t>(c)], nullptr, false);
      ASSERT_TRUE(j.is_array()) << text[static_cast<size_t>(c)];
      for (const Json& v : j) EXPECT_TRUE(v.is_boolean());
      text[static_cast<size_t>(c)].clear();
    }
  }
}

}  // namespace
}  // namespace jetserve::runtime
