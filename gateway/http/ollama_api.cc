#include "gateway/http/ollama_api.h"

#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace jetserve::gateway::http {
namespace {

namespace v1 = ::jetserve::v1;

// Ollama's api.DefaultOptions() values for the samplers jetserve has.
constexpr float kDefaultTemperature = 0.8f;
constexpr int kDefaultTopK = 40;
constexpr float kDefaultTopP = 0.9f;
constexpr float kDefaultRepeatPenalty = 1.1f;
constexpr int kDefaultRepeatLastN = 64;

absl::Status ApplyOptions(const Json* options, v1::GenerateRequest* r) {
  v1::SamplingParams* s = r->mutable_sampling();
  s->set_temperature(kDefaultTemperature);
  s->set_top_k(kDefaultTopK);
  s->set_top_p(kDefaultTopP);
  s->set_repetition_penalty(kDefaultRepeatPenalty);
  s->set_penalty_last_n(kDefaultRepeatLastN);
  if (options == nullptr) return absl::OkStatus();
  JsonFields o(*options, "options.");
  constexpr double kBig = 1e9;
  if (auto v = o.Number("temperature", 0, 100)) s->set_temperature(static_cast<float>(*v));
  // Ollama: top_k <= 0 disables it.
  if (auto v = o.Int("top_k", std::numeric_limits<int32_t>::min(), kBig)) {
    s->set_top_k(*v > 0 ? static_cast<int32_t>(*v) : 0);
  }
  if (auto v = o.Number("top_p", 0, 1)) {
    if (*v > 0) {
      s->set_top_p(static_cast<float>(*v));
    } else {
      s->set_top_k(1);  // llama.cpp keeps one token at top_p 0
    }
  }
  if (auto v = o.Number("min_p", 0, 1)) s->set_min_p(static_cast<float>(*v));
  if (auto v = o.Number("typical_p", 0, 1)) {
    if (*v > 0) s->set_typical_p(static_cast<float>(*v));
  }
  if (auto v = o.Number("repeat_penalty", 0, 10)) {
    // Ollama treats 0 like 1 (off).
    s->set_repetition_penalty(*v > 0 ? static_cast<float>(*v) : 1.0f);
  }
  if (auto v = o.Int("repeat_last_n", -1, kBig)) s->set_penalty_last_n(static_cast<int32_t>(*v));
  if (auto v = o.Number("presence_penalty", -2, 2)) s->set_presence_penalty(static_cast<float>(*v));
  if (auto v = o.Number("frequency_penalty", -2, 2)) {
    s->set_frequency_penalty(static_cast<float>(*v));
  }
  // seed < 0: random (Ollama's -1).
  if (auto v =
          o.Int("seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max())) {
    if (*v >= 0) s->set_seed(static_cast<uint64_t>(*v));
  }
  // num_predict -1 (infinite) and -2 (fill the context) both run to the context's end.
  if (auto v = o.Int("num_predict", std::numeric_limits<int32_t>::min(),
                     std::numeric_limits<int32_t>::max())) {
    if (*v > 0) r->mutable_stop()->set_max_tokens(static_cast<int32_t>(*v));
  }
  if (auto v = o.StringOrStrings("stop")) {
    for (std::string& stop : *v) r->mutable_stop()->add_stop(std::move(stop));
  }
  if (auto v = o.Int("mirostat", 0, 2); v.has_value() && *v != 0) {
    o.Fail("options.mirostat", "not supported (only 0)");
  }
  return o.status();
}

// Fields both /api/generate and /api/chat have.
absl::Status ParseCommon(JsonFields& f, OllamaGenerateCall* call) {
  v1::GenerateRequest& r = call->request;
  if (auto model = f.String("model")) r.set_model(*model);
  if (r.model().empty() && f.ok()) f.Fail("model", "required");
  if (auto stream = f.Bool("stream")) call->stream = *stream;
  if (const Json* format = f.Get("format"); format != nullptr && f.ok()) {
    if (format->is_string()) {
      const std::string s = format->get<std::string>();
      if (s == "json") {
        r.mutable_response_format()->set_json_object(true);
      } else if (!s.empty()) {
        f.Fail("format",
               absl::StrCat("expected \"json\" or a JSON Schema object, got \"", s, "\""));
      }
    } else if (format->is_object()) {
      SetJsonSchema(*format, r.mutable_response_format());
    } else {
      f.Fail("format", absl::StrCat("expected \"json\" or a JSON Schema object, got ",
                                    JsonTypeName(*format)));
    }
  }
  const Json* options = f.Object("options");
  if (!f.ok()) return f.status();
  absl::Status st = ApplyOptions(options, &r);
  if (!st.ok()) return st;
  // keep_alive: workers keep their model loaded; accepted and ignored.
  if (const Json* images = f.Get("images");
      images != nullptr && !(images->is_array() && images->empty())) {
    f.Fail("images", "not supported (text models only)");
  }
  return f.status();
}

void SetThink(JsonFields& f, v1::Chat* chat) {
  const Json* think = f.Get("think");
  if (think == nullptr) return;
  if (!think->is_boolean()) {
    f.Fail("think", absl::StrCat("expected true or false, got ", JsonTypeName(*think)));
    return;
  }
  Json kwargs = {{"enable_thinking", think->get<bool>()}};
  chat->set_template_kwargs_json(DumpJson(kwargs));
}

absl::Status ParseMessage(const Json& m, const std::string& name, v1::ChatMessage* out) {
  if (!m.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": expected an object, got ", JsonTypeName(m)));
  }
  JsonFields f(m, name + ".");
  if (auto role = f.String("role")) out->set_role(*role);
  if (out->role().empty() && f.ok()) f.Fail(name + ".role", "required");
  if (auto content = f.String("content")) out->set_content(*content);
  if (auto thinking = f.String("thinking")) out->set_reasoning_content(*thinking);
  if (auto tool_name = f.String("tool_name")) out->set_name(*tool_name);
  if (const Json* images = f.Get("images");
      images != nullptr && !(images->is_array() && images->empty())) {
    f.Fail(name + ".images", "not supported (text models only)");
  }
  if (const Json* calls = f.Array("tool_calls")) {
    for (size_t i = 0; i < calls->size() && f.ok(); ++i) {
      const std::string cname = absl::StrCat(name, ".tool_calls[", i, "]");
      const Json& c = (*calls)[i];
      const Json* fn = c.is_object() && c.contains("function") ? &c["function"] : nullptr;
      if (fn == nullptr || !fn->is_object()) {
        f.Fail(cname + ".function", "required object");
        break;
      }
      JsonFields ff(*fn, cname + ".function.");
      v1::ToolCall* call = out->add_tool_calls();
      if (auto n = ff.String("name")) call->set_name(*n);
      if (const Json* args = ff.Get("arguments")) {
        call->set_arguments_json(args->is_string() ? args->get<std::string>() : DumpJson(*args));
      }
      call->set_id(absl::StrCat("call_", i));
      if (!ff.ok()) return ff.status();
    }
  }
  return f.status();
}

