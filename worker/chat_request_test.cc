// ChatStream turns the engine's text events into text / reasoning_text / tool_calls per
// choice (a Qwen3-style output with reasoning and two tool calls, split across events at
// awkward places), and ToChatInput maps the Chat message fields.
#include "worker/chat_request.h"

#include <string>
#include <vector>

#include "engine/grammar/grammar.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jetserve::worker {
namespace {

TEST(ChatRequestTest, ChatStreamSplitsReasoningAndToolCallsPerChoice) {
  ModelChat model;
  model.output_format = chat::DetectOutputFormat("<tool_call></tool_call><think></think>");
  ::jetserve::v1::Chat chat;
  auto* m = chat.add_messages();
  m->set_role("user");
  m->set_content("weather?");
  chat.add_tools()->set_name("get_weather");
  ChatStream stream(model, chat, "<|im_start|>assistant\n", 2);
  EXPECT_FALSE(stream.needs_special_tokens());
  const std::vector<std::string> pieces = {"<thi",
                                           "nk>\nPlan.\n</th",
                                           "ink>\n\nOk.\n<tool",
                                           "_call>\n{\"name\": \"get_weather\", ",
                                           "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
                                           "\n<tool_call>\n{\"name\": \"get_weather\", "
                                           "\"arguments\": {\"city\": \"Rome\"}}\n</tool_call>"};
  std::string text, reasoning;
  std::vector<::jetserve::v1::ToolCall> calls;
  for (size_t i = 0; i < pieces.size(); ++i) {
    runtime::GenerationEvent e;
    e.choice = 1;
    e.text = pieces[i];
    if (i + 1 == pieces.size()) e.finish = runtime::FinishReason::kEos;
    ::jetserve::v1::GenerateResponse out;
    stream.Apply(e, &out);
    text += out.text();
    reasoning += out.reasoning_text();
    for (const auto& c : out.tool_calls()) calls.push_back(c);
  }
  EXPECT_EQ(reasoning, "\nPlan.\n");
  EXPECT_EQ(text, "Ok.\n");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].name(), "get_weather");
  EXPECT_EQ(calls[0].arguments_json(), "{\"city\":\"Paris\"}");
  EXPECT_EQ(calls[1].arguments_json(), "{\"city\":\"Rome\"}");
  EXPECT_EQ(calls[0].id(), "c01000000");
  EXPECT_NE(calls[0].id(), calls[1].id());
  EXPECT_TRUE(stream.called_tools(1));
  EXPECT_FALSE(stream.called_tools(0));
}

TEST(ChatRequestTest, ToChatInputMapsFieldsAndToolChoiceNone) {
  ::jetserve::v1::Chat chat;
  auto* m = chat.add_messages();
  m->set_role("assistant");
  m->set_reasoning_content("r");
  auto* call = m->add_tool_calls();
  call->set_id("abc");
  call->set_name("f");
  call->set_arguments_json("{}");
  auto* t = chat.add_tools();
  t->set_name("f");
  t->set_parameters_json("{\"type\": \"object\"}");
  chat.set_template_kwargs_json("{\"enable_thinking\": false}");
  chat::ChatInput in = ToChatInput(chat);
  ASSERT_EQ(in.messages.size(), 1u);
  EXPECT_EQ(in.messages[0].reasoning_content, "r");
  ASSERT_EQ(in.messages[0].tool_calls.size(), 1u);
  EXPECT_EQ(in.messages[0].tool_calls[0].id, "abc");
  ASSERT_EQ(in.tools.size(), 1u);
  EXPECT_TRUE(in.add_generation_prompt);
  EXPECT_EQ(in.template_kwargs_json, "{\"enable_thinking\": false}");
  chat.set_tool_choice(::jetserve::v1::TOOL_CHOICE_NONE);
  chat.set_add_generation_prompt(false);
  in = ToChatInput(chat);
  EXPECT_TRUE(in.tools.empty());
  EXPECT_FALSE(in.add_generation_prompt);
}

bool GrammarAccepts(const std::string& gbnf, const std::string& text) {
  absl::StatusOr<std::shared_ptr<const grammar::Grammar>> g = grammar::Grammar::Parse(gbnf);
  EXPECT_TRUE(g.ok()) << g.status() << "\n" << gbnf;
  if (!g.ok()) return false;
  grammar::GrammarState s = grammar::GrammarState::Start(*g).AdvanceBytes(text);
  return !s.dead() && s.CanEnd();
}

