// Structured output end to end through the worker's request path, at high temperature over
// random logits (a "random model"), 100 seeds each:
//  - response_format.json_schema with pattern, integer and number bounds, formats,
//    prefixItems and property counts: every output ends by itself, parses, and meets the
//    schema (checked here by hand and with std::regex, an independent ECMAScript engine);
//  - tool_choice REQUIRED in the four tool-call formats: every output is returned by the
//    family's output parser as tool calls of known tools whose arguments meet the tool's
//    parameter schema.
// Every (schema, JSON text) pair is written to $JETSERVE_BINARY_DIR/structured_outputs.jsonl,
// which tests/oracles/chat/validate_constrained.py re-checks with Python's jsonschema
// (ctest: structured_output_jsonschema).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <string>

#include "engine/grammar/json_schema.h"
#include "engine/model/random_model.h"
#include "engine/runtime/grammar_constraint.h"
#include "engine/runtime/sampling.h"
#include "engine/tokenizer/load_tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "worker/chat_request.h"

namespace jetserve::worker {
namespace {

using Json = nlohmann::json;

constexpr int kSeeds = 100;

const char kSchema[] = R"({
  "type": "object",
  "properties": {
    "code": {"type": "string", "pattern": "^[A-Z]{2}-\\d{3,5}$"},
    "mail": {"type": "string", "pattern": "^[a-z0-9._]{1,8}@[a-z]{1,6}\\.(com|org)$"},
    "tag": {"type": "string", "pattern": "^v[0-9]+(-(alpha|beta))?$"},
    "age": {"type": "integer", "minimum": 18, "maximum": 120},
    "delta": {"type": "integer", "exclusiveMinimum": -50, "exclusiveMaximum": 50},
    "ratio": {"type": "number", "minimum": 0, "maximum": 1},
    "temp": {"type": "number", "exclusiveMinimum": -10, "maximum": 45},
    "when": {"type": "string", "format": "date"},
    "at": {"type": "string", "format": "date-time"},
    "id": {"type": "string", "format": "uuid"},
    "pair": {"type": "array", "prefixItems": [{"type": "integer", "minimum": 0, "maximum": 9},
             {"enum": ["x", "y"]}], "items": false, "minItems": 2},
    "extra": {"type": "object", "additionalProperties": {"type": "integer", "minimum": -3,
              "maximum": 3}, "maxProperties": 2}
  },
  "required": ["code", "age", "ratio", "when", "pair"],
  "minProperties": 7
})";

const char kWeatherParams[] = R"({"type": "object", "properties": {
  "city": {"type": "string", "pattern": "^[A-Z][a-z]{1,11}$"},
  "days": {"type": "integer", "minimum": 1, "maximum": 7},
  "unit": {"enum": ["c", "f"]}}, "required": ["city"]})";

std::string RandomModelPath() {
  static const std::string path = [] {
    const std::string p =
        (std::filesystem::temp_directory_path() / "jetserve-structured-llama-F32.gguf").string();
    model::RandomDecoderSpec spec;
    for (const auto& s : model::RandomDecoderSpecs()) {
      if (s.arch == "llama" && s.type == GgmlType::kF32) spec = s;
    }
    EXPECT_TRUE(model::WriteRandomDecoder(spec, p).ok());
    return p;
  }();
  return path;
}

class StructuredOutputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> t =
        tokenizer::LoadTokenizer(RandomModelPath());
    ASSERT_TRUE(t.ok()) << t.status();
    tok_ = t->release();
    const char* bin = std::getenv("JETSERVE_BINARY_DIR");
    log_ = new std::ofstream(std::string(bin ? bin : ".") + "/structured_outputs.jsonl");
  }
  static void TearDownTestSuite() {
    delete log_;
    delete tok_;
  }

  ModelChat Model(const std::string& template_source) {
    ModelChat m;
    m.output_format = chat::DetectOutputFormat(template_source);
    m.trie = runtime::TokenTrie::FromTokenizer(*tok_);
    for (int32_t id = 0; id < tok_->size(); ++id) {
      if (tok_->IsEndOfGeneration(id)) m.eog_ids.push_back(id);
    }
    return m;
  }

  // Samples one output under the request's constraint; empty optional when it did not end.
  std::optional<std::string> Sample(const ModelChat& m, const runtime::GenerateOptions& o,
                                    uint64_t seed) {
    runtime::SamplingOptions so = o.sampling;
    so.temperature = 1.5f;
    so.seed = seed;
    std::unique_ptr<runtime::Sampler> s = *runtime::Sampler::Create(so, tok_->size(), 4096);
    std::mt19937_64 rng(seed * 7919 + 1);
    std::normal_distribution<float> normal(0.f, 3.f);
    std::vector<float> logits(static_cast<size_t>(tok_->size()));
    std::string text;
    for (int step = 0; step < 4000; ++step) {
      for (float& l : logits) l = normal(rng);
      const int32_t t = s->Sample(logits);
      s->Accept(t);
      if (std::find(m.eog_ids.begin(), m.eog_ids.end(), t) != m.eog_ids.end()) return text;
      text += tok_->TokenToPiece(t, true);
    }
    return std::nullopt;
  }

  static void Log(const Json& schema, const std::string& output) {
    *log_ << Json{{"schema", schema}, {"output", output}}.dump() << "\n";
  }

  static tokenizer::Tokenizer* tok_;
  static std::ofstream* log_;
};

tokenizer::Tokenizer* StructuredOutputTest::tok_ = nullptr;
std::ofstream* StructuredOutputTest::log_ = nullptr;

bool Search(const std::string& pattern, const Json& v) {
  return v.is_string() && std::regex_search(v.get<std::string>(), std::regex(pattern));
}

