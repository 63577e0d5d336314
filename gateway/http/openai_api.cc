#include "gateway/http/openai_api.h"

#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <utility>
#include <vector>

#include "absl/base/internal/endian.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace jetserve::gateway::http {
namespace {

namespace v1 = ::jetserve::v1;

constexpr int kCompletionsDefaultMaxTokens = 16;  // OpenAI's documented default
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

// Sampling, stop and count fields both endpoints share.
void ParseSampling(JsonFields& f, OpenAiGenerateCall* call) {
  v1::GenerateRequest& r = call->request;
  v1::SamplingParams* s = r.mutable_sampling();
  if (auto model = f.String("model")) r.set_model(*model);
  if (r.model().empty() && f.ok()) f.Fail("model", "required");
  if (auto v = f.Number("temperature", 0, 2)) s->set_temperature(static_cast<float>(*v));
  if (auto v = f.Number("top_p", 0, 1)) {
    if (*v > 0) {
      s->set_top_p(static_cast<float>(*v));
    } else {
      s->set_top_k(1);
    }
  }
  if (auto v = f.Int("top_k", -1, kInt32Max)) s->set_top_k(*v > 0 ? static_cast<int32_t>(*v) : 0);
  if (auto v = f.Number("min_p", 0, 1)) s->set_min_p(static_cast<float>(*v));
  if (auto v = f.Number("repetition_penalty", 0, 10)) {
    s->set_repetition_penalty(static_cast<float>(*v));
  }
  if (auto v = f.Number("presence_penalty", -2, 2)) s->set_presence_penalty(static_cast<float>(*v));
  if (auto v = f.Number("frequency_penalty", -2, 2)) {
    s->set_frequency_penalty(static_cast<float>(*v));
  }
  if (auto v =
          f.Int("seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max())) {
    s->set_seed(static_cast<uint64_t>(*v));
  }
  if (const Json* bias = f.Object("logit_bias")) {
    for (auto it = bias->begin(); it != bias->end() && f.ok(); ++it) {
      int32_t id = 0;
      const std::string name = absl::StrCat("logit_bias[\"", it.key(), "\"]");
      if (!absl::SimpleAtoi(it.key(), &id) || id < 0) {
        f.Fail(name, "keys must be token ids");
      } else if (!it.value().is_number()) {
        f.Fail(name, absl::StrCat("expected a number, got ", JsonTypeName(it.value())));
      } else if (const double value = it.value().get<double>(); !(value >= -100 && value <= 100)) {
        f.Fail(name, absl::StrCat("must be in [-100, 100], got ", value));
      } else {
        (*s->mutable_logit_bias())[id] = it.value().get<float>();
      }
    }
  }
  if (auto v = f.Int("n", 1, 16)) r.set_n(static_cast<int32_t>(*v));
  if (auto v = f.StringOrStrings("stop")) {
    for (std::string& stop : *v) r.mutable_stop()->add_stop(std::move(stop));
  }
  if (auto v = f.Bool("stream")) call->stream = *v;
  if (const Json* o = f.Object("stream_options")) {
    JsonFields so(*o, "stream_options.");
    call->include_usage = so.Bool("include_usage").value_or(false);
    if (!so.ok()) f.Fail("stream_options", std::string(so.status().message()));
  }
  // user, service_tier, store, metadata, parallel_tool_calls: accepted, no effect here.
}

absl::Status ParseChatContent(const Json& content, const std::string& name, std::string* out) {
  if (content.is_null()) return absl::OkStatus();
  if (content.is_string()) {
    *out = content.get<std::string>();
    return absl::OkStatus();
  }
  if (!content.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": expected a string or an array of content parts, got ", JsonTypeName(content)));
  }
  for (size_t i = 0; i < content.size(); ++i) {
    const std::string part = absl::StrCat(name, "[", i, "]");
    JsonFields p(content[i], part + ".");
    if (!content[i].is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(part, ": expected an object"));
    }
    const std::string type = p.String("type").value_or("");
    if (type != "text") {
      return absl::InvalidArgumentError(absl::StrCat(
          part, ".type: only \"text\" parts are supported (text models), got \"", type, "\""));
    }
    *out += p.String("text").value_or("");
    if (!p.ok()) return p.status();
  }
  return absl::OkStatus();
}

