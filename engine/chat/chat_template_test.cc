// The real chat templates of tests/data/chat/templates rendered over the conversations of
// tests/data/chat/conversations.json must equal Python jinja2's rendering byte for byte
// (tests/data/chat/expected.json, written by tests/oracles/chat/render_templates.py);
// where jinja2 raised (a template rejecting a conversation), we must fail too.
#include "engine/chat/chat_template.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jetserve::chat {
namespace {

using Json = nlohmann::ordered_json;
using ::testing::HasSubstr;

std::string DataDir() {
  const char* src = std::getenv("JETSERVE_SOURCE_DIR");
  return std::string(src ? src : ".") + "/tests/data/chat/";
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

ChatInput FromJson(const Json& c) {
  ChatInput in;
  for (const Json& m : c["messages"]) {
    ChatMessage msg;
    msg.role = m.value("role", "");
    msg.content = m.value("content", "");
    msg.name = m.value("name", "");
    msg.tool_call_id = m.value("tool_call_id", "");
    msg.reasoning_content = m.value("reasoning_content", "");
    if (m.contains("tool_calls")) {
      for (const Json& t : m["tool_calls"]) {
        msg.tool_calls.push_back(
            {t.value("id", ""), t.value("name", ""), t.value("arguments_json", "{}")});
      }
    }
    in.messages.push_back(std::move(msg));
  }
  if (c.contains("tools")) {
    for (const Json& t : c["tools"]) {
      in.tools.push_back(
          {t.value("name", ""), t.value("description", ""), t.value("parameters_json", "")});
    }
  }
  in.add_generation_prompt = c.value("add_generation_prompt", true);
  in.template_kwargs_json = c.value("template_kwargs_json", "");
  return in;
}

TEST(ChatTemplateTest, RealTemplatesMatchJinja2) {
  const Json convs = Json::parse(ReadFile(DataDir() + "conversations.json"));
  const Json expected = Json::parse(ReadFile(DataDir() + "expected.json"));
  ASSERT_GE(expected["templates"].size(), 10u);
  RenderOptions opts;
  const std::time_t now = expected["now"].get<std::time_t>();
  opts.now = [now] { return now; };
  int matched = 0, total = 0, errors_matched = 0;
  for (auto it = expected["templates"].begin(); it != expected["templates"].end(); ++it) {
    const std::string source = ReadFile(DataDir() + "templates/" + it.key() + ".jinja");
    absl::StatusOr<ChatTemplate> t = ChatTemplate::Create(
        source, (*it)["bos_token"].get<std::string>(), (*it)["eos_token"].get<std::string>());
    ASSERT_TRUE(t.ok()) << it.key() << ": " << t.status();
    for (const Json& c : convs) {
      const std::string name = c["name"].get<std::string>();
      const Json& want = (*it)["results"][name];
      absl::StatusOr<std::string> got = t->Apply(FromJson(c), opts);
      ++total;
      if (want["ok"].get<bool>()) {
        ASSERT_TRUE(got.ok()) << it.key() << " / " << name << ": " << got.status();
        EXPECT_EQ(*got, want["text"].get<std::string>()) << it.key() << " / " << name;
        if (*got == want["text"].get<std::string>()) ++matched;
      } else {
        EXPECT_FALSE(got.ok()) << it.key() << " / " << name
                               << " should fail like jinja2: " << want["error"];
        if (!got.ok()) ++errors_matched;
      }
    }
  }
  std::printf(
      "templates x conversations: %d rendered equal to jinja2, %d rejected like jinja2, of %d\n",
      matched, errors_matched, total);
}

TEST(ChatTemplateTest, LoadFallsBackToChatMlWithAReason) {
  std::string problem;
  ChatTemplate t = LoadChatTemplate("{% if %}", "<s>", "</s>", &problem);
  EXPECT_TRUE(t.is_fallback());
  EXPECT_THAT(problem, HasSubstr("cannot be parsed"));
  EXPECT_THAT(problem, HasSubstr("ChatML"));
  t = LoadChatTemplate("{{ raise_exception('no') }}", "<s>", "</s>", &problem);
  EXPECT_THAT(problem, HasSubstr("probe conversation"));
  t = LoadChatTemplate("", "", "", &problem);
  EXPECT_THAT(problem, HasSubstr("no tokenizer.chat_template"));
  ChatInput in;
  in.messages = {{.role = "system", .content = "S"}, {.role = "user", .content = "U"}};
  EXPECT_EQ(*t.Apply(in),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n"
            "<|im_start|>assistant\n");
  t = LoadChatTemplate("{{ messages[0].content }}", "", "", &problem);
  EXPECT_FALSE(t.is_fallback());
  EXPECT_EQ(problem, "");
}

TEST(ChatTemplateTest, InvalidChatsAreInvalidArgument) {
  ChatTemplate t = ChatTemplate::ChatMl("", "");
  ChatInput in;
  EXPECT_THAT(std::string(t.Apply(in).status().message()), HasSubstr("messages is empty"));
  in.messages = {{.role = "robot", .content = "x"}};
  EXPECT_THAT(std::string(t.Apply(in).status().message()), HasSubstr("role 'robot'"));
  in.messages = {{.role = "user", .content = "x"}};
  in.tools = {{.name = "bad name!", .description = "", .parameters_json = ""}};
  EXPECT_THAT(std::string(t.Apply(in).status().message()), HasSubstr("tools[0].name"));
  in.tools = {{.name = "f", .description = "", .parameters_json = "[1]"}};
  EXPECT_THAT(std::string(t.Apply(in).status().message()), HasSubstr("parameters_json"));
  in.tools = {{.name = "f", .description = "", .parameters_json = std::string(100000, '[')}};
  EXPECT_THAT(std::string(t.Apply(in).status().message()), HasSubstr("nested"));
  in.tools.clear();
  in.messages = {
      {.role = "assistant", .content = "", .tool_calls = {{"id", "f", std::string(100000, '{')}}}};
  EXPECT_THAT(std::string(t.Apply(in).status().message()), HasSubstr("nested deeper"));
}

}  // namespace
}  // namespace jetserve::chat