absl::Status ParseTools(JsonFields& f, v1::Chat* chat) {
  const Json* tools = f.Array("tools");
  if (tools == nullptr) return f.status();
  for (size_t i = 0; i < tools->size(); ++i) {
    const std::string name = absl::StrCat("tools[", i, "]");
    const Json& t = (*tools)[i];
    const Json* fn = t.is_object() && t.contains("function") ? &t["function"] : nullptr;
    if (fn == nullptr || !fn->is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(name, ".function: required object"));
    }
    JsonFields ff(*fn, name + ".function.");
    v1::Tool* tool = chat->add_tools();
    if (auto n = ff.String("name")) tool->set_name(*n);
    if (auto d = ff.String("description")) tool->set_description(*d);
    if (const Json* p = ff.Get("parameters")) tool->set_parameters_json(DumpJson(*p));
    if (!ff.ok()) return ff.status();
  }
  return absl::OkStatus();
}

const char* DoneReason(v1::FinishReason r) {
  return r == v1::FINISH_REASON_LENGTH ? "length" : "stop";
}

class OllamaFormatter final : public GenerateFormatter {
 public:
  OllamaFormatter(bool chat, bool stream, std::string model)
      : chat_(chat), stream_(stream), model_(std::move(model)) {}

  const char* content_type() const override {
    return stream_ ? "application/x-ndjson" : "application/json";
  }