absl::Status ParseChatMessage(const Json& m, const std::string& name, v1::ChatMessage* out) {
  if (!m.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": expected an object, got ", JsonTypeName(m)));
  }
  JsonFields f(m, name + ".");
  std::string role = f.String("role").value_or("");
  if (role.empty() && f.ok()) f.Fail(name + ".role", "required");
  if (role == "developer") role = "system";  // OpenAI's newer name for the system role
  out->set_role(role);
  if (auto n = f.String("name")) out->set_name(*n);
  if (auto id = f.String("tool_call_id")) out->set_tool_call_id(*id);
  if (auto r = f.String("reasoning_content")) out->set_reasoning_content(*r);
  if (!f.ok()) return f.status();
  if (const Json* content = f.Get("content")) {
    absl::Status st = ParseChatContent(*content, name + ".content", out->mutable_content());
    if (!st.ok()) return st;
  }
  if (const Json* calls = f.Array("tool_calls")) {
    for (size_t i = 0; i < calls->size(); ++i) {
      const std::string cname = absl::StrCat(name, ".tool_calls[", i, "]");
      const Json& c = (*calls)[i];
      const Json* fn = c.is_object() && c.contains("function") ? &c["function"] : nullptr;
      if (fn == nullptr || !fn->is_object()) {
        return absl::InvalidArgumentError(absl::StrCat(cname, ".function: required object"));
      }
      JsonFields cf(c, cname + ".");
      JsonFields ff(*fn, cname + ".function.");
      v1::ToolCall* call = out->add_tool_calls();
      call->set_id(cf.String("id").value_or(""));
      call->set_name(ff.String("name").value_or(""));
      if (const Json* args = ff.Get("arguments")) {
        call->set_arguments_json(args->is_string() ? args->get<std::string>() : DumpJson(*args));
      }
      if (!cf.ok()) return cf.status();
      if (!ff.ok()) return ff.status();
    }
  }
  return f.status();
}

absl::Status ParseChatTools(JsonFields& f, v1::Chat* chat) {
  if (const Json* tools = f.Array("tools")) {
    for (size_t i = 0; i < tools->size(); ++i) {
      const std::string name = absl::StrCat("tools[", i, "]");
      const Json& t = (*tools)[i];
      const Json* fn = t.is_object() && t.contains("function") ? &t["function"] : nullptr;
      if (fn == nullptr || !fn->is_object()) {
        return absl::InvalidArgumentError(absl::StrCat(name, ".function: required object"));
      }
      JsonFields ff(*fn, name + ".function.");
      v1::Tool* tool = chat->add_tools();
      tool->set_name(ff.String("name").value_or(""));
      tool->set_description(ff.String("description").value_or(""));
      if (const Json* p = ff.Object("parameters")) tool->set_parameters_json(DumpJson(*p));
      if (!ff.ok()) return ff.status();
    }
  }
  if (!f.ok()) return f.status();
  const Json* choice = f.Get("tool_choice");
  if (choice == nullptr) return absl::OkStatus();
  if (choice->is_string()) {
    const std::string c = choice->get<std::string>();
    if (c == "none") {
      chat->set_tool_choice(v1::TOOL_CHOICE_NONE);
    } else if (c == "auto") {
      chat->set_tool_choice(v1::TOOL_CHOICE_AUTO);
    } else if (c == "required") {
      chat->set_tool_choice(v1::TOOL_CHOICE_REQUIRED);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "tool_choice: expected \"none\", \"auto\", \"required\" or an object, got \"", c, "\""));
    }
    return absl::OkStatus();
  }
  const Json* fn =
      choice->is_object() && choice->contains("function") ? &(*choice)["function"] : nullptr;
  if (fn == nullptr || !fn->is_object() || !fn->contains("name") || !(*fn)["name"].is_string()) {
    return absl::InvalidArgumentError(
        "tool_choice: expected {\"type\": \"function\", \"function\": {\"name\": ...}}");
  }
  chat->set_tool_choice(v1::TOOL_CHOICE_NAMED);
  chat->set_tool_choice_name((*fn)["name"].get<std::string>());
  return absl::OkStatus();
}

