// A Jinja interpreter for chat templates: the subset of jinja2 that the chat templates of
// Llama 3.x, Qwen2.5/3, Mistral, Gemma, SmolLM, Phi-3, DeepSeek-R1, Granite, Hermes and
// similar use (if/for/set/macro/call/filter blocks, loop variables, namespace(), the common
// filters, tests and str/dict methods, slicing, raise_exception, strftime_now), rendered
// the way Hugging Face's environment does (trim_blocks, lstrip_blocks, a tojson that does
// not escape HTML). Hostile templates end in an error, never a crash or a hang: recursion,
// loop steps, output size and template size are bounded (jinja::Limits).
//
//   ASSIGN_OR_RETURN(Template t, Template::Parse(source));
//   Value ctx = Value::Dict({{"messages", messages}, {"add_generation_prompt",
//   Value::Bool(true)}}); ASSIGN_OR_RETURN(std::string text, t.Render(ctx));
#ifndef JETSERVE_ENGINE_CHAT_JINJA_H_
#define JETSERVE_ENGINE_CHAT_JINJA_H_

#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/chat/jinja_ast.h"
#include "engine/chat/value.h"

namespace jetserve::chat {

struct RenderOptions {
  // The clock strftime_now() formats (UTC); default: the system clock.
  std::function<std::time_t()> now;
};

class Template {
 public:
  // InvalidArgument with the line for syntax errors and unsupported constructs.
  static absl::StatusOr<Template> Parse(std::string_view source, const jinja::Limits& limits = {});

  // Renders with `context` (a dict) as the template's variables. Template errors
  // (raise_exception, undefined operations, type errors, limits) are InvalidArgument.
  absl::StatusOr<std::string> Render(const Value& context, const RenderOptions& options = {}) const;

 private:
  std::shared_ptr<const jinja::Body> body_;
  jinja::Limits limits_;
};

}  // namespace jetserve::chat

#endif  // JETSERVE_ENGINE_CHAT_JINJA_H_
