#include "engine/chat/chat_template.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/model/status_macros.h"

namespace jetserve::chat {
namespace {

using Json = nlohmann::ordered_json;

// Deepest nesting of [ and { outside strings (bounds recursion over untrusted JSON).
int JsonNesting(const std::string& text) {
  int depth = 0, max = 0;
  bool in_str = false, esc = false;
  for (const char c : text) {
    if (in_str) {
      if (esc) {
        esc = false;
      } else if (c == '\\') {
        esc = true;
      } else if (c == '"') {
        in_str = false;
      }
    } else if (c == '"') {
      in_str = true;
    } else if (c == '[' || c == '{') {
      max = std::max(max, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max;
}

constexpr int kMaxJsonNesting = 64;

bool ParseJson(const std::string& text, Json* out) {
  if (JsonNesting(text) > kMaxJsonNesting) {
    *out = Json(Json::value_t::discarded);
    return false;
  }
  *out = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  return !out->is_discarded();
}

bool ValidToolName(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (const char c : n) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

const char kChatMlTemplate[] =
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

absl::Status ValidateChatInput(const ChatInput& chat) {
  if (chat.messages.empty()) return absl::InvalidArgumentError("chat.messages is empty");
  if (chat.messages.size() > 1024) {
    return absl::InvalidArgumentError("chat.messages has more than 1024 messages");
  }
  if (chat.tools.size() > 128)
    return absl::InvalidArgumentError("chat.tools has more than 128 tools");
  for (size_t i = 0; i < chat.messages.size(); ++i) {
    const ChatMessage& m = chat.messages[i];
    if (m.role != "system" && m.role != "user" && m.role != "assistant" && m.role != "tool") {
      return absl::InvalidArgumentError(absl::StrCat("chat.messages[", i, "].role '", m.role,
                                                     "' is not system, user, assistant or tool"));
    }
    for (const ChatToolCall& c : m.tool_calls) {
      if (JsonNesting(c.arguments_json) > kMaxJsonNesting) {
        return absl::InvalidArgumentError(absl::StrCat("chat.messages[", i,
                                                       "].tool_calls: arguments_json nested "
                                                       "deeper than ",
                                                       kMaxJsonNesting));
      }
    }
    if (!m.tool_calls.empty() && m.role != "assistant") {
      return absl::InvalidArgumentError(
          absl::StrCat("chat.messages[", i, "].tool_calls: only assistant messages call tools"));
    }
  }
  for (size_t i = 0; i < chat.tools.size(); ++i) {
    const ChatTool& t = chat.tools[i];
    if (!ValidToolName(t.name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "chat.tools[", i, "].name '", t.name, "' must be 1-64 characters of [A-Za-z0-9_.-]"));
    }
    Json j;
    if (!t.parameters_json.empty() && (!ParseJson(t.parameters_json, &j) || !j.is_object())) {
      return absl::InvalidArgumentError(
          absl::StrCat("chat.tools[", i, "].parameters_json is not a JSON object (nested at most ",
                       kMaxJsonNesting, " deep)"));
    }
  }
  Json k;
  if (!chat.template_kwargs_json.empty() &&
      (!ParseJson(chat.template_kwargs_json, &k) || !k.is_object())) {
    return absl::InvalidArgumentError("chat.template_kwargs_json is not a JSON object");
  }
  return absl::OkStatus();
}

absl::StatusOr<Value> ChatContext(const ChatInput& chat, const std::string& bos_token,
                                  const std::string& eos_token) {
  JS_RETURN_IF_ERROR(ValidateChatInput(chat));
  ValueList messages;
  for (const ChatMessage& m : chat.messages) {
    ValueDict d{{"role", Value::String(m.role)}, {"content", Value::String(m.content)}};
    if (!m.name.empty()) d.emplace_back("name", Value::String(m.name));
    if (!m.tool_calls.empty()) {
      ValueList calls;
      for (const ChatToolCall& c : m.tool_calls) {
        Json args;
        Value arguments = ParseJson(c.arguments_json, &args) ? Value::FromJson(args)
                                                             : Value::String(c.arguments_json);
        calls.push_back(Value::Dict({{"id", Value::String(c.id)},
                                     {"type", Value::String("function")},
                                     {"function", Value::Dict({{"name", Value::String(c.name)},
                                                               {"arguments", arguments}})}}));
      }
      d.emplace_back("tool_calls", Value::List(std::move(calls)));
    }
    if (!m.tool_call_id.empty()) d.emplace_back("tool_call_id", Value::String(m.tool_call_id));
    if (!m.reasoning_content.empty()) {
      d.emplace_back("reasoning_content", Value::String(m.reasoning_content));
    }
    messages.push_back(Value::Dict(std::move(d)));
  }
  Value tools = Value::None();
  if (!chat.tools.empty()) {
    ValueList list;
    for (const ChatTool& t : chat.tools) {
      Json params = Json::object({{"type", "object"}, {"properties", Json::object()}});
      if (!t.parameters_json.empty()) ParseJson(t.parameters_json, &params);
      list.push_back(
          Value::Dict({{"type", Value::String("function")},
                       {"function", Value::Dict({{"name", Value::String(t.name)},
                                                 {"description", Value::String(t.description)},
                                                 {"parameters", Value::FromJson(params)}})}}));
    }
    tools = Value::List(std::move(list));
  }
  ValueDict ctx;
  if (!chat.template_kwargs_json.empty()) {
    Json k;
    ParseJson(chat.template_kwargs_json, &k);
    for (auto it = k.begin(); it != k.end(); ++it) ctx.emplace_back(it.key(), Value::FromJson(*it));
  }
  Value c = Value::Dict(std::move(ctx));
  c.Set("messages", Value::List(std::move(messages)));
  c.Set("tools", tools);
  c.Set("add_generation_prompt", Value::Bool(chat.add_generation_prompt));
  c.Set("bos_token", Value::String(bos_token));
  c.Set("eos_token", Value::String(eos_token));
  return c;
}

absl::StatusOr<ChatTemplate> ChatTemplate::Create(const std::string& source, std::string bos_token,
                                                  std::string eos_token) {
  JS_ASSIGN_OR_RETURN(Template t, Template::Parse(source));
  ChatTemplate c;
  c.source_ = source;
  c.template_ = std::make_shared<const Template>(std::move(t));
  c.bos_ = std::move(bos_token);
  c.eos_ = std::move(eos_token);
  return c;
}

ChatTemplate ChatTemplate::ChatMl(std::string bos_token, std::string eos_token) {
  absl::StatusOr<ChatTemplate> c =
      Create(kChatMlTemplate, std::move(bos_token), std::move(eos_token));
  c->fallback_ = true;  // kChatMlTemplate parses (chat_template_test checks it)
  return *std::move(c);
}

absl::StatusOr<std::string> ChatTemplate::Apply(const ChatInput& chat,
                                                const RenderOptions& options) const {
  JS_ASSIGN_OR_RETURN(Value ctx, ChatContext(chat, bos_, eos_));
  return template_->Render(ctx, options);
}

ChatTemplate LoadChatTemplate(const std::string& source, const std::string& bos_token,
                              const std::string& eos_token, std::string* problem) {
  problem->clear();
  if (source.empty()) {
    *problem = "the model file has no tokenizer.chat_template; chats use the ChatML fallback";
    return ChatTemplate::ChatMl(bos_token, eos_token);
  }
  absl::StatusOr<ChatTemplate> t = ChatTemplate::Create(source, bos_token, eos_token);
  if (t.ok()) {
    ChatInput probe;
    probe.messages = {{.role = "user", .content = "Hello"},
                      {.role = "assistant", .content = "Hi"},
                      {.role = "user", .content = "How are you?"}};
    absl::StatusOr<std::string> r = t->Apply(probe);
    if (r.ok()) return *std::move(t);
    *problem = absl::StrCat("the model's chat template fails on a probe conversation (",
                            r.status().message(), "); chats use the ChatML fallback");
  } else {
    *problem = absl::StrCat("the model's chat template cannot be parsed (", t.status().message(),
                            "); chats use the ChatML fallback");
  }
  return ChatTemplate::ChatMl(bos_token, eos_token);
}

}  // namespace jetserve::chat
