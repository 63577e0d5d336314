// Pieces shared by the Ollama and OpenAI translations (gateway/http/ollama_api.h,
// openai_api.h): the formatter a Generate stream is written through, HTTP codes for gRPC
// status codes, timestamps, and chat pieces both APIs share (tool calls, response formats).
#ifndef JETSERVE_GATEWAY_HTTP_API_COMMON_H_
#define JETSERVE_GATEWAY_HTTP_API_COMMON_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gateway/http/json_fields.h"
#include "jetserve/v1/generate.pb.h"

namespace jetserve::gateway::http {

// Turns the messages of one Generate stream into an HTTP body. Streaming formatters return
// each piece to send at once; non-streaming ones return "" until Finish, which returns the
// whole body.
class GenerateFormatter {
 public:
  virtual ~GenerateFormatter() = default;
  // "application/x-ndjson", "text/event-stream" or "application/json".
  virtual const char* content_type() const = 0;
  virtual std::string OnMessage(const jetserve::v1::GenerateResponse& message) = 0;
  // After the stream ended OK.
  virtual std::string Finish() = 0;
  // A streaming formatter's last piece after the call failed mid-stream.
  virtual std::string StreamError(const absl::Status& status) = 0;
};

// The HTTP status for a gRPC/absl status code: 400 INVALID_ARGUMENT/FAILED_PRECONDITION/
// OUT_OF_RANGE/UNIMPLEMENTED (the model cannot do the task, e.g. embeddings from a
// generation model: a client error, as OpenAI answers it), 401 UNAUTHENTICATED, 403
// PERMISSION_DENIED, 404 NOT_FOUND, 409 ABORTED/ALREADY_EXISTS, 429 RESOURCE_EXHAUSTED,
// 499 CANCELLED, 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED, 500 otherwise.
int HttpStatusFor(absl::StatusCode code);

// "2026-11-28T20:52:19.385406455Z" (Ollama's created_at).
std::string Rfc3339(absl::Time t);

// Tool call arguments as a JSON value: the parsed arguments_json, or the raw text as a
// string when it is not JSON.
Json ToolArgumentsJson(const std::string& arguments_json);

// Reads a JSON Schema / "json" response format into `format`.
void SetJsonSchema(const Json& schema, jetserve::v1::ResponseFormat* format);

}  // namespace jetserve::gateway::http

#endif  // JETSERVE_GATEWAY_HTTP_API_COMMON_H_
