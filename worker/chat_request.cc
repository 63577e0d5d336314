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
  if (m.output_format.tool_calls == chat::ToolCallFormat::kMistral) {
    std::vector<std::string> pieces(static_cast<size_t>(tokenizer.size()));
    bool markers = false;
    for (int32_t id = 0; id < tokenizer.size(); ++id) {
      std::string& p = pieces[static_cast<size_t>(id)];
      if (!tokenizer.IsControl(id)) {
        p = tokenizer.TokenToPiece(id, false);
        continue;
      }
      p = tokenizer.TokenToPiece(id, true);
      if (p == "[TOOL_CALLS]" || p == "[ARGS]") {
        markers = true;
      } else {
        p.clear();
      }
    }
    if (markers) m.tool_trie = std::make_shared<const runtime::TokenTrie>(pieces);
  }
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

namespace {

// The rest of a reasoning section the prompt opened, and the (optional) section itself.
constexpr char kThinkRules[] =
    "think-rest ::= ([^<] | \"<\" [^/])* \"</think>\" [ \\n]{0,4}\n"
    "think ::= \"<think>\" think-rest\n";

}  // namespace

bool PromptOpensReasoning(const chat::OutputFormat& format, std::string_view prompt) {
  if (!format.reasoning) return false;
  while (!prompt.empty() && (prompt.back() == ' ' || prompt.back() == '\n' ||
                             prompt.back() == '\r' || prompt.back() == '\t')) {
    prompt.remove_suffix(1);
  }
  constexpr std::string_view kOpen = "<think>";
  return prompt.size() >= kOpen.size() && prompt.substr(prompt.size() - kOpen.size()) == kOpen;
}

absl::StatusOr<std::string> ToolChoiceGbnf(const ::jetserve::v1::Chat& chat,
                                           const chat::OutputFormat& format,
                                           bool prompt_opened_reasoning) {
  const bool named = chat.tool_choice() == ::jetserve::v1::TOOL_CHOICE_NAMED;
  if (!named && chat.tool_choice() != ::jetserve::v1::TOOL_CHOICE_REQUIRED) return std::string();
  if (chat.tools_size() == 0) {
    return absl::InvalidArgumentError(
        "chat.tool_choice requires a tool call but chat.tools is empty");
  }
  if (format.tool_calls == chat::ToolCallFormat::kNone) {
    return absl::UnimplementedError(
        "chat.tool_choice REQUIRED/NAMED needs a model whose chat template has a tool-call "
        "format (<tool_call>, [TOOL_CALLS] or Llama 3 JSON); use TOOL_CHOICE_AUTO");
  }
  // One rule per callable tool: the call in the model's format, its arguments bound to the
  // tool's parameter schema.
  std::string calls, rules;
  for (int i = 0; i < chat.tools_size(); ++i) {
    const ::jetserve::v1::Tool& t = chat.tools(i);
    if (named && t.name() != chat.tool_choice_name()) continue;
    grammar::JsonSchemaGbnfOptions o;
    o.root_name = absl::StrCat("args-", i);
    o.rule_prefix = absl::StrCat("t", i);
    o.primitives = false;
    o.require_object = true;
    absl::StatusOr<std::string> args = grammar::JsonSchemaToGbnf(
        t.parameters_json().empty() ? R"({"additionalProperties": false})" : t.parameters_json(),
        o);
    if (!args.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "chat.tools[", i, "] ('", t.name(), "').parameters_json: ", args.status().message()));
    }
    std::string call;
    switch (format.tool_calls) {
      case chat::ToolCallFormat::kHermes:
        call = absl::StrCat("\"<tool_call>\\n{\\\"name\\\": \" ", grammar::GbnfJsonString(t.name()),
                            " \", \\\"arguments\\\": \" ", o.root_name, " \"}\\n</tool_call>\"");
        break;
      case chat::ToolCallFormat::kMistral:
        call = format.mistral_args
                   ? absl::StrCat("\"[TOOL_CALLS]\" ", grammar::GbnfLiteral(t.name()),
                                  " \"[ARGS]\" ", o.root_name)
                   : absl::StrCat("\"{\\\"name\\\": \" ", grammar::GbnfJsonString(t.name()),
                                  " \", \\\"arguments\\\": \" ", o.root_name, " \"}\"");
        break;
      case chat::ToolCallFormat::kLlama3:
        call = absl::StrCat("\"{\\\"name\\\": \" ", grammar::GbnfJsonString(t.name()),
                            " \", \\\"parameters\\\": \" ", o.root_name, " \"}\"");
        break;
      case chat::ToolCallFormat::kNone:
        break;
    }
    absl::StrAppend(&calls, calls.empty() ? "" : " | ", call);
    absl::StrAppend(&rules, *args);
  }
  if (calls.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "chat.tool_choice_name '", chat.tool_choice_name(), "' is not one of chat.tools"));
  }
  // One or more calls, after a reasoning section where the model has one (Llama 3's JSON
  // calls are the whole answer: none there).
  const bool think = format.reasoning && format.tool_calls != chat::ToolCallFormat::kLlama3;
  std::string root;
  switch (format.tool_calls) {
    case chat::ToolCallFormat::kHermes:
      root = "call (\"\\n\" call)*";
      break;
    case chat::ToolCallFormat::kMistral:
      root =
          format.mistral_args ? "call+" : "\"[TOOL_CALLS]\" \" \"? \"[\" call (\", \" call)* \"]\"";
      break;
    default:
      root = "call (\"; \" call)*";
      break;
  }
  const char* before = !think ? "" : prompt_opened_reasoning ? "think-rest " : "think? ";
  return absl::StrCat("root ::= ", before, root, "\n", kThinkRules, "call ::= ", calls, "\n", rules,
                      grammar::JsonPrimitivesGbnf());
}

