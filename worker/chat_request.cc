#include "worker/chat_request.h"

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/grammar/json_schema.h"
#include "engine/runtime/decoder_model.h"

namespace jetserve::worker {

ModelChat ModelChat::Load(const model::Decoder& decoder, const tokenizer::Tokenizer& tokenizer) {
  ModelChat m;
  m.chat_template = runtime::LoadModelChatTemplate(decoder, tokenizer, &m.template_problem);
  m.output_format = chat::DetectOutputFormat(m.chat_template.source());
  m.trie = runtime::TokenTrie::FromTokenizer(tokenizer);
  for (int32_t id = 0; id < tokenizer.size(); ++id) {
    if (tokenizer.IsEndOfGeneration(id)) m.eog_ids.push_back(id);
  }
  return m;
}

chat::ChatInput ToChatInput(const ::jetserve::v1::Chat& c) {
  chat::ChatInput in;
  for (const ::jetserve::v1::ChatMessage& m : c.messages()) {
    chat::ChatMessage msg{.role = m.role(),
                          .content = m.content(),
                          .name = m.name(),
                          .tool_calls = {},
                          .tool_call_id = m.tool_call_id(),
                          .reasoning_content = m.reasoning_content()};
    for (const ::jetserve::v1::ToolCall& t : m.tool_calls()) {
      msg.tool_calls.push_back({t.id(), t.name(), t.arguments_json()});
    }
    in.messages.push_back(std::move(msg));
  }
  // TOOL_CHOICE_NONE: the model is not shown the tools.
  if (c.tool_choice() != ::jetserve::v1::TOOL_CHOICE_NONE) {
    for (const ::jetserve::v1::Tool& t : c.tools()) {
      in.tools.push_back({t.name(), t.description(), t.parameters_json()});
    }
  }
  in.add_generation_prompt = !c.has_add_generation_prompt() || c.add_generation_prompt();
  in.template_kwargs_json = c.template_kwargs_json();
  return in;
}

absl::StatusOr<std::string> RenderChat(const ModelChat& model, const ::jetserve::v1::Chat& chat) {
  return model.chat_template.Apply(ToChatInput(chat));
}

absl::StatusOr<std::string> ToolChoiceGbnf(const ::jetserve::v1::Chat& chat,
                                           const chat::OutputFormat& format) {
  const bool named = chat.tool_choice() == ::jetserve::v1::TOOL_CHOICE_NAMED;
  if (!named && chat.tool_choice() != ::jetserve::v1::TOOL_CHOICE_REQUIRED) return std::string();
  if (chat.tools_size() == 0) {
    return absl::InvalidArgumentError(
        "chat.tool_choice requires a tool call but chat.tools is empty");
  }
  if (format.tool_calls != chat::ToolCallFormat::kHermes) {
    return absl::UnimplementedError(
        "chat.tool_choice REQUIRED/NAMED is enforced only for models with <tool_call> output "
        "(Hermes, Qwen, SmolLM3); use TOOL_CHOICE_AUTO");
  }
  std::string names;
  for (const ::jetserve::v1::Tool& t : chat.tools()) {
    if (named && t.name() != chat.tool_choice_name()) continue;
    if (!names.empty()) names += " | ";
    names += absl::StrCat("\"\\\"", t.name(), "\\\"\"");  // "\"name\""
  }
  if (names.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "chat.tool_choice_name '", chat.tool_choice_name(), "' is not one of chat.tools"));
  }
  // One or more calls in the Hermes format, after an optional reasoning section.
  std::string g = grammar::JsonObjectGbnf();
  g.replace(0, g.find('\n'),
            "root ::= think? call (\"\\n\" call)*\n"
            "think ::= \"<think>\" ([^<] | \"<\" [^/])* \"</think>\" [ \\n]{0,4}\n"
            "call ::= \"<tool_call>\\n{\\\"name\\\": \" tool-name \", \\\"arguments\\\": \" object "
            "\"}\\n</tool_call>\"\n"
            "tool-name ::= " +
                names);
  return g;
}