  std::string OnMessage(const v1::GenerateResponse& m) override {
    if (m.index() != 0) return "";  // Ollama has one choice
    if (m.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) finish_ = m.finish_reason();
    if (m.has_usage()) usage_ = m.usage();
    if (!stream_) {
      text_ += m.text();
      thinking_ += m.reasoning_text();
      for (const auto& c : m.tool_calls()) *tool_calls_.Add() = c;
      return "";
    }
    if (m.text().empty() && m.reasoning_text().empty() && m.tool_calls().empty()) return "";
    Json line = Base();
    if (chat_) {
      line["message"] = Message(m.text(), m.reasoning_text(), m.tool_calls());
    } else {
      line["response"] = m.text();
      if (!m.reasoning_text().empty()) line["thinking"] = m.reasoning_text();
    }
    line["done"] = false;
    return DumpJson(line) + "\n";
  }

  std::string Finish() override {
    Json out = Base();
    if (chat_) {
      out["message"] = stream_ ? Message("", "", {}) : Message(text_, thinking_, tool_calls_);
    } else {
      out["response"] = stream_ ? "" : text_;
      if (!stream_ && !thinking_.empty()) out["thinking"] = thinking_;
    }
    out["done"] = true;
    out["done_reason"] = DoneReason(finish_);
    // Ollama reports nanoseconds; the worker reports milliseconds from receipt.
    auto ns = [](double ms) { return static_cast<int64_t>(ms * 1e6); };
    const double prefill_ms = usage_.time_to_first_token_ms() - usage_.queue_time_ms();
    out["total_duration"] = ns(usage_.total_time_ms());
    out["load_duration"] = ns(usage_.queue_time_ms());
    out["prompt_eval_count"] = usage_.prompt_tokens();
    out["prompt_eval_duration"] = ns(prefill_ms > 0 ? prefill_ms : 0);
    out["eval_count"] = usage_.completion_tokens();
    const double decode_ms = usage_.total_time_ms() - usage_.time_to_first_token_ms();
    out["eval_duration"] = ns(decode_ms > 0 ? decode_ms : 0);
    return DumpJson(out) + (stream_ ? "\n" : "");
  }

  std::string StreamError(const absl::Status& status) override {
    return DumpJson(OllamaError(status)) + "\n";
  }

 private:
  Json Base() const { return Json{{"model", model_}, {"created_at", Rfc3339(absl::Now())}}; }

  static Json Message(const std::string& text, const std::string& thinking,
                      const google::protobuf::RepeatedPtrField<v1::ToolCall>& calls) {
    Json m = {{"role", "assistant"}, {"content", text}};
    if (!thinking.empty()) m["thinking"] = thinking;
    if (!calls.empty()) {
      Json list = Json::array();
      for (const auto& c : calls) {
        list.push_back(
            {{"function",
              {{"name", c.name()}, {"arguments", ToolArgumentsJson(c.arguments_json())}}}});
      }
      m["tool_calls"] = std::move(list);
    }
    return m;
  }

  const bool chat_;
  const bool stream_;
  const std::string model_;
  v1::FinishReason finish_ = v1::FINISH_REASON_UNSPECIFIED;
  v1::Usage usage_;
  std::string text_;
  std::string thinking_;
  google::protobuf::RepeatedPtrField<v1::ToolCall> tool_calls_;
};

std::string ParameterSize(int64_t n) {
  if (n >= 1000000000) return absl::StrFormat("%.1fB", static_cast<double>(n) / 1e9);
  if (n >= 1000000) return absl::StrFormat("%.2fM", static_cast<double>(n) / 1e6);
  return absl::StrCat(n);
}