absl::Status ParseResponseFormat(JsonFields& f, v1::GenerateRequest* r) {
  const Json* format = f.Object("response_format");
  if (format == nullptr) return f.status();
  JsonFields rf(*format, "response_format.");
  const std::string type = rf.String("type").value_or("");
  if (type == "json_object") {
    r->mutable_response_format()->set_json_object(true);
  } else if (type == "json_schema") {
    const Json* js = rf.Object("json_schema");
    if (js == nullptr && rf.ok()) rf.Fail("response_format.json_schema", "required");
    if (js != nullptr) {
      JsonFields jf(*js, "response_format.json_schema.");
      const Json* schema = jf.Object("schema");
      if (!jf.ok()) return jf.status();
      // No schema: any JSON object.
      if (schema == nullptr) {
        r->mutable_response_format()->set_json_object(true);
      } else {
        SetJsonSchema(*schema, r->mutable_response_format());
      }
    }
  } else if (type != "text" && rf.ok()) {
    rf.Fail(
        "response_format.type",
        absl::StrCat("expected \"text\", \"json_object\" or \"json_schema\", got \"", type, "\""));
  }
  return rf.status();
}

const char* FinishReasonName(v1::FinishReason r) {
  switch (r) {
    case v1::FINISH_REASON_LENGTH:
      return "length";
    case v1::FINISH_REASON_TOOL_CALLS:
      return "tool_calls";
    default:
      return "stop";
  }
}

std::vector<int> TokenBytes(const std::string& token) {
  std::vector<int> out;
  for (unsigned char c : token) out.push_back(c);
  return out;
}

struct Choice {
  std::string text;
  std::string reasoning;
  std::vector<v1::ToolCall> tool_calls;
  std::vector<v1::TokenLogprob> logprobs;
  v1::FinishReason finish = v1::FINISH_REASON_UNSPECIFIED;
  bool started = false;  // stream: the role delta went out
  size_t text_offset = 0;
};

class OpenAiFormatter final : public GenerateFormatter {
 public:
  explicit OpenAiFormatter(OpenAiFormatterOptions options)
      : o_(std::move(options)), choices_(static_cast<size_t>(o_.n > 0 ? o_.n : 1)) {}

  const char* content_type() const override {
    return o_.stream ? "text/event-stream" : "application/json";
  }

  std::string OnMessage(const v1::GenerateResponse& m) override {
    if (m.has_usage()) {
      usage_ = m.usage();
      has_usage_ = true;
    }
    if (m.index() < 0 || static_cast<size_t>(m.index()) >= choices_.size()) return "";
    Choice& c = choices_[static_cast<size_t>(m.index())];
    if (m.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) c.finish = m.finish_reason();
    if (!o_.stream) {
      if (c.text.empty() && !c.started) c.text = o_.echo_prefix;
      c.started = true;
      c.text += m.text();
      c.reasoning += m.reasoning_text();
      for (const auto& t : m.tool_calls()) c.tool_calls.push_back(t);
      for (const auto& l : m.logprobs()) c.logprobs.push_back(l);
      return "";
    }
    std::string out;
    if (!c.started) {
      c.started = true;
      if (o_.chat) {
        out += Event(
            Chunk(m.index(), Json{{"role", "assistant"}, {"content", ""}}, nullptr, Json(nullptr)));
      } else if (!o_.echo_prefix.empty()) {
        out += Event(Chunk(m.index(), Json(o_.echo_prefix), nullptr, Json(nullptr)));
      }
    }
    const bool has_content =
        !m.text().empty() || !m.reasoning_text().empty() || !m.tool_calls().empty();
    if (has_content) {
      Json logprobs = m.logprobs().empty() ? Json(nullptr) : Logprobs(c, m.logprobs());
      if (o_.chat) {
        Json delta = Json::object();
        if (!m.text().empty()) delta["content"] = m.text();
        if (!m.reasoning_text().empty()) delta["reasoning_content"] = m.reasoning_text();
        if (!m.tool_calls().empty()) {
          Json calls = Json::array();
          for (const auto& t : m.tool_calls()) {
            Json call = ToolCall(t);
            call["index"] = static_cast<int>(c.tool_calls.size());
            c.tool_calls.push_back(t);
            calls.push_back(std::move(call));
          }
          delta["tool_calls"] = std::move(calls);
        }
        out += Event(Chunk(m.index(), std::move(delta), nullptr, std::move(logprobs)));
      } else {
        out += Event(Chunk(m.index(), Json(m.text()), nullptr, std::move(logprobs)));
      }
    }
    if (m.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) {
      out += Event(Chunk(m.index(), o_.chat ? Json::object() : Json(""),
                         FinishReasonName(m.finish_reason()), Json(nullptr)));
    }
    return out;
  }

