// The chat side of a Generate request on a decoder model: the model's chat template and
// output format loaded once (ModelChat), Chat messages rendered into a prompt, the
// response_format turned into a sampling constraint, and the streamed text split into
// text / reasoning_text / tool_calls (ChatStream).
#ifndef JETSERVE_WORKER_CHAT_REQUEST_H_
#define JETSERVE_WORKER_CHAT_REQUEST_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/chat/chat_template.h"
#include "engine/chat/output_parser.h"
#include "engine/model/decoder.h"
#include "engine/runtime/generator.h"
#include "engine/runtime/grammar_constraint.h"
#include "engine/tokenizer/tokenizer.h"
#include "jetserve/v1/generate.pb.h"

namespace jetserve::worker {

struct ModelChat {
  chat::ChatTemplate chat_template = chat::ChatTemplate::ChatMl("", "");
  chat::OutputFormat output_format;
  std::shared_ptr<const runtime::TokenTrie> trie;  // the vocabulary, for constraints
  // For forced tool calls where the format's markers are control tokens (Mistral's
  // [TOOL_CALLS] and [ARGS]): the vocabulary plus those tokens; null when not needed.
  std::shared_ptr<const runtime::TokenTrie> tool_trie;
  std::vector<int32_t> eog_ids;
  // Why the model's own template is not used (empty when it is); logged at load.
  std::string template_problem;

  static ModelChat Load(const model::Decoder& decoder, const tokenizer::Tokenizer& tokenizer);
};

chat::ChatInput ToChatInput(const ::jetserve::v1::Chat& chat);

// The rendered prompt text of a chat (INVALID_ARGUMENT for bad chats / template errors).
absl::StatusOr<std::string> RenderChat(const ModelChat& model, const ::jetserve::v1::Chat& chat);

// For tool_choice REQUIRED/NAMED: a GBNF forcing one or more calls of the (named) tools in
// the model's tool-call format (Hermes <tool_call>, Mistral [TOOL_CALLS] list or
// name[ARGS], Llama 3 JSON), each call's arguments bound to its tool's parameters_json
// schema (empty: no arguments, {}), after an optional <think> section on reasoning models
// (a required end of it, "...</think>", when the prompt opened one); empty for other
// choices. INVALID_ARGUMENT for unknown names and schemas JsonSchemaToGbnf refuses;
// UNIMPLEMENTED on models without a tool-call format.
absl::StatusOr<std::string> ToolChoiceGbnf(const ::jetserve::v1::Chat& chat,
                                           const chat::OutputFormat& format,
                                           bool prompt_opened_reasoning = false);

// Whether a reasoning model's rendered prompt ends inside a <think> section (its output
// starts with reasoning, as chat::OutputParser sees it).
bool PromptOpensReasoning(const chat::OutputFormat& format, std::string_view rendered_prompt);

// Sets options->sampling.constraint from request.response_format, or from the chat's
// tool_choice REQUIRED/NAMED (ToolChoiceGbnf) (INVALID_ARGUMENT for bad schemas and
// grammars); no-op when unset. `rendered_prompt`: the chat's prompt text; when it opened a
// reasoning section, JSON and JSON Schema outputs (and forced calls) come after its end
// (a GBNF grammar applies from the first token, as given).
absl::Status ApplyResponseFormat(const ::jetserve::v1::GenerateRequest& request,
                                 const ModelChat& model, runtime::GenerateOptions* options,
                                 std::string_view rendered_prompt = {});

// Per request: one output parser per choice.
class ChatStream {
 public:
  // rendered_prompt: the chat's prompt text; tools: whether tool calls are parsed.
  ChatStream(const ModelChat& model, const ::jetserve::v1::Chat& chat,
             const std::string& rendered_prompt, int n);
  // Fills out's text, reasoning_text and tool_calls from the event.
  void Apply(const runtime::GenerationEvent& event, ::jetserve::v1::GenerateResponse* out);
  // Whether the request must be decoded with special tokens (markers that are control
  // tokens, like [TOOL_CALLS]).
  bool needs_special_tokens() const { return special_; }
  // Whether the choice has returned a tool call (its EOS finish is FINISH_REASON_TOOL_CALLS).
  bool called_tools(int choice) const {
    return choice >= 0 && static_cast<size_t>(choice) < called_.size() &&
           called_[static_cast<size_t>(choice)];
  }

 private:
  std::vector<chat::OutputParser> parsers_;
  std::vector<bool> called_;
  bool special_ = false;
};

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_CHAT_REQUEST_H_