bool HasTask(const v1::ModelInfo& info, v1::ModelTask task) {
  for (int t : info.tasks()) {
    if (t == task) return true;
  }
  return false;
}

// Ollama's model list entry (tags and ps share it).
Json ModelEntry(const v1::ModelInfo& info) {
  return Json{
      {"name", info.name()}, {"model", info.name()}, {"modified_at", Rfc3339(absl::UnixEpoch())},
      {"size", 0},           {"digest", ""},         {"details", OllamaModelDetails(info)}};
}

}  // namespace

absl::StatusOr<OllamaGenerateCall> ParseOllamaGenerate(const Json& body) {
  OllamaGenerateCall call;
  JsonFields f(body, "");
  absl::Status st = ParseCommon(f, &call);
  if (!st.ok()) return st;
  const std::string prompt = f.String("prompt").value_or("");
  const std::string system = f.String("system").value_or("");
  const bool raw = f.Bool("raw").value_or(false);
  if (!f.String("suffix").value_or("").empty()) f.Fail("suffix", "not supported");
  if (!f.String("template").value_or("").empty()) {
    f.Fail("template", "not supported (the model's own chat template is used)");
  }
  if (const Json* context = f.Get("context");
      context != nullptr && !(context->is_array() && context->empty())) {
    f.Fail("context", "not supported (send the conversation to /api/chat)");
  }
  v1::Chat chat;
  SetThink(f, &chat);
  if (!f.ok()) return f.status();
  if (prompt.empty() && system.empty()) {
    call.load_only = true;
    return call;
  }
  if (raw) {
    call.request.set_prompt(prompt);
    return call;
  }
  if (!system.empty()) {
    v1::ChatMessage* m = chat.add_messages();
    m->set_role("system");
    m->set_content(system);
  }
  v1::ChatMessage* m = chat.add_messages();
  m->set_role("user");
  m->set_content(prompt);
  *call.request.mutable_chat() = std::move(chat);
  return call;
}

absl::StatusOr<OllamaGenerateCall> ParseOllamaChat(const Json& body) {
  OllamaGenerateCall call;
  JsonFields f(body, "");
  absl::Status st = ParseCommon(f, &call);
  if (!st.ok()) return st;
  v1::Chat* chat = call.request.mutable_chat();
  SetThink(f, chat);
  const Json* messages = f.Array("messages");
  if (!f.ok()) return f.status();
  if (messages == nullptr || messages->empty()) {
    call.load_only = true;  // Ollama loads the model on an empty conversation
    return call;
  }
  for (size_t i = 0; i < messages->size(); ++i) {
    st = ParseMessage((*messages)[i], absl::StrCat("messages[", i, "]"), chat->add_messages());
    if (!st.ok()) return st;
  }
  st = ParseTools(f, chat);
  if (!st.ok()) return st;
  return call;
}

std::unique_ptr<GenerateFormatter> NewOllamaFormatter(bool chat, bool stream, std::string model) {
  return std::make_unique<OllamaFormatter>(chat, stream, std::move(model));
}

Json OllamaLoadResponse(const std::string& model, bool chat, absl::Time now) {
  Json out = {{"model", model}, {"created_at", Rfc3339(now)}};
  if (chat) {
    out["message"] = {{"role", "assistant"}, {"content", ""}};
  } else {
    out["response"] = "";
  }
  out["done"] = true;
  out["done_reason"] = "load";
  return out;
}

absl::StatusOr<v1::EmbedRequest> ParseOllamaEmbed(const Json& body, bool legacy) {
  v1::EmbedRequest r;
  JsonFields f(body, "");
  if (auto model = f.String("model")) r.set_model(*model);
  if (r.model().empty() && f.ok()) f.Fail("model", "required");
  if (legacy) {
    if (auto prompt = f.String("prompt")) r.add_inputs(*prompt);
    r.set_normalize(false);
  } else {
    if (auto input = f.StringOrStrings("input")) {
      for (std::string& s : *input) r.add_inputs(std::move(s));
    }
    if (r.inputs().empty() && f.ok()) f.Fail("input", "required: a string or an array of strings");
    r.set_normalize(true);
    if (auto truncate = f.Bool("truncate")) {
      r.set_truncation(*truncate ? v1::TRUNCATION_END : v1::TRUNCATION_NONE);
    }
    if (auto d = f.Int("dimensions", 1, std::numeric_limits<int32_t>::max())) {
      r.set_dimensions(static_cast<int32_t>(*d));
    }
  }
  f.Object("options");  // accepted (runner options); checked to be an object
  if (!f.ok()) return f.status();
  return r;
}