  std::string Finish() override {
    if (o_.stream) {
      std::string out;
      if (o_.include_usage) {
        Json chunk = Head();
        chunk["choices"] = Json::array();
        chunk["usage"] = Usage();
        out += Event(chunk);
      }
      return out + "data: [DONE]\n\n";
    }
    Json body = Head();
    Json choices = Json::array();
    for (size_t i = 0; i < choices_.size(); ++i) {
      Choice& c = choices_[i];
      if (!c.started) c.text = o_.echo_prefix;
      Json choice = {{"index", static_cast<int>(i)}};
      Json logprobs = Json(nullptr);
      if (!c.logprobs.empty()) {
        Choice scratch;
        scratch.text_offset = o_.echo_prefix.size();
        logprobs = Logprobs(scratch, c.logprobs);
      }
      if (o_.chat) {
        Json message = {{"role", "assistant"}};
        message["content"] = c.text.empty() && !c.tool_calls.empty() ? Json(nullptr) : Json(c.text);
        if (!c.reasoning.empty()) message["reasoning_content"] = c.reasoning;
        if (!c.tool_calls.empty()) {
          Json calls = Json::array();
          for (const auto& t : c.tool_calls) calls.push_back(ToolCall(t));
          message["tool_calls"] = std::move(calls);
        }
        choice["message"] = std::move(message);
      } else {
        choice["text"] = c.text;
      }
      choice["logprobs"] = std::move(logprobs);
      choice["finish_reason"] = FinishReasonName(c.finish);
      choices.push_back(std::move(choice));
    }
    body["choices"] = std::move(choices);
    body["usage"] = Usage();
    return DumpJson(body);
  }

  std::string StreamError(const absl::Status& status) override {
    return Event(OpenAiError(status));
  }

 private:
  Json Head() const {
    return Json{{"id", o_.id},
                {"object", o_.chat ? (o_.stream ? "chat.completion.chunk" : "chat.completion")
                                   : "text_completion"},
                {"created", o_.created},
                {"model", o_.model}};
  }

  // One streamed choice chunk; `delta` is the chat delta or the completion text.
  Json Chunk(int index, Json delta, const char* finish, Json logprobs) const {
    Json choice = {{"index", index}};
    if (o_.chat) {
      choice["delta"] = std::move(delta);
    } else {
      choice["text"] = std::move(delta);
    }
    choice["logprobs"] = std::move(logprobs);
    choice["finish_reason"] = finish == nullptr ? Json(nullptr) : Json(finish);
    Json chunk = Head();
    chunk["choices"] = Json::array({std::move(choice)});
    return chunk;
  }

  static std::string Event(const Json& data) { return "data: " + DumpJson(data) + "\n\n"; }

  static Json ToolCall(const v1::ToolCall& t) {
    return Json{{"id", t.id()},
                {"type", "function"},
                {"function", {{"name", t.name()}, {"arguments", t.arguments_json()}}}};
  }

  // Chat: {"content": [{token, logprob, bytes, top_logprobs}]}; completions: the legacy
  // {tokens, token_logprobs, top_logprobs, text_offset}.
  Json Logprobs(Choice& c, const google::protobuf::RepeatedPtrField<v1::TokenLogprob>& lps) const {
    return Logprobs(c, std::vector<v1::TokenLogprob>(lps.begin(), lps.end()));
  }
  Json Logprobs(Choice& c, const std::vector<v1::TokenLogprob>& lps) const {
    if (o_.chat) {
      Json content = Json::array();
      for (const auto& l : lps) {
        Json top = Json::array();
        for (const auto& t : l.top()) {
          top.push_back({{"token", t.token()},
                         {"logprob", FloatJson(t.logprob())},
                         {"bytes", TokenBytes(t.token())}});
        }
        content.push_back({{"token", l.token()},
                           {"logprob", FloatJson(l.logprob())},
                           {"bytes", TokenBytes(l.token())},
                           {"top_logprobs", std::move(top)}});
      }
      return Json{{"content", std::move(content)}};
    }
    Json tokens = Json::array(), token_logprobs = Json::array(), top = Json::array(),
         offsets = Json::array();
    for (const auto& l : lps) {
      tokens.push_back(l.token());
      token_logprobs.push_back(FloatJson(l.logprob()));
      Json alternatives = Json::object();
      for (const auto& t : l.top()) alternatives[t.token()] = FloatJson(t.logprob());
      top.push_back(std::move(alternatives));
      offsets.push_back(c.text_offset);
      c.text_offset += l.token().size();
    }
    return Json{{"tokens", std::move(tokens)},
                {"token_logprobs", std::move(token_logprobs)},
                {"top_logprobs", std::move(top)},
                {"text_offset", std::move(offsets)}};
  }