absl::Status ApplyResponseFormat(const ::jetserve::v1::GenerateRequest& r, const ModelChat& model,
                                 runtime::GenerateOptions* o, std::string_view rendered_prompt) {
  const bool reasoning = r.input_case() == ::jetserve::v1::GenerateRequest::kChat &&
                         PromptOpensReasoning(model.output_format, rendered_prompt);
  if (r.input_case() == ::jetserve::v1::GenerateRequest::kChat) {
    absl::StatusOr<std::string> forced = ToolChoiceGbnf(r.chat(), model.output_format, reasoning);
    if (!forced.ok()) return forced.status();
    if (!forced->empty()) {
      if (r.has_response_format()) {
        return absl::InvalidArgumentError(
            "response_format cannot be combined with tool_choice REQUIRED/NAMED");
      }
      absl::StatusOr<std::shared_ptr<const grammar::Grammar>> g = grammar::Grammar::Parse(*forced);
      if (!g.ok())
        return absl::InvalidArgumentError(absl::StrCat("tool_choice: ", g.status().message()));
      o->sampling.constraint = runtime::GrammarConstraintFactory(
          *g, model.tool_trie != nullptr ? model.tool_trie : model.trie, model.eog_ids);
      return absl::OkStatus();
    }
  }
  if (!r.has_response_format()) return absl::OkStatus();
  const ::jetserve::v1::ResponseFormat& f = r.response_format();
  std::string gbnf;
  // JSON outputs of a reasoning section the prompt opened come after its end.
  const std::string answer_root = reasoning ? "answer" : "root";
  const std::string preamble =
      reasoning ? absl::StrCat("root ::= think-rest answer\n", kThinkRules) : std::string();
  switch (f.format_case()) {
    case ::jetserve::v1::ResponseFormat::kJsonObject:
      if (!f.json_object()) return absl::OkStatus();
      gbnf = absl::StrCat(preamble, answer_root, " ::= object\n", grammar::JsonPrimitivesGbnf());
      break;
    case ::jetserve::v1::ResponseFormat::kJsonSchema: {
      grammar::JsonSchemaGbnfOptions so;
      so.root_name = answer_root;
      absl::StatusOr<std::string> g = grammar::JsonSchemaToGbnf(f.json_schema(), so);
      if (!g.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("response_format.json_schema: ", g.status().message()));
      }
      gbnf = absl::StrCat(preamble, *g);
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
