// The gateway's checks of request shapes against the configured limits
// (GatewayConfig.limits, defaults in proto/jetserve/config/v1/gateway_config.proto), done
// before a call is routed so oversized or malformed calls never reach a worker. They need
// no model: counts, lengths, signs and finiteness. What depends on the model (prompt
// tokens vs the context, top_k and token ids vs the vocabulary) the worker checks.
// Errors are INVALID_ARGUMENT naming the field, e.g. "stop.stop: at most 16 strings, got 17".
// Shared by the gRPC service and the HTTP front-end (which builds the same requests).
//
//   absl::Status st = CheckGenerateRequest(request, config.limits());
#ifndef JETSERVE_GATEWAY_REQUEST_LIMITS_H_
#define JETSERVE_GATEWAY_REQUEST_LIMITS_H_

#include "absl/status/status.h"
#include "jetserve/config/v1/gateway_config.pb.h"
#include "jetserve/v1/encode.pb.h"
#include "jetserve/v1/generate.pb.h"
#include "jetserve/v1/models.pb.h"

namespace jetserve::gateway {

using ::jetserve::config::v1::Limits;

absl::Status CheckGenerateRequest(const jetserve::v1::GenerateRequest& r, const Limits& limits);
absl::Status CheckEmbedRequest(const jetserve::v1::EmbedRequest& r, const Limits& limits);
absl::Status CheckClassifyRequest(const jetserve::v1::ClassifyRequest& r, const Limits& limits);
absl::Status CheckRerankRequest(const jetserve::v1::RerankRequest& r, const Limits& limits);
absl::Status CheckTokenizeRequest(const jetserve::v1::TokenizeRequest& r, const Limits& limits);
absl::Status CheckDetokenizeRequest(const jetserve::v1::DetokenizeRequest& r, const Limits& limits);

}  // namespace jetserve::gateway

#endif  // JETSERVE_GATEWAY_REQUEST_LIMITS_H_
