// Rendering a Generate chat (messages, tools, tool calls) into prompt text with the model's
// own Jinja chat template (GGUF `tokenizer.chat_template`), the way Hugging Face's
// apply_chat_template does. The engine links no protobuf: ChatInput mirrors Chat of
// proto/jetserve/v1/generate.proto and the worker converts.
//
// Template variables (same rules as tests/oracles/chat/render_templates.py):
//   messages: [{"role", "content", "name"?, "tool_calls"?, "tool_call_id"?,
//               "reasoning_content"?}], optional keys present only when non-empty;
//     tool_calls: [{"id", "type": "function", "function": {"name", "arguments"}}] with
//     `arguments` the parsed JSON of arguments_json (its text when it is not JSON);
//   tools: [{"type": "function", "function": {"name", "description", "parameters"}}], or
//     None without tools (parameters {"type": "object", "properties": {}} when empty);
//   add_generation_prompt, bos_token, eos_token, and the keys of template_kwargs_json.
//
// Fallback: a model whose file has no template, or whose template cannot be parsed or
// fails on a probe conversation at load (LoadChatTemplate), renders chats with ChatML
// (<|im_start|>role\ncontent<|im_end|>\n ...), and the load reports why (see README).
//
//   ASSIGN_OR_RETURN(ChatTemplate t, ChatTemplate::Create(source, "<s>", "</s>"));
//   ASSIGN_OR_RETURN(std::string prompt, t.Apply(chat));
#ifndef JETSERVE_ENGINE_CHAT_CHAT_TEMPLATE_H_
#define JETSERVE_ENGINE_CHAT_CHAT_TEMPLATE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/chat/jinja.h"
#include "engine/chat/value.h"

namespace jetserve::chat {

struct ChatToolCall {
  std::string id;
  std::string name;
  std::string arguments_json;
};

struct ChatMessage {
  std::string role;
  std::string content;
  std::string name;
  std::vector<ChatToolCall> tool_calls;
  std::string tool_call_id;
  std::string reasoning_content;
};

struct ChatTool {
  std::string name;
  std::string description;
  std::string parameters_json;  // empty: no arguments
};

struct ChatInput {
  std::vector<ChatMessage> messages;
  std::vector<ChatTool> tools;
  bool add_generation_prompt = true;
  std::string template_kwargs_json;  // a JSON object or empty
};

// InvalidArgument naming the field: roles, counts (1..1024 messages, <= 128 tools), tool
// names, parameters_json and template_kwargs_json that are not JSON objects.
absl::Status ValidateChatInput(const ChatInput& chat);

// The template variables of a chat (see the header comment).
absl::StatusOr<Value> ChatContext(const ChatInput& chat, const std::string& bos_token,
                                  const std::string& eos_token);

class ChatTemplate {
 public:
  // Parses `source`; InvalidArgument with the line on syntax errors.
  static absl::StatusOr<ChatTemplate> Create(const std::string& source, std::string bos_token,
                                             std::string eos_token);
  // The documented fallback: ChatML.
  static ChatTemplate ChatMl(std::string bos_token, std::string eos_token);

  absl::StatusOr<std::string> Apply(const ChatInput& chat, const RenderOptions& options = {}) const;

  bool is_fallback() const { return fallback_; }
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::shared_ptr<const Template> template_;
  std::string bos_;
  std::string eos_;
  bool fallback_ = false;
};

extern const char kChatMlTemplate[];

// The model's template checked at load: parsed, then rendered on a probe conversation
// (user, assistant, user + generation prompt). `source` empty means the file has none.
// On failure returns the ChatML fallback and sets *problem to a message saying why and
// that ChatML is used; *problem is empty when the model's own template is used.
ChatTemplate LoadChatTemplate(const std::string& source, const std::string& bos_token,
                              const std::string& eos_token, std::string* problem);

}  // namespace jetserve::chat

#endif  // JETSERVE_ENGINE_CHAT_CHAT_TEMPLATE_H_