  Json Usage() const {
    return Json{{"prompt_tokens", usage_.prompt_tokens()},
                {"completion_tokens", usage_.completion_tokens()},
                {"total_tokens", usage_.prompt_tokens() + usage_.completion_tokens()}};
  }

  const OpenAiFormatterOptions o_;
  std::vector<Choice> choices_;
  v1::Usage usage_;
  bool has_usage_ = false;
};

std::string ErrorType(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnauthenticated:
      return "authentication_error";
    case absl::StatusCode::kPermissionDenied:
      return "permission_error";
    case absl::StatusCode::kResourceExhausted:
      return "rate_limit_error";
    default:
      return HttpStatusFor(code) >= 500 ? "server_error" : "invalid_request_error";
  }
}

}  // namespace

absl::StatusOr<OpenAiGenerateCall> ParseOpenAiCompletion(const Json& body) {
  OpenAiGenerateCall call;
  JsonFields f(body, "");
  ParseSampling(f, &call);
  v1::GenerateRequest& r = call.request;
  const Json* prompt = f.Get("prompt");
  if (prompt == nullptr && f.ok()) f.Fail("prompt", "required");
  if (!f.ok()) return f.status();
  if (prompt->is_string()) {
    r.set_prompt(prompt->get<std::string>());
  } else if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) {
    r.set_prompt((*prompt)[0].get<std::string>());
  } else if (prompt->is_array() && !prompt->empty() && (*prompt)[0].is_string()) {
    return absl::InvalidArgumentError("prompt: one prompt per request (send a string)");
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("prompt: expected a string (token-id prompts are not supported), got ",
                     JsonTypeName(*prompt)));
  }
  const auto max_tokens = f.Int("max_tokens", 1, kInt32Max);
  r.mutable_stop()->set_max_tokens(
      static_cast<int32_t>(max_tokens.value_or(kCompletionsDefaultMaxTokens)));
  if (auto lp = f.Int("logprobs", 0, 20)) {
    r.mutable_logprobs()->set_logprobs(true);
    r.mutable_logprobs()->set_top_logprobs(static_cast<int32_t>(*lp));
  }
  call.echo = f.Bool("echo").value_or(false);
  if (!f.String("suffix").value_or("").empty()) f.Fail("suffix", "not supported");
  if (auto best_of = f.Int("best_of", 1, 16);
      best_of.has_value() && *best_of != r.n() && !(*best_of == 1 && !r.has_n())) {
    f.Fail("best_of", "not supported (only equal to n)");
  }
  if (!f.ok()) return f.status();
  return call;
}

absl::StatusOr<OpenAiGenerateCall> ParseOpenAiChat(const Json& body) {
  OpenAiGenerateCall call;
  JsonFields f(body, "");
  ParseSampling(f, &call);
  v1::GenerateRequest& r = call.request;
  v1::Chat* chat = r.mutable_chat();
  const Json* messages = f.Array("messages");
  if ((messages == nullptr || messages->empty()) && f.ok()) {
    f.Fail("messages", "required: at least one message");
  }
  if (!f.ok()) return f.status();
  for (size_t i = 0; i < messages->size(); ++i) {
    absl::Status st =
        ParseChatMessage((*messages)[i], absl::StrCat("messages[", i, "]"), chat->add_messages());
    if (!st.ok()) return st;
  }
  absl::Status st = ParseChatTools(f, chat);
  if (!st.ok()) return st;
  st = ParseResponseFormat(f, &r);
  if (!st.ok()) return st;
  auto max_tokens = f.Int("max_completion_tokens", 1, kInt32Max);
  if (!max_tokens.has_value()) max_tokens = f.Int("max_tokens", 1, kInt32Max);
  if (max_tokens.has_value()) r.mutable_stop()->set_max_tokens(static_cast<int32_t>(*max_tokens));
  if (f.Bool("logprobs").value_or(false)) {
    r.mutable_logprobs()->set_logprobs(true);
    if (auto top = f.Int("top_logprobs", 0, 20)) {
      r.mutable_logprobs()->set_top_logprobs(static_cast<int32_t>(*top));
    }
  }
  if (const Json* kwargs = f.Object("chat_template_kwargs")) {
    chat->set_template_kwargs_json(DumpJson(*kwargs));
  }
  if (!f.ok()) return f.status();
  return call;
}