bool ValidDate(const std::string& d) {
  if (!std::regex_match(d, std::regex(R"(\d{4}-\d{2}-\d{2})"))) return false;
  const int y = std::stoi(d.substr(0, 4)), m = std::stoi(d.substr(5, 2)),
            day = std::stoi(d.substr(8, 2));
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  const int days[] = {31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return y >= 1 && m >= 1 && m <= 12 && day >= 1 && day <= days[m - 1];
}

TEST_F(StructuredOutputTest, JsonSchemaWithPatternsAndBoundsAlwaysValidates) {
  const ModelChat m = Model("");
  ::jetserve::v1::GenerateRequest r;
  r.mutable_response_format()->set_json_schema(kSchema);
  runtime::GenerateOptions o;
  ASSERT_TRUE(ApplyResponseFormat(r, m, &o).ok());
  const Json schema = Json::parse(kSchema);
  int valid = 0;
  size_t bytes = 0;
  for (int seed = 0; seed < kSeeds; ++seed) {
    SCOPED_TRACE(seed);
    const std::optional<std::string> text = Sample(m, o, static_cast<uint64_t>(seed));
    ASSERT_TRUE(text.has_value()) << "did not end";
    bytes += text->size();
    Log(schema, *text);
    const Json j = Json::parse(*text, nullptr, false);
    ASSERT_TRUE(j.is_object()) << *text;
    const int failures_before = ::testing::UnitTest::GetInstance()->failed_test_count();
    EXPECT_GE(j.size(), 7u);
    for (const char* k : {"code", "age", "ratio", "when", "pair"}) {
      EXPECT_TRUE(j.contains(k)) << k;
    }
    EXPECT_TRUE(Search(R"(^[A-Z]{2}-\d{3,5}$)", j["code"])) << j["code"];
    if (j.contains("mail")) {
      EXPECT_TRUE(Search(R"(^[a-z0-9._]{1,8}@[a-z]{1,6}\.(com|org)$)", j["mail"])) << j["mail"];
    }
    if (j.contains("tag")) {
      EXPECT_TRUE(Search("^v[0-9]+(-(alpha|beta))?$", j["tag"])) << j["tag"];
    }
    ASSERT_TRUE(j["age"].is_number_integer());
    EXPECT_GE(j["age"].get<int64_t>(), 18);
    EXPECT_LE(j["age"].get<int64_t>(), 120);
    if (j.contains("delta")) {
      ASSERT_TRUE(j["delta"].is_number_integer());
      EXPECT_GT(j["delta"].get<int64_t>(), -50);
      EXPECT_LT(j["delta"].get<int64_t>(), 50);
    }
    ASSERT_TRUE(j["ratio"].is_number());
    EXPECT_GE(j["ratio"].get<double>(), 0.0);
    EXPECT_LE(j["ratio"].get<double>(), 1.0);
    if (j.contains("temp")) {
      EXPECT_GT(j["temp"].get<double>(), -10.0);
      EXPECT_LE(j["temp"].get<double>(), 45.0);
    }
    EXPECT_TRUE(ValidDate(j["when"].get<std::string>())) << j["when"];
    if (j.contains("at")) {
      const std::string at = j["at"].get<std::string>();
      EXPECT_TRUE(ValidDate(at.substr(0, 10))) << at;
      EXPECT_TRUE(std::regex_match(
          at.substr(10),
          std::regex(R"(T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d))")))
          << at;
    }
    if (j.contains("id")) {
      EXPECT_TRUE(
          Search(R"(^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$)", j["id"]));
    }
    ASSERT_TRUE(j["pair"].is_array());
    ASSERT_EQ(j["pair"].size(), 2u);
    EXPECT_TRUE(j["pair"][0].is_number_integer());
    EXPECT_THAT(j["pair"][1].get<std::string>(), ::testing::AnyOf("x", "y"));
    if (j.contains("extra")) {
      EXPECT_LE(j["extra"].size(), 2u);
      for (const auto& [k, v] : j["extra"].items()) {
        EXPECT_TRUE(v.is_number_integer() && v.get<int64_t>() >= -3 && v.get<int64_t>() <= 3);
      }
    }
    if (::testing::UnitTest::GetInstance()->failed_test_count() == failures_before) ++valid;
  }
  std::printf("json schema with pattern/minimum/maximum/format: %d/%d outputs valid, %zu bytes\n",
              valid, kSeeds, bytes);
}

TEST_F(StructuredOutputTest, ForcedToolCallsParseAndMeetTheParameterSchema) {
  ::jetserve::v1::GenerateRequest r;
  ::jetserve::v1::Chat* chat = r.mutable_chat();
  chat->add_messages()->set_content("weather?");
  chat->set_tool_choice(::jetserve::v1::TOOL_CHOICE_REQUIRED);
  auto* weather = chat->add_tools();
  weather->set_name("get_weather");
  weather->set_parameters_json(kWeatherParams);
  auto* search = chat->add_tools();
  search->set_name("search");
  search->set_parameters_json(
      R"({"type": "object", "properties": {"q": {"type": "string", "maxLength": 8}},
          "required": ["q"], "additionalProperties": false})");
  const std::map<std::string, Json> params = {{"get_weather", Json::parse(kWeatherParams)},
                                              {"search", Json::parse(search->parameters_json())}};
  int calls = 0, outputs = 0;
  for (const char* format : {"<tool_call></tool_call>", "[TOOL_CALLS]", "[TOOL_CALLS] [ARGS]",
                             "<|start_header_id|>tool"}) {
    SCOPED_TRACE(format);
    const ModelChat m = Model(format);
    runtime::GenerateOptions o;
    ASSERT_TRUE(ApplyResponseFormat(r, m, &o).ok());
    for (int seed = 0; seed < kSeeds / 4; ++seed) {
      SCOPED_TRACE(seed);
      const std::optional<std::string> text = Sample(m, o, static_cast<uint64_t>(seed));
      ASSERT_TRUE(text.has_value()) << "did not end";
      ++outputs;
      ChatStream stream(m, *chat, "", 1);
      runtime::GenerationEvent e;
      e.choice = 0;
      e.text = *text;
      e.finish = runtime::FinishReason::kEos;
      ::jetserve::v1::GenerateResponse out;
      stream.Apply(e, &out);
      ASSERT_GE(out.tool_calls_size(), 1) << *text;
      for (const auto& c : out.tool_calls()) {
        ASSERT_TRUE(params.count(c.name())) << c.name();
        const Json args = Json::parse(c.arguments_json(), nullptr, false);
        ASSERT_TRUE(args.is_object()) << c.arguments_json();
        Log(params.at(c.name()), c.arguments_json());
        ++calls;
        if (c.name() == "get_weather") {
          EXPECT_TRUE(Search("^[A-Z][a-z]{1,11}$", args["city"])) << args;
          if (args.contains("days")) {
            EXPECT_TRUE(args["days"].is_number_integer() && args["days"].get<int>() >= 1 &&
                        args["days"].get<int>() <= 7)
                << args;
          }
        } else {
          EXPECT_TRUE(args.contains("q") && args.size() == 1) << args;
        }
      }
    }
  }
  std::printf("forced tool calls: %d outputs in 4 formats, %d calls, all valid unless failed\n",
              outputs, calls);
}

