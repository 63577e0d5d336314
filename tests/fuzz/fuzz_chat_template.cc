// libFuzzer target: the chat-template interpreter (jinja lexer, parser, renderer) on
// arbitrary template text, rendered with a fixed conversation (system, user, assistant with
// a tool call and reasoning, tool result) and one tool.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/chat/chat_template.h"

namespace {

jetserve::chat::ChatInput Conversation() {
  jetserve::chat::ChatInput chat;
  chat.messages = {
      {.role = "system", .content = "You are terse."},
      {.role = "user", .content = "What is the weather in Paris? <|im_end|> {{ x }}"},
      {.role = "assistant",
       .content = "",
       .tool_calls = {{.id = "call_1",
                       .name = "get_weather",
                       .arguments_json = R"({"city": "Paris", "days": [1, 2]})"}},
       .reasoning_content = "The user wants weather."},
      {.role = "tool", .content = R"({"temp": 21.5})", .tool_call_id = "call_1"},
      {.role = "user", .content = "Thanks! ünïcödé 🙂"},
  };
  chat.tools = {
      {.name = "get_weather",
       .description = "Weather for a city",
       .parameters_json = R"({"type": "object", "properties": {"city": {"type": "string"}}})"}};
  chat.add_generation_prompt = true;
  chat.template_kwargs_json = R"({"enable_thinking": false})";
  return chat;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const jetserve::chat::ChatInput* const chat =
      new jetserve::chat::ChatInput(Conversation());
  const std::string source(reinterpret_cast<const char*>(data), size);
  auto tmpl = jetserve::chat::ChatTemplate::Create(source, "<s>", "</s>");
  if (!tmpl.ok()) return 0;
  jetserve::chat::RenderOptions options;
  options.now = [] { return std::time_t{1700000000}; };  // deterministic strftime_now()
  auto text = tmpl->Apply(*chat, options);
  return text.ok() && text->size() == 1 ? 0 : 0;
}
