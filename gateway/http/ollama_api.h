// Ollama's REST API (/api/generate, /api/chat, /api/embed, /api/embeddings, /api/tags,
// /api/show, /api/ps) translated to and from jetserve.v1 messages. Pure functions: the HTTP
// server (http_server.h) does the I/O.
//
// Semantics follow Ollama's API documentation:
// - /api/generate renders the prompt (and `system`) with the model's chat template unless
//   "raw": true; an empty prompt only checks the model ("done_reason": "load").
// - Unset options take Ollama's defaults (temperature 0.8, top_k 40, top_p 0.9,
//   repeat_penalty 1.1, repeat_last_n 64); temperature 0 is greedy. Options that only tune
//   Ollama's runner (num_ctx, num_gpu, num_thread, ...) and unknown ones are ignored, as
//   Ollama does; mirostat is refused.
// - "format": "json" is JSON mode, an object is a JSON Schema.
// - /api/embed L2-normalizes, /api/embeddings (legacy) does not.
#ifndef JETSERVE_GATEWAY_HTTP_OLLAMA_API_H_
#define JETSERVE_GATEWAY_HTTP_OLLAMA_API_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/http/api_common.h"
#include "gateway/http/json_fields.h"
#include "jetserve/v1/encode.pb.h"
#include "jetserve/v1/generate.pb.h"
#include "jetserve/v1/models.pb.h"

namespace jetserve::gateway::http {

struct OllamaGenerateCall {
  jetserve::v1::GenerateRequest request;
  bool stream = true;
  // /api/generate with an empty prompt: answer {"done": true, "done_reason": "load"}.
  bool load_only = false;
};

// /api/generate and /api/chat bodies.
absl::StatusOr<OllamaGenerateCall> ParseOllamaGenerate(const Json& body);
absl::StatusOr<OllamaGenerateCall> ParseOllamaChat(const Json& body);

// Formats the Generate stream as Ollama's NDJSON lines (stream) or one object.
std::unique_ptr<GenerateFormatter> NewOllamaFormatter(bool chat, bool stream, std::string model);

// The /api/generate answer for load_only.
Json OllamaLoadResponse(const std::string& model, bool chat, absl::Time now);

// /api/embed (legacy = false) and /api/embeddings (legacy = true).
absl::StatusOr<jetserve::v1::EmbedRequest> ParseOllamaEmbed(const Json& body, bool legacy);
Json OllamaEmbedResponse(const std::string& model, const jetserve::v1::EmbedResponse& response,
                         bool legacy);

// {"model": name} of /api/show (also accepts the older "name").
absl::StatusOr<std::string> ParseOllamaShow(const Json& body);

Json OllamaModelDetails(const jetserve::v1::ModelInfo& info);
Json OllamaTags(const jetserve::v1::ListModelsResponse& models);
// Models with a ready worker.
Json OllamaPs(const jetserve::v1::ListModelsResponse& models);
Json OllamaShow(const jetserve::v1::ModelInfo& info);

// {"error": message}
Json OllamaError(const absl::Status& status);

}  // namespace jetserve::gateway::http

#endif  // JETSERVE_GATEWAY_HTTP_OLLAMA_API_H_