TEST(ChatRequestTest, ToolChoiceRequiredForcesHermesToolCalls) {
  const chat::OutputFormat hermes = chat::DetectOutputFormat("<tool_call></tool_call>");
  const chat::OutputFormat thinking =
      chat::DetectOutputFormat("<tool_call></tool_call><think></think>");
  ::jetserve::v1::Chat chat;
  chat.add_tools()->set_name("get_weather");
  auto* search = chat.add_tools();
  search->set_name("search");
  search->set_parameters_json(R"({"type": "object", "properties": {"q": {"type": "string"}}})");
  EXPECT_EQ(*ToolChoiceGbnf(chat, hermes), "");  // AUTO: nothing forced
  chat.set_tool_choice(::jetserve::v1::TOOL_CHOICE_REQUIRED);
  absl::StatusOr<std::string> gbnf = ToolChoiceGbnf(chat, hermes);
  ASSERT_TRUE(gbnf.ok()) << gbnf.status();
  const std::string call =
      "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": \"x\"}}\n</tool_call>";
  const std::string think = "<think>\nI should search. a<b\n</think>\n\n";
  EXPECT_TRUE(GrammarAccepts(*gbnf, call));
  EXPECT_TRUE(GrammarAccepts(*gbnf, call + "\n" + call));
  // A <think> section only where the model has one (else the parser would not split it).
  EXPECT_FALSE(GrammarAccepts(*gbnf, think + call));
  EXPECT_TRUE(GrammarAccepts(*ToolChoiceGbnf(chat, thinking), think + call + "\n" + call));
  EXPECT_FALSE(GrammarAccepts(*gbnf, "The weather is nice."));
  EXPECT_FALSE(
      GrammarAccepts(*gbnf, "<tool_call>\n{\"name\": \"other\", \"arguments\": {}}\n</tool_call>"));
  chat.set_tool_choice(::jetserve::v1::TOOL_CHOICE_NAMED);
  chat.set_tool_choice_name("get_weather");
  EXPECT_FALSE(GrammarAccepts(*ToolChoiceGbnf(chat, hermes), call));
  chat.set_tool_choice_name("nope");
  EXPECT_EQ(ToolChoiceGbnf(chat, hermes).status().code(), absl::StatusCode::kInvalidArgument);
  chat.set_tool_choice(::jetserve::v1::TOOL_CHOICE_REQUIRED);
  EXPECT_EQ(ToolChoiceGbnf(chat, chat::DetectOutputFormat("{{ messages }}")).status().code(),
            absl::StatusCode::kUnimplemented);
}

// The forced call of each format, with arguments bound to the tool's parameter schema:
// hand-written calls in the format are accepted, calls whose arguments break the schema are
// not, and what the grammar accepts is what the family's output parser returns as a call.
TEST(ChatRequestTest, ForcedToolCallsInEveryFormatFollowTheParameterSchema) {
  ::jetserve::v1::Chat chat;
  chat.set_tool_choice(::jetserve::v1::TOOL_CHOICE_REQUIRED);
  auto* weather = chat.add_tools();
  weather->set_name("get_weather");
  weather->set_parameters_json(R"({"type": "object", "properties": {
      "city": {"type": "string", "pattern": "^[A-Z][a-z]+$"},
      "days": {"type": "integer", "minimum": 1, "maximum": 7}}, "required": ["city"]})");
  auto* search = chat.add_tools();
  search->set_name("search");  // no parameters: any object
  struct Case {
    const char* template_source;
    std::string good;   // one call of get_weather with {"city": "Paris", "days": 3}
    std::string bad;    // the same call with days 9
    std::string other;  // a call of search with {}
  };
  const std::vector<Case> cases = {
      {"<tool_call></tool_call>",
       "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": "
       "3}}\n</tool_call>",
       "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": "
       "9}}\n</tool_call>",
       "<tool_call>\n{\"name\": \"search\", \"arguments\": {}}\n</tool_call>"},
      {"[TOOL_CALLS]",
       "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": "
       "3}}]",
       "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": "
       "9}}]",
       "[TOOL_CALLS][{\"name\": \"search\", \"arguments\": {}}]"},
      {"[TOOL_CALLS] [ARGS]", "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\", \"days\": 3}",
       "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\", \"days\": 9}",
       "[TOOL_CALLS]search[ARGS]{}"},
      {"<|start_header_id|>tool",
       "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": 3}}",
       "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": 9}}",
       "{\"name\": \"search\", \"parameters\": {}}"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.template_source);
    ModelChat model;
    model.output_format = chat::DetectOutputFormat(c.template_source);
    absl::StatusOr<std::string> gbnf = ToolChoiceGbnf(chat, model.output_format);
    ASSERT_TRUE(gbnf.ok()) << gbnf.status();
    EXPECT_TRUE(GrammarAccepts(*gbnf, c.good)) << *gbnf;
    EXPECT_TRUE(GrammarAccepts(*gbnf, c.other));
    EXPECT_FALSE(GrammarAccepts(*gbnf, c.bad));
    std::string lower = c.good;
    lower.replace(lower.find("Paris"), 1, "p");
    EXPECT_FALSE(GrammarAccepts(*gbnf, lower));  // the city pattern
    EXPECT_FALSE(GrammarAccepts(*gbnf, "Sure."));
    // What the grammar accepts, the output parser returns as calls.
    ChatStream stream(model, chat, "", 1);
    runtime::GenerationEvent e;
    e.choice = 0;
    e.text = c.good;
    e.finish = runtime::FinishReason::kEos;
    ::jetserve::v1::GenerateResponse out;
    stream.Apply(e, &out);
    ASSERT_EQ(out.tool_calls_size(), 1) << out.text();
    EXPECT_EQ(out.tool_calls(0).name(), "get_weather");
    EXPECT_EQ(out.tool_calls(0).arguments_json(), R"({"city":"Paris","days":3})");
    EXPECT_EQ(out.text(), "");
  }
  // A parameter schema the grammar cannot express is INVALID_ARGUMENT naming the tool.
  weather->set_parameters_json(R"({"type": "object", "properties": {"a": {"not": {}}}})");
  EXPECT_THAT(
      std::string(ToolChoiceGbnf(chat, chat::DetectOutputFormat("<tool_call>")).status().message()),
      ::testing::AllOf(::testing::HasSubstr("chat.tools[0] ('get_weather')"),
                       ::testing::HasSubstr("'not'")));
  weather->set_parameters_json(R"({"type": "array"})");
  EXPECT_THAT(
      std::string(ToolChoiceGbnf(chat, chat::DetectOutputFormat("<tool_call>")).status().message()),
      ::testing::HasSubstr("must describe an object"));
}

}  // namespace
}  // namespace jetserve::worker