std::unique_ptr<GenerateFormatter> NewOpenAiFormatter(OpenAiFormatterOptions options) {
  return std::make_unique<OpenAiFormatter>(std::move(options));
}

absl::StatusOr<OpenAiEmbedCall> ParseOpenAiEmbeddings(const Json& body) {
  OpenAiEmbedCall call;
  v1::EmbedRequest& r = call.request;
  JsonFields f(body, "");
  if (auto model = f.String("model")) r.set_model(*model);
  if (r.model().empty() && f.ok()) f.Fail("model", "required");
  const Json* input = f.Get("input");
  if (input == nullptr && f.ok()) f.Fail("input", "required");
  if (!f.ok()) return f.status();
  if (input->is_array() && !input->empty() && !(*input)[0].is_string()) {
    return absl::InvalidArgumentError(
        "input: token-id inputs are not supported (send a string or an array of strings)");
  }
  if (auto inputs = f.StringOrStrings("input")) {
    for (std::string& s : *inputs) r.add_inputs(std::move(s));
  }
  if (r.inputs().empty() && f.ok()) f.Fail("input", "at least one text");
  const std::string format = f.String("encoding_format").value_or("float");
  if (format == "base64") {
    call.base64 = true;
  } else if (format != "float" && f.ok()) {
    f.Fail("encoding_format",
           absl::StrCat("expected \"float\" or \"base64\", got \"", format, "\""));
  }
  if (auto d = f.Int("dimensions", 1, kInt32Max)) r.set_dimensions(static_cast<int32_t>(*d));
  r.set_normalize(true);
  if (!f.ok()) return f.status();
  return call;
}

Json OpenAiEmbeddingsResponse(const std::string& model, const v1::EmbedResponse& response,
                              bool base64) {
  Json data = Json::array();
  for (int i = 0; i < response.embeddings_size(); ++i) {
    const auto& values = response.embeddings(i).values();
    Json embedding;
    if (base64) {
      std::string bytes(static_cast<size_t>(values.size()) * 4, '\0');
      for (int k = 0; k < values.size(); ++k) {
        uint32_t bits;
        const float v = values[k];
        std::memcpy(&bits, &v, 4);
        absl::little_endian::Store32(bytes.data() + 4 * k, bits);
      }
      embedding = absl::Base64Escape(bytes);
    } else {
      embedding = Json::array();
      for (float v : values) embedding.push_back(FloatJson(v));
    }
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", std::move(embedding)}});
  }
  const int tokens = response.usage().prompt_tokens();
  return Json{{"object", "list"},
              {"data", std::move(data)},
              {"model", model},
              {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}};
}

Json OpenAiModel(const v1::ModelInfo& info) {
  return Json{{"id", info.name()}, {"object", "model"}, {"created", 0}, {"owned_by", "jetserve"}};
}

Json OpenAiModels(const v1::ListModelsResponse& models) {
  Json data = Json::array();
  for (const auto& m : models.models()) data.push_back(OpenAiModel(m));
  return Json{{"object", "list"}, {"data", std::move(data)}};
}

Json OpenAiError(const absl::Status& status) {
  std::string code = absl::AsciiStrToLower(absl::StatusCodeToString(status.code()));
  for (char& ch : code) {
    if (ch == ' ') ch = '_';
  }
  if (status.code() == absl::StatusCode::kNotFound &&
      absl::StrContains(status.message(), "model")) {
    code = "model_not_found";
  }
  return Json{{"error",
               {{"message", std::string(status.message())},
                {"type", ErrorType(status.code())},
                {"param", nullptr},
                {"code", code}}}};
}

}  // namespace jetserve::gateway::http
