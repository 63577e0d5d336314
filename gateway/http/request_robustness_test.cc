// Untrusted request bodies: every parser of the HTTP API, fed valid requests with random
// fields replaced by values of random types (and random fields dropped), returns OK or
// INVALID_ARGUMENT naming a field, and never throws (nlohmann::json throws on a wrong-type
// read; the parsers must check first).
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "gateway/http/json_fields.h"
#include "gateway/http/ollama_api.h"
#include "gateway/http/openai_api.h"
#include "gtest/gtest.h"

namespace jetserve::gateway::http {
namespace {

Json RandomValue(std::mt19937& rng, int depth) {
  switch (std::uniform_int_distribution<int>(0, depth > 2 ? 6 : 8)(rng)) {
    case 0:
      return nullptr;
    case 1:
      return std::uniform_int_distribution<int>(0, 1)(rng) == 1;
    case 2:
      return std::uniform_int_distribution<int64_t>(INT64_MIN, INT64_MAX)(rng);
    case 3:
      return std::uniform_int_distribution<uint64_t>(0, UINT64_MAX)(rng);
    case 4:
      return std::uniform_real_distribution<double>(-1e300, 1e300)(rng);
    case 5:
      return std::uniform_int_distribution<int>(-3, 3)(rng) * 0.5;
    case 6: {
      static const char* kStrings[] = {"",       "json",     "user",     "auto",
                                       "none",   "required", "text",     "json_schema",
                                       "base64", "function", "x\xff\xfe"};
      return kStrings[std::uniform_int_distribution<int>(0, 10)(rng)];
    }
    case 7: {
      Json a = Json::array();
      for (int i = std::uniform_int_distribution<int>(0, 3)(rng); i > 0; --i) {
        a.push_back(RandomValue(rng, depth + 1));
      }
      return a;
    }
    default: {
      static const char* kKeys[] = {"role",   "content",    "type", "function",
                                    "name",   "arguments",  "text", "parameters",
                                    "schema", "json_schema"};
      Json o = Json::object();
      for (int i = std::uniform_int_distribution<int>(0, 3)(rng); i > 0; --i) {
        o[kKeys[std::uniform_int_distribution<int>(0, 9)(rng)]] = RandomValue(rng, depth + 1);
      }
      return o;
    }
  }
}

// Replaces or drops one random value anywhere in `doc`.
void Mutate(std::mt19937& rng, Json* doc) {
  Json* node = doc;
  for (int depth = 0; depth < 4; ++depth) {
    if (!(node->is_object() || node->is_array()) || node->empty()) break;
    const size_t pick = std::uniform_int_distribution<size_t>(0, node->size() - 1)(rng);
    Json* child = node->is_object() ? &std::next(node->begin(), static_cast<long>(pick)).value()
                                    : &(*node)[pick];
    if (std::uniform_int_distribution<int>(0, 2)(rng) == 0 || depth == 3) {
      if (std::uniform_int_distribution<int>(0, 4)(rng) == 0 && node->is_object()) {
        node->erase(std::next(node->begin(), static_cast<long>(pick)));
      } else {
        *child = RandomValue(rng, 0);
      }
      return;
    }
    node = child;
  }
  *node = RandomValue(rng, 0);
}

TEST(RequestRobustnessTest, MutatedRequestsGiveOkOrInvalidArgument) {
  const std::vector<std::pair<const char*, std::function<absl::Status(const Json&)>>> parsers = {
      {R"({"model": "m", "prompt": "p", "system": "s", "stream": false, "format": {"type": "object"},
          "options": {"temperature": 0.5, "top_k": 4, "top_p": 0.9, "seed": 1, "num_predict": 3,
                      "stop": ["a"], "repeat_penalty": 1.1, "mirostat": 0}, "think": true})",
       [](const Json& j) { return ParseOllamaGenerate(j).status(); }},
      {R"({"model": "m", "messages": [{"role": "user", "content": "x", "tool_calls":
          [{"function": {"name": "f", "arguments": {"a": 1}}}]}], "tools": [{"type": "function",
          "function": {"name": "f", "parameters": {"type": "object"}}}], "format": "json"})",
       [](const Json& j) { return ParseOllamaChat(j).status(); }},
      {R"({"model": "m", "input": ["a", "b"], "truncate": true, "dimensions": 2})",
       [](const Json& j) { return ParseOllamaEmbed(j, false).status(); }},
      {R"({"model": "m", "prompt": "a"})",
       [](const Json& j) { return ParseOllamaEmbed(j, true).status(); }},
      {R"({"model": "m", "name": "n"})", [](const Json& j) { return ParseOllamaShow(j).status(); }},
      {R"({"model": "m", "prompt": "p", "max_tokens": 3, "n": 2, "logprobs": 1, "echo": true,
          "stop": ["x"], "logit_bias": {"1": 2}, "stream": true, "stream_options": {"include_usage": true}})",
       [](const Json& j) { return ParseOpenAiCompletion(j).status(); }},
      {R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]},
          {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function",
          "function": {"name": "f", "arguments": "{}"}}]}, {"role": "tool", "tool_call_id": "c",
          "content": "1"}], "tools": [{"type": "function", "function": {"name": "f",
          "parameters": {"type": "object"}}}], "tool_choice": {"type": "function", "function":
          {"name": "f"}}, "response_format": {"type": "json_schema", "json_schema": {"name": "s",
          "schema": {"type": "object"}}}, "max_completion_tokens": 4, "logprobs": true,
          "top_logprobs": 2, "chat_template_kwargs": {"enable_thinking": false}})",
       [](const Json& j) { return ParseOpenAiChat(j).status(); }},
      {R"({"model": "m", "input": ["a"], "encoding_format": "base64", "dimensions": 3})",
       [](const Json& j) { return ParseOpenAiEmbeddings(j).status(); }},
  };
  std::mt19937 rng(20261128);
  int ok = 0, invalid = 0;
  for (const auto& [text, parse] : parsers) {
    const Json valid = Json::parse(text);
    ASSERT_TRUE(parse(valid).ok()) << text << ": " << parse(valid);
    for (int i = 0; i < 3000; ++i) {
      Json doc = valid;
      for (int k = std::uniform_int_distribution<int>(1, 3)(rng); k > 0; --k) Mutate(rng, &doc);
      absl::Status status;
      try {
        status = parse(doc);
      } catch (const std::exception& e) {
        FAIL() << "threw " << e.what() << " on "
               << doc.dump(-1, ' ', false, Json::error_handler_t::replace);
      }
      if (status.ok()) {
        ++ok;
      } else {
        ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
        ASSERT_NE(status.message().find(':'), absl::string_view::npos) << status;
        ++invalid;
      }
    }
  }
  // Both outcomes occur: the mutations reach checked fields and harmless ones.
  EXPECT_GT(ok, 1000);
  EXPECT_GT(invalid, 1000);
}

TEST(RequestRobustnessTest, BodiesThatAreNotUtf8OrNotJsonAreInvalidArgument) {
  // Byte 22 is 0xFF, which never occurs in UTF-8.
  EXPECT_EQ(ParseJsonObject("{\"model\": \"m\", \"p\": \"a\xff\"}").status(),
            absl::InvalidArgumentError("request body: not valid UTF-8 (byte 22)"));
  // ED A0 80 would encode the surrogate U+D800.
  EXPECT_EQ(ParseJsonObject("{\"p\": \"\xed\xa0\x80\"}").status(),
            absl::InvalidArgumentError("request body: not valid UTF-8 (byte 7)"));
  // A lone surrogate escape is valid UTF-8 text but not a JSON string.
  EXPECT_EQ(ParseJsonObject(R"({"p": "\ud800"})").status(),
            absl::InvalidArgumentError("request body: not valid JSON"));
  const absl::StatusOr<Json> fine = ParseJsonObject("{\"p\": \"h\xc3\xa9\"}");
  ASSERT_TRUE(fine.ok()) << fine.status();
  EXPECT_EQ((*fine)["p"], "h\xc3\xa9");
}

}  // namespace
}  // namespace jetserve::gateway::http
