#include "gateway/request_limits.h"

#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace jetserve::gateway {
namespace {

namespace v1 = ::jetserve::v1;

// Token ids a Detokenize call may carry: the largest context any model serves here.
constexpr int kMaxDetokenizeIds = 1 << 20;
constexpr int kMaxStopTokenIds = 64;
constexpr int kMaxLogitBias = 1024;
constexpr int kMaxChatMessages = 1024;
constexpr int kMaxTools = 128;

absl::Status Error(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

absl::Status AtMost(absl::string_view field, int64_t value, int64_t limit, absl::string_view unit) {
  if (value <= limit) return absl::OkStatus();
  return Error(field, absl::StrCat("at most ", limit, " ", unit, ", got ", value));
}

absl::Status Finite(absl::string_view field, bool has, float value) {
  if (!has || std::isfinite(value)) return absl::OkStatus();
  return Error(field, "must be a finite number");
}

int64_t ChatBytes(const v1::Chat& chat) {
  int64_t bytes = 0;
  for (const v1::ChatMessage& m : chat.messages()) {
    bytes += static_cast<int64_t>(m.content().size() + m.reasoning_content().size());
  }
  return bytes;
}

absl::Status CheckChat(const v1::Chat& chat, const Limits& limits) {
  if (chat.messages_size() == 0) return Error("chat.messages", "at least one message");
  absl::Status st = AtMost("chat.messages", chat.messages_size(), kMaxChatMessages, "messages");
  if (!st.ok()) return st;
  st = AtMost("chat.tools", chat.tools_size(), kMaxTools, "tools");
  if (!st.ok()) return st;
  return AtMost("chat.messages", ChatBytes(chat), limits.max_prompt_bytes(), "bytes of content");
}

absl::Status CheckTexts(absl::string_view field, int count, int64_t limit) {
  if (count == 0) return Error(field, "at least one is required");
  return AtMost(field, count, limit, "per call");
}

}  // namespace

absl::Status CheckGenerateRequest(const v1::GenerateRequest& r, const Limits& limits) {
  absl::Status st;
  switch (r.input_case()) {
    case v1::GenerateRequest::kPrompt:
      if (r.prompt().empty()) return Error("prompt", "must not be empty");
      st = AtMost("prompt", static_cast<int64_t>(r.prompt().size()), limits.max_prompt_bytes(),
                  "bytes");
      break;
    case v1::GenerateRequest::kChat:
      st = CheckChat(r.chat(), limits);
      break;
    case v1::GenerateRequest::INPUT_NOT_SET:
      return Error("input", "set prompt or chat");
  }
  if (!st.ok()) return st;

  const v1::SamplingParams& s = r.sampling();
  for (const auto& [name, has, value] :
       {std::tuple{"sampling.temperature", s.has_temperature(), s.temperature()},
        std::tuple{"sampling.top_p", s.has_top_p(), s.top_p()},
        std::tuple{"sampling.min_p", s.has_min_p(), s.min_p()},
        std::tuple{"sampling.typical_p", s.has_typical_p(), s.typical_p()},
        std::tuple{"sampling.repetition_penalty", s.has_repetition_penalty(),
                   s.repetition_penalty()},
        std::tuple{"sampling.presence_penalty", s.has_presence_penalty(), s.presence_penalty()},
        std::tuple{"sampling.frequency_penalty", s.has_frequency_penalty(),
                   s.frequency_penalty()}}) {
    st = Finite(name, has, value);
    if (!st.ok()) return st;
  }
  if (s.has_top_k() && s.top_k() < 0) return Error("sampling.top_k", "must be >= 0");
  st = AtMost("sampling.logit_bias", s.logit_bias_size(), kMaxLogitBias, "entries");
  if (!st.ok()) return st;
  for (const auto& [id, bias] : s.logit_bias()) {
    if (id < 0) return Error("sampling.logit_bias", absl::StrCat("token id ", id, " is negative"));
    if (!std::isfinite(bias)) {
      return Error("sampling.logit_bias", absl::StrCat("value for token ", id, " is not finite"));
    }
  }

  const v1::StopCriteria& stop = r.stop();
  if (stop.has_max_tokens()) {
    if (stop.max_tokens() < 1) {
      return Error("stop.max_tokens", absl::StrCat("must be at least 1, got ", stop.max_tokens()));
    }
    if (limits.has_max_tokens() && stop.max_tokens() > limits.max_tokens()) {
      return Error("stop.max_tokens", absl::StrCat("must be at most ", limits.max_tokens(),
                                                   ", got ", stop.max_tokens()));
    }
  }
  if (stop.min_tokens() < 0) return Error("stop.min_tokens", "must be >= 0");
  st = AtMost("stop.stop", stop.stop_size(), limits.max_stop_sequences(), "strings");
  if (!st.ok()) return st;
  for (int i = 0; i < stop.stop_size(); ++i) {
    const size_t bytes = stop.stop(i).size();
    if (bytes == 0 || bytes > static_cast<size_t>(limits.max_stop_bytes())) {
      return Error(absl::StrCat("stop.stop[", i, "]"),
                   absl::StrCat("must have 1 to ", limits.max_stop_bytes(), " bytes, got ", bytes));
    }
  }
  st = AtMost("stop.stop_token_ids", stop.stop_token_ids_size(), kMaxStopTokenIds, "ids");
  if (!st.ok()) return st;
  for (const int32_t id : stop.stop_token_ids()) {
    if (id < 0) return Error("stop.stop_token_ids", absl::StrCat("token id ", id, " is negative"));
  }

  const int32_t top = r.logprobs().top_logprobs();
  if (top < 0 || top > limits.max_top_logprobs()) {
    return Error("logprobs.top_logprobs",
                 absl::StrCat("must be in [0, ", limits.max_top_logprobs(), "], got ", top));
  }
  if (r.has_n() && (r.n() < 1 || r.n() > limits.max_choices())) {
    return Error("n", absl::StrCat("must be in [1, ", limits.max_choices(), "], got ", r.n()));
  }
  if (r.response_format().format_case() == v1::ResponseFormat::kGbnf) {
    st = AtMost("response_format.gbnf", static_cast<int64_t>(r.response_format().gbnf().size()),
                256 << 10, "bytes");
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status CheckEmbedRequest(const v1::EmbedRequest& r, const Limits& limits) {
  absl::Status st = CheckTexts("inputs", r.inputs_size(), limits.max_inputs());
  if (!st.ok()) return st;
  if (r.has_dimensions() && r.dimensions() < 1) {
    return Error("dimensions", absl::StrCat("must be at least 1, got ", r.dimensions()));
  }
  return absl::OkStatus();
}

absl::Status CheckClassifyRequest(const v1::ClassifyRequest& r, const Limits& limits) {
  absl::Status st = CheckTexts("inputs", r.inputs_size(), limits.max_inputs());
  if (!st.ok()) return st;
  st = AtMost("candidate_labels", r.candidate_labels_size(), limits.max_candidate_labels(),
              "labels");
  if (!st.ok()) return st;
  if (r.top_k() < 0) return Error("top_k", "must be >= 0");
  return absl::OkStatus();
}

absl::Status CheckRerankRequest(const v1::RerankRequest& r, const Limits& limits) {
  if (r.query().empty()) return Error("query", "required");
  absl::Status st = CheckTexts("documents", r.documents_size(), limits.max_documents());
  if (!st.ok()) return st;
  if (r.top_n() < 0) return Error("top_n", "must be >= 0");
  return absl::OkStatus();
}

absl::Status CheckTokenizeRequest(const v1::TokenizeRequest& r, const Limits& limits) {
  if (r.input_case() == v1::TokenizeRequest::kChat) return CheckChat(r.chat(), limits);
  return AtMost("text", static_cast<int64_t>(r.text().size()), limits.max_prompt_bytes(), "bytes");
}

absl::Status CheckDetokenizeRequest(const v1::DetokenizeRequest& r, const Limits&) {
  absl::Status st = AtMost("token_ids", r.token_ids_size(), kMaxDetokenizeIds, "ids");
  if (!st.ok()) return st;
  for (const int32_t id : r.token_ids()) {
    if (id < 0) return Error("token_ids", absl::StrCat("token id ", id, " is negative"));
  }
  return absl::OkStatus();
}

}  // namespace jetserve::gateway
