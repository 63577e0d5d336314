#include "engine/chat/output_parser.h"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace jetserve::chat {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kMistralOpen = "[TOOL_CALLS]";
constexpr std::string_view kMistralArgs = "[ARGS]";
constexpr std::string_view kPythonTag = "<|python_tag|>";

bool IsWs(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Length of the longest suffix of `s` that is a proper prefix of `marker`.
size_t PartialSuffix(std::string_view s, std::string_view marker) {
  for (size_t n = std::min(s.size(), marker.size() - 1); n > 0; --n) {
    if (s.substr(s.size() - n) == marker.substr(0, n)) return n;
  }
  return 0;
}

// End (one past) of the JSON object or array starting at the first non-space byte of s
// from `from`, or npos while it is incomplete.
size_t JsonEnd(std::string_view s, size_t from) {
  size_t i = from;
  while (i < s.size() && IsWs(s[i])) ++i;
  if (i >= s.size() || (s[i] != '{' && s[i] != '[')) return std::string_view::npos;
  int depth = 0;
  bool in_str = false, esc = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (in_str) {
      if (esc) {
        esc = false;
      } else if (c == '\\') {
        esc = true;
      } else if (c == '"') {
        in_str = false;
      }
      continue;
    }
    if (c == '"') {
      in_str = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

}  // namespace

OutputFormat DetectOutputFormat(std::string_view src) {
  OutputFormat f;
  f.reasoning = src.find(kThinkClose) != std::string_view::npos;
  if (src.find(kHermesOpen) != std::string_view::npos) {
    f.tool_calls = ToolCallFormat::kHermes;
  } else if (src.find(kMistralOpen) != std::string_view::npos) {
    f.tool_calls = ToolCallFormat::kMistral;
    f.mistral_args = src.find(kMistralArgs) != std::string_view::npos;
  } else if (src.find(kPythonTag) != std::string_view::npos ||
             (src.find("<|start_header_id|>") != std::string_view::npos &&
              src.find("tool") != std::string_view::npos)) {
    f.tool_calls = ToolCallFormat::kLlama3;
  }
  return f;
}

bool NeedsSpecialTokens(const OutputFormat& f) {
  return f.tool_calls == ToolCallFormat::kMistral || f.tool_calls == ToolCallFormat::kLlama3;
}

OutputParser::OutputParser(const OutputFormat& format, std::string_view prompt,
                           std::string id_prefix, bool parse_tool_calls)
    : format_(format), parse_tools_(parse_tool_calls), id_prefix_(std::move(id_prefix)) {
  if (!parse_tools_) format_.tool_calls = ToolCallFormat::kNone;
  if (format_.reasoning) {
    size_t e = prompt.size();
    while (e > 0 && IsWs(prompt[e - 1])) --e;
    const std::string_view p = prompt.substr(0, e);
    if (p.size() >= kThinkOpen.size() && p.substr(p.size() - kThinkOpen.size()) == kThinkOpen) {
      mode_ = Mode::kReasoning;
    }
  }
}

std::string OutputParser::NextId() {
  char b[32];
  std::snprintf(b, sizeof(b), "%06d", next_id_++);
  return id_prefix_ + b;
}

OutputParser::Delta OutputParser::Push(std::string_view text) {
  buf_.append(text);
  Delta d;
  Run(false, &d);
  return d;
}

OutputParser::Delta OutputParser::Finish() {
  Delta d;
  Run(true, &d);
  return d;
}

bool OutputParser::ParseCallJson(const std::string& json, Delta* out, bool) {
  Json j = Json::parse(json, nullptr, false);
  if (j.is_discarded()) return false;
  std::vector<Json> calls;
  if (j.is_array()) {
    for (const Json& e : j) calls.push_back(e);
  } else {
    calls.push_back(j);
  }
  std::vector<ChatToolCall> parsed;
  for (const Json& c : calls) {
    if (!c.is_object() || !c.contains("name") || !c["name"].is_string()) return false;
    const Json* args = nullptr;
    if (c.contains("arguments")) {
      args = &c["arguments"];
    } else if (c.contains("parameters")) {
      args = &c["parameters"];
    }
    ChatToolCall call;
    call.name = c["name"].get<std::string>();
    call.arguments_json = args == nullptr     ? "{}"
                          : args->is_string() ? args->get<std::string>()
                                              : args->dump();
    call.id = c.contains("id") && c["id"].is_string() ? c["id"].get<std::string>() : NextId();
    parsed.push_back(std::move(call));
  }
  if (parsed.empty()) return false;
  for (ChatToolCall& c : parsed) out->tool_calls.push_back(std::move(c));
  return true;
}

void OutputParser::Run(bool final, Delta* out) {
  auto emit_text = [&](std::string_view s) {
    if (strip_leading_ws_) {
      size_t k = 0;
      while (k < s.size() && IsWs(s[k])) ++k;
      s.remove_prefix(k);
      if (!s.empty()) strip_leading_ws_ = false;
    }
    out->text.append(s);
  };
  while (true) {
    switch (mode_) {
      case Mode::kStart: {
        if (format_.tool_calls != ToolCallFormat::kLlama3) {
          mode_ = Mode::kContent;
          continue;
        }
        size_t k = 0;
        while (k < buf_.size() && IsWs(buf_[k])) ++k;
        if (k == buf_.size() && !final) return;
        mode_ = k < buf_.size() && buf_[k] == '{' ? Mode::kLlamaJson : Mode::kContent;
        continue;
      }
      case Mode::kContent: {
        std::vector<std::pair<std::string_view, Mode>> markers;
        if (format_.reasoning) markers.push_back({kThinkOpen, Mode::kReasoning});
        if (format_.tool_calls == ToolCallFormat::kHermes) {
          markers.push_back({kHermesOpen, Mode::kHermesCall});
        } else if (format_.tool_calls == ToolCallFormat::kMistral) {
          markers.push_back({kMistralOpen, Mode::kMistralCalls});
        } else if (format_.tool_calls == ToolCallFormat::kLlama3) {
          markers.push_back({kPythonTag, Mode::kPythonTag});
        }
        size_t best = std::string::npos;
        std::pair<std::string_view, Mode> hit{};
        for (const auto& m : markers) {
          const size_t p = buf_.find(m.first);
          if (p < best) {
            best = p;
            hit = m;
          }
        }
        if (best != std::string::npos) {
          emit_text(std::string_view(buf_).substr(0, best));
          buf_.erase(0, best + hit.first.size());
          mode_ = hit.second;
          continue;
        }
        size_t hold = 0;
        if (!final) {
          for (const auto& m : markers) hold = std::max(hold, PartialSuffix(buf_, m.first));
        }
        emit_text(std::string_view(buf_).substr(0, buf_.size() - hold));
        buf_.erase(0, buf_.size() - hold);
        return;
      }
      case Mode::kReasoning: {
        const size_t p = buf_.find(kThinkClose);
        if (p != std::string::npos) {
          out->reasoning.append(buf_, 0, p);
          buf_.erase(0, p + kThinkClose.size());
          mode_ = Mode::kContent;
          strip_leading_ws_ = true;
          continue;
        }
        const size_t hold = final ? 0 : PartialSuffix(buf_, kThinkClose);
        out->reasoning.append(buf_, 0, buf_.size() - hold);
        buf_.erase(0, buf_.size() - hold);
        return;
      }
      case Mode::kHermesCall: {
        const size_t p = buf_.find(kHermesClose);
        if (p == std::string::npos) {
          if (!final) return;
          // Unterminated: a complete JSON call still counts (models often stop at EOS).
          if (!ParseCallJson(buf_, out, false)) emit_text(std::string(kHermesOpen) + buf_);
          buf_.clear();
          mode_ = Mode::kContent;
          return;
        }
        const std::string body = buf_.substr(0, p);
        if (!ParseCallJson(body, out, false)) {
          emit_text(std::string(kHermesOpen) + body + std::string(kHermesClose));
        }
        buf_.erase(0, p + kHermesClose.size());
        mode_ = Mode::kContent;
        strip_leading_ws_ = true;
        continue;
      }
      case Mode::kMistralCalls: {
        size_t k = 0;
        while (k < buf_.size() && IsWs(buf_[k])) ++k;
        if (k < buf_.size() && buf_[k] == '[') {  // [TOOL_CALLS][{...}, ...]
          const size_t end = JsonEnd(buf_, k);
          if (end == std::string::npos) {
            if (!final) return;
            emit_text(std::string(kMistralOpen) + buf_);
            buf_.clear();
            mode_ = Mode::kContent;
            return;
          }
          const std::string body = buf_.substr(k, end - k);
          if (!ParseCallJson(body, out, false)) emit_text(std::string(kMistralOpen) + body);
          buf_.erase(0, end);
          mode_ = Mode::kContent;
          strip_leading_ws_ = true;
          continue;
        }
        // [TOOL_CALLS]name[ARGS]{...}
        const size_t a = buf_.find(kMistralArgs);
        const size_t end =
            a == std::string::npos ? std::string::npos : JsonEnd(buf_, a + kMistralArgs.size());
        if (end == std::string::npos) {
          if (!final) return;
          emit_text(std::string(kMistralOpen) + buf_);
          buf_.clear();
          mode_ = Mode::kContent;
          return;
        }
        std::string name = buf_.substr(k, a - k);
        while (!name.empty() && IsWs(name.back())) name.pop_back();
        const std::string args =
            buf_.substr(a + kMistralArgs.size(), end - a - kMistralArgs.size());
        Json j = Json::parse(args, nullptr, false);
        if (!j.is_discarded() && !name.empty()) {
          out->tool_calls.push_back({NextId(), name, j.dump()});
        } else {
          emit_text(std::string(kMistralOpen) + buf_.substr(0, end));
        }
        buf_.erase(0, end);
        mode_ = Mode::kContent;
        strip_leading_ws_ = true;
        continue;
      }
      case Mode::kLlamaJson: {
        const size_t end = JsonEnd(buf_, 0);
        if (end == std::string::npos) {
          if (!final) return;
          mode_ = Mode::kContent;
          continue;
        }
        const std::string body = buf_.substr(0, end);
        Delta tmp;
        if (ParseCallJson(body, &tmp, true) && tmp.tool_calls.size() == 1 &&
            Json::parse(body, nullptr, false).is_object()) {
          out->tool_calls.push_back(std::move(tmp.tool_calls[0]));
          buf_.erase(0, end);
          strip_leading_ws_ = true;
          // Llama 3 may chain calls with ";".
          size_t k = 0;
          while (k < buf_.size() && (IsWs(buf_[k]) || buf_[k] == ';')) ++k;
          if (k < buf_.size() && buf_[k] == '{') {
            buf_.erase(0, k);
            continue;
          }
        }
        mode_ = Mode::kContent;
        continue;
      }
      case Mode::kPythonTag: {
        if (!final) return;
        std::string body = buf_;
        buf_.clear();
        mode_ = Mode::kContent;
        size_t b = 0, e = body.size();
        while (b < e && IsWs(body[b])) ++b;
        while (e > b && IsWs(body[e - 1])) --e;
        body = body.substr(b, e - b);
        if (!ParseCallJson(body, out, true)) {
          // Llama 3.1 code interpreter: the tag introduces Python code for "ipython".
          Json args = Json::object({{"code", body}});
          out->tool_calls.push_back({NextId(), "python", args.dump()});
        }
        return;
      }
    }
  }
}

}  // namespace jetserve::chat
