// Output parsing on hand-written outputs in each family's documented format, fed whole,
// byte by byte and in uneven chunks (the parse must not depend on how tokens split text).
#include "engine/chat/output_parser.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jetserve::chat {
namespace {

struct Parsed {
  std::string text, reasoning;
  std::vector<ChatToolCall> calls;
  int calls_before_finish = 0;
};

Parsed Feed(const OutputFormat& f, const std::string& prompt, const std::string& out,
            size_t chunk) {
  OutputParser p(f, prompt, "c00", true);
  Parsed r;
  auto add = [&](const OutputParser::Delta& d) {
    r.text += d.text;
    r.reasoning += d.reasoning;
    for (const ChatToolCall& c : d.tool_calls) r.calls.push_back(c);
  };
  for (size_t i = 0; i < out.size(); i += chunk) add(p.Push(out.substr(i, chunk)));
  r.calls_before_finish = static_cast<int>(r.calls.size());
  add(p.Finish());
  return r;
}

// Every chunking gives the same result.
Parsed FeedAll(const OutputFormat& f, const std::string& prompt, const std::string& out) {
  Parsed whole = Feed(f, prompt, out, out.size() + 1);
  for (const size_t chunk : {1u, 2u, 3u, 7u}) {
    Parsed r = Feed(f, prompt, out, chunk);
    EXPECT_EQ(r.text, whole.text) << "chunk " << chunk;
    EXPECT_EQ(r.reasoning, whole.reasoning) << "chunk " << chunk;
    EXPECT_EQ(r.calls.size(), whole.calls.size()) << "chunk " << chunk;
  }
  return whole;
}

const char kQwen3Template[] = "{{ '<tool_call>' }}{{ '</think>' }}";

TEST(OutputParserTest, DetectsFamiliesFromTemplates) {
  EXPECT_EQ(DetectOutputFormat(kQwen3Template).tool_calls, ToolCallFormat::kHermes);
  EXPECT_TRUE(DetectOutputFormat(kQwen3Template).reasoning);
  EXPECT_EQ(DetectOutputFormat("[TOOL_CALLS]").tool_calls, ToolCallFormat::kMistral);
  EXPECT_EQ(DetectOutputFormat("<|python_tag|>").tool_calls, ToolCallFormat::kLlama3);
  EXPECT_EQ(DetectOutputFormat("<|im_start|>").tool_calls, ToolCallFormat::kNone);
}

TEST(OutputParserTest, Qwen3ReasoningThenHermesToolCalls) {
  const std::string out =
      "<think>\nThe user wants weather for two cities.\n</think>\n\n"
      "I'll check both.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
      "\"Paris\"}}\n"
      "</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Tokyo\", "
      "\"unit\": \"celsius\"}}\n</tool_call>";
  Parsed r = FeedAll(DetectOutputFormat(kQwen3Template), "<|im_start|>assistant\n", out);
  EXPECT_EQ(r.reasoning, "\nThe user wants weather for two cities.\n");
  EXPECT_EQ(r.text, "I'll check both.\n");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(r.calls[0].arguments_json, "{\"city\":\"Paris\"}");
  EXPECT_EQ(r.calls[1].arguments_json, "{\"city\":\"Tokyo\",\"unit\":\"celsius\"}");
  EXPECT_EQ(r.calls[0].id, "c00000000");
  EXPECT_EQ(r.calls[1].id, "c00000001");
  EXPECT_EQ(r.calls_before_finish, 2);  // streamed as each closes, not at the end
}

TEST(OutputParserTest, DeepSeekR1PromptOpensTheReasoning) {
  OutputFormat f;
  f.reasoning = true;
  Parsed r = FeedAll(f, "<｜Assistant｜><think>\n",
                     "Let me think: 3*4=12.\n</think>\n\nThe answer is 12.");
  EXPECT_EQ(r.reasoning, "Let me think: 3*4=12.\n");
  EXPECT_EQ(r.text, "The answer is 12.");
}

TEST(OutputParserTest, TextThatOnlyLooksLikeAMarkerStaysText) {
  Parsed r = FeedAll(DetectOutputFormat(kQwen3Template), "",
                     "a <tool b < think> c <tool_call>not json</tool_call>");
  EXPECT_EQ(r.text, "a <tool b < think> c <tool_call>not json</tool_call>");
  EXPECT_TRUE(r.calls.empty());
}

TEST(OutputParserTest, MistralArrayAndArgsForms) {
  const OutputFormat f = DetectOutputFormat("[TOOL_CALLS]");
  Parsed r =
      FeedAll(f, "",
              "[TOOL_CALLS][{\"name\": \"search\", \"arguments\": {\"query\": \"a [b] {c}\"}, "
              "\"id\": \"abcdefghi\"}, {\"name\": \"now\", \"arguments\": {}}]");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0].id, "abcdefghi");
  EXPECT_EQ(r.calls[0].arguments_json, "{\"query\":\"a [b] {c}\"}");
  EXPECT_EQ(r.calls[1].name, "now");
  EXPECT_EQ(r.text, "");
  r = FeedAll(f, "", "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(r.calls[0].arguments_json, "{\"city\":\"Paris\"}");
}

TEST(OutputParserTest, Llama3JsonAndPythonTag) {
  const OutputFormat f = DetectOutputFormat("<|python_tag|>");
  Parsed r = FeedAll(f, "", "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].arguments_json, "{\"city\":\"Paris\"}");
  r = FeedAll(f, "", "{\"not\": \"a call\"} is JSON.");
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.text, "{\"not\": \"a call\"} is JSON.");
  r = FeedAll(f, "", "Plain answer.");
  EXPECT_EQ(r.text, "Plain answer.");
  r = FeedAll(f, "", "<|python_tag|>print(1 + 1)");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].name, "python");
  EXPECT_EQ(r.calls[0].arguments_json, "{\"code\":\"print(1 + 1)\"}");
}

TEST(OutputParserTest, WithoutToolsEverythingIsText) {
  OutputParser p(DetectOutputFormat(kQwen3Template), "", "c00", /*parse_tool_calls=*/false);
  OutputParser::Delta d = p.Push("<tool_call>{\"name\": \"x\"}</tool_call>");
  OutputParser::Delta e = p.Finish();
  EXPECT_EQ(d.text + e.text, "<tool_call>{\"name\": \"x\"}</tool_call>");
  EXPECT_TRUE(d.tool_calls.empty());
}

}  // namespace
}  // namespace jetserve::chat
