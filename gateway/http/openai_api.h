// OpenAI's REST API (/v1/completions, /v1/chat/completions, /v1/embeddings, /v1/models)
// translated to and from jetserve.v1 messages. Pure functions: the HTTP server
// (http_server.h) does the I/O.
//
// Follows OpenAI's API reference: unset sampling fields take OpenAI's defaults
// (temperature 1, top_p 1; /v1/completions max_tokens 16, chat until the context ends);
// streams are server-sent events ending with "data: [DONE]"; stream_options.include_usage
// adds a last chunk with usage and no choices; errors are
// {"error": {"message", "type", "param", "code"}}. Beyond OpenAI's fields, top_k, min_p,
// repetition_penalty and chat_template_kwargs are accepted (as vLLM does). Token-id inputs
// (prompt or input as integer arrays) are refused: send text.
#ifndef JETSERVE_GATEWAY_HTTP_OPENAI_API_H_
#define JETSERVE_GATEWAY_HTTP_OPENAI_API_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "gateway/http/api_common.h"
#include "gateway/http/json_fields.h"
#include "jetserve/v1/encode.pb.h"
#include "jetserve/v1/generate.pb.h"
#include "jetserve/v1/models.pb.h"

namespace jetserve::gateway::http {

struct OpenAiGenerateCall {
  jetserve::v1::GenerateRequest request;
  bool stream = false;
  bool include_usage = false;
  // /v1/completions "echo": the prompt is prepended to each choice's text.
  bool echo = false;
};

absl::StatusOr<OpenAiGenerateCall> ParseOpenAiCompletion(const Json& body);
absl::StatusOr<OpenAiGenerateCall> ParseOpenAiChat(const Json& body);

struct OpenAiFormatterOptions {
  bool chat = false;
  bool stream = false;
  bool include_usage = false;
  std::string model;
  // "chatcmpl-<id>" / "cmpl-<id>".
  std::string id;
  int64_t created = 0;  // Unix seconds
  int n = 1;
  // Prepended to every choice (/v1/completions echo).
  std::string echo_prefix;
};
std::unique_ptr<GenerateFormatter> NewOpenAiFormatter(OpenAiFormatterOptions options);

struct OpenAiEmbedCall {
  jetserve::v1::EmbedRequest request;
  bool base64 = false;
};
absl::StatusOr<OpenAiEmbedCall> ParseOpenAiEmbeddings(const Json& body);
// `base64`: each vector as the base64 of its little-endian float32 bytes.
Json OpenAiEmbeddingsResponse(const std::string& model, const jetserve::v1::EmbedResponse& response,
                              bool base64);

Json OpenAiModel(const jetserve::v1::ModelInfo& info);
Json OpenAiModels(const jetserve::v1::ListModelsResponse& models);

// {"error": {"message", "type", "param": null, "code"}}
Json OpenAiError(const absl::Status& status);

}  // namespace jetserve::gateway::http

#endif  // JETSERVE_GATEWAY_HTTP_OPENAI_API_H_