// Walks a text through the constraint one single-byte token at a time (the random model's
// vocabulary has one for every byte used here); true when every token is allowed and the
// end of generation is allowed after the last.
bool ConstraintAccepts(const ModelChat& m, const runtime::ConstraintFactory& factory,
                       const std::string& text) {
  std::map<char, int32_t> byte_token;
  for (int32_t id = 0; id < m.trie->vocab_size(); ++id) {
    if (m.trie->piece(id).size() == 1) byte_token.emplace(m.trie->piece(id)[0], id);
  }
  std::unique_ptr<runtime::SamplerStage> stage = factory();
  for (const char c : text) {
    auto it = byte_token.find(c);
    EXPECT_NE(it, byte_token.end()) << "no token for byte " << c;
    if (it == byte_token.end() || !stage->Allows(it->second)) return false;
    stage->Accept(it->second);
  }
  return stage->Allows(m.eog_ids.at(0));
}

// When the prompt opened a reasoning section (DeepSeek-R1 style), JSON output and forced
// tool calls come after its end, which the output parser also expects; otherwise at once.
TEST_F(StructuredOutputTest, ConstraintsStartAfterAReasoningSectionThePromptOpened) {
  const ModelChat m = Model("<tool_call></tool_call><think></think>");
  ::jetserve::v1::GenerateRequest r;
  r.mutable_chat()->add_messages()->set_content("pick");
  r.mutable_response_format()->set_json_schema(
      R"({"type": "integer", "minimum": 1, "maximum": 3})");
  const std::string opened = "<|im_start|>assistant\n<think>\n";
  EXPECT_TRUE(PromptOpensReasoning(m.output_format, opened));
  EXPECT_FALSE(PromptOpensReasoning(m.output_format, "<|im_start|>assistant\n"));
  EXPECT_FALSE(PromptOpensReasoning(Model("<tool_call>").output_format, opened));
  runtime::GenerateOptions o;
  ASSERT_TRUE(ApplyResponseFormat(r, m, &o, opened).ok());
  EXPECT_TRUE(ConstraintAccepts(m, o.sampling.constraint, "Small: a<b.</think>\n\n2"));
  EXPECT_FALSE(ConstraintAccepts(m, o.sampling.constraint, "2"));
  EXPECT_FALSE(ConstraintAccepts(m, o.sampling.constraint, "ok</think>\n5"));
  ASSERT_TRUE(ApplyResponseFormat(r, m, &o, "<|im_start|>assistant\n").ok());
  EXPECT_TRUE(ConstraintAccepts(m, o.sampling.constraint, "2"));
  EXPECT_FALSE(ConstraintAccepts(m, o.sampling.constraint, "ok</think>\n2"));

  r.clear_response_format();
  r.mutable_chat()->set_tool_choice(::jetserve::v1::TOOL_CHOICE_REQUIRED);
  r.mutable_chat()->add_tools()->set_name("now");  // no parameters: the arguments are {}
  ASSERT_TRUE(ApplyResponseFormat(r, m, &o, opened).ok());
  const std::string call = "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>";
  EXPECT_TRUE(ConstraintAccepts(m, o.sampling.constraint, "Use it.</think>\n" + call));
  EXPECT_FALSE(ConstraintAccepts(m, o.sampling.constraint, call));
  EXPECT_FALSE(ConstraintAccepts(
      m, o.sampling.constraint,
      "x</think>\n<tool_call>\n{\"name\": \"now\", \"arguments\": {\"a\": 1}}\n</tool_call>"));
}

}  // namespace
}  // namespace jetserve::worker