Json OllamaEmbedResponse(const std::string& model, const v1::EmbedResponse& response, bool legacy) {
  auto vector = [](const v1::Embedding& e) {
    Json v = Json::array();
    for (float x : e.values()) v.push_back(FloatJson(x));
    return v;
  };
  if (legacy) {
    return Json{{"embedding",
                 response.embeddings().empty() ? Json::array() : vector(response.embeddings(0))}};
  }
  Json list = Json::array();
  for (const auto& e : response.embeddings()) list.push_back(vector(e));
  return Json{{"model", model},
              {"embeddings", std::move(list)},
              {"total_duration", static_cast<int64_t>(response.usage().total_time_ms() * 1e6)},
              {"load_duration", 0},
              {"prompt_eval_count", response.usage().prompt_tokens()}};
}

absl::StatusOr<std::string> ParseOllamaShow(const Json& body) {
  JsonFields f(body, "");
  std::string model = f.String("model").value_or("");
  if (model.empty()) model = f.String("name").value_or("");
  if (!f.ok()) return f.status();
  if (model.empty()) return absl::InvalidArgumentError("model: required");
  return model;
}

Json OllamaModelDetails(const v1::ModelInfo& info) {
  return Json{{"parent_model", ""},
              {"format", info.format()},
              {"family", info.architecture()},
              {"families", Json::array({info.architecture()})},
              {"parameter_size", ParameterSize(info.parameter_count())},
              {"quantization_level", info.quantization()}};
}

Json OllamaTags(const v1::ListModelsResponse& models) {
  Json list = Json::array();
  for (const auto& m : models.models()) list.push_back(ModelEntry(m));
  return Json{{"models", std::move(list)}};
}

Json OllamaPs(const v1::ListModelsResponse& models) {
  Json list = Json::array();
  for (const auto& m : models.models()) {
    if (m.ready_replicas() == 0) continue;
    Json e = ModelEntry(m);
    // Workers keep their model until they stop: "never" as 9999-12-31.
    e["expires_at"] = Rfc3339(absl::FromUnixSeconds(253402300799));
    e["size_vram"] = 0;
    list.push_back(std::move(e));
  }
  return Json{{"models", std::move(list)}};
}

Json OllamaShow(const v1::ModelInfo& info) {
  Json capabilities = Json::array();
  if (HasTask(info, v1::MODEL_TASK_GENERATE)) {
    capabilities.push_back("completion");
    if (info.has_chat_template()) capabilities.push_back("tools");
  }
  if (HasTask(info, v1::MODEL_TASK_EMBED)) capabilities.push_back("embedding");
  const std::string arch = info.architecture();
  Json model_info = {{"general.architecture", arch},
                     {"general.parameter_count", info.parameter_count()}};
  if (info.context_length() > 0) model_info[arch + ".context_length"] = info.context_length();
  if (info.embedding_dimensions() > 0) {
    model_info[arch + ".embedding_length"] = info.embedding_dimensions();
  }
  return Json{{"license", ""},
              {"modelfile", ""},
              {"parameters", ""},
              {"template", ""},
              {"details", OllamaModelDetails(info)},
              {"model_info", std::move(model_info)},
              {"capabilities", std::move(capabilities)},
              {"modified_at", Rfc3339(absl::UnixEpoch())}};
}

Json OllamaError(const absl::Status& status) {
  return Json{{"error", std::string(status.message())}};
}

}  // namespace jetserve::gateway::http