absl::Status ApplyResponseFormat(const ::jetserve::v1::GenerateRequest& r, const ModelChat& model,
                                 runtime::GenerateOptions* o) {
  if (r.input_case() == ::jetserve::v1::GenerateRequest::kChat) {
    absl::StatusOr<std::string> forced = ToolChoiceGbnf(r.chat(), model.output_format);
    if (!forced.ok()) return forced.status();
    if (!forced->empty()) {
      if (r.has_response_format()) {
        return absl::InvalidArgumentError(
            "response_format cannot be combined with tool_choice REQUIRED/NAMED");
      }
      absl::StatusOr<std::shared_ptr<const grammar::Grammar>> g = grammar::Grammar::Parse(*forced);
      if (!g.ok())
        return absl::InvalidArgumentError(absl::StrCat("tool_choice: ", g.status().message()));
      o->sampling.constraint = runtime::GrammarConstraintFactory(*g, model.trie, model.eog_ids);
      return absl::OkStatus();
    }
  }
  if (!r.has_response_format()) return absl::OkStatus();
  const ::jetserve::v1::ResponseFormat& f = r.response_format();
  std::string gbnf;
  switch (f.format_case()) {
    case ::jetserve::v1::ResponseFormat::kJsonObject:
      if (!f.json_object()) return absl::OkStatus();
      gbnf = grammar::JsonObjectGbnf();
      break;
    case ::jetserve::v1::ResponseFormat::kJsonSchema: {
      absl::StatusOr<std::string> g = grammar::JsonSchemaToGbnf(f.json_schema());
      if (!g.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("response_format.json_schema: ", g.status().message()));
      }
      gbnf = *std::move(g);
      break;
    }
    case ::jetserve::v1::ResponseFormat::kGbnf:
      gbnf = f.gbnf();
      break;
    default:
      return absl::OkStatus();
  }
  absl::StatusOr<std::shared_ptr<const grammar::Grammar>> g = grammar::Grammar::Parse(gbnf);
  if (!g.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("response_format: ", g.status().message()));
  }
  o->sampling.constraint = runtime::GrammarConstraintFactory(*g, model.trie, model.eog_ids);
  return absl::OkStatus();
}

ChatStream::ChatStream(const ModelChat& model, const ::jetserve::v1::Chat& chat,
                       const std::string& rendered_prompt, int n) {
  const bool tools =
      chat.tools_size() > 0 && chat.tool_choice() != ::jetserve::v1::TOOL_CHOICE_NONE;
  special_ = tools && chat::NeedsSpecialTokens(model.output_format);
  for (int i = 0; i < n; ++i) {
    char prefix[8];
    std::snprintf(prefix, sizeof(prefix), "c%02d", i % 100);
    parsers_.emplace_back(model.output_format, rendered_prompt, prefix, tools);
    called_.push_back(false);
  }
}

void ChatStream::Apply(const runtime::GenerationEvent& e, ::jetserve::v1::GenerateResponse* out) {
  if (e.choice < 0 || static_cast<size_t>(e.choice) >= parsers_.size()) {
    out->set_text(e.text);
    return;
  }
  chat::OutputParser& p = parsers_[static_cast<size_t>(e.choice)];
  chat::OutputParser::Delta d = p.Push(e.text);
  if (e.finish != runtime::FinishReason::kNone) {
    chat::OutputParser::Delta last = p.Finish();
    d.text += last.text;
    d.reasoning += last.reasoning;
    for (chat::ChatToolCall& c : last.tool_calls) d.tool_calls.push_back(std::move(c));
  }
  out->set_text(d.text);
  out->set_reasoning_text(d.reasoning);
  for (const chat::ChatToolCall& c : d.tool_calls) {
    ::jetserve::v1::ToolCall* t = out->add_tool_calls();
    t->set_id(c.id);
    t->set_name(c.name);
    t->set_arguments_json(c.arguments_json);
    called_[static_cast<size_t>(e.choice)] = true;
  }
}

}  // namespace jetserve::worker
