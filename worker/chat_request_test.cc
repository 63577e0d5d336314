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

TEST(ChatRequestTest, ToolChoiceRequiredForcesHermesToolCalls) {
  const chat::OutputFormat hermes = chat::DetectOutputFormat("<tool_call></tool_call>");
  ::jetserve::v1::Chat chat;
  chat.add_tools()->set_name("get_weather");
  chat.add_tools()->set_name("search");
  EXPECT_EQ(*ToolChoiceGbnf(chat, hermes), "");  // AUTO: nothing forced
  chat.set_tool_choice(::jetserve::v1::TOOL_CHOICE_REQUIRED);
  absl::StatusOr<std::string> gbnf = ToolChoiceGbnf(chat, hermes);
  ASSERT_TRUE(gbnf.ok()) << gbnf.status();
  auto g = grammar::Grammar::Parse(*gbnf);
  ASSERT_TRUE(g.ok()) << g.status() << "\n" << *gbnf;
  auto accepts = [&](const std::string& text) {
    grammar::GrammarState s = grammar::GrammarState::Start(*g).AdvanceBytes(text);
    return !s.dead() && s.CanEnd();
  };
  const std::string call =
      "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": \"x\"}}\n</tool_call>";
  EXPECT_TRUE(accepts(call));
  EXPECT_TRUE(accepts("<think>\nI should search. a<b\n</think>\n\n" + call + "\n" + call));
  EXPECT_FALSE(accepts("The weather is nice."));
  EXPECT_FALSE(accepts("<tool_call>\n{\"name\": \"other\", \"arguments\": {}}\n</tool_call>"));
  chat.set_tool_choice(::jetserve::v1::TOOL_CHOICE_NAMED);
  chat.set_tool_choice_name("get_weather");
  g = grammar::Grammar::Parse(*ToolChoiceGbnf(chat, hermes));
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(accepts(call));
  chat.set_tool_choice_name("nope");
  EXPECT_FALSE(ToolChoiceGbnf(chat, hermes).ok());
  EXPECT_EQ(ToolChoiceGbnf(chat, chat::DetectOutputFormat("[TOOL_CALLS]")).status().code(),
            absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace jetserve::worker
