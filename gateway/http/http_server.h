// The gateway's Ollama- and OpenAI-compatible HTTP API. Each request is translated
// (ollama_api.h, openai_api.h) into a call of the public jetserve.v1 service over the gRPC
// server's in-process channel, so HTTP calls take the same path as gRPC ones: the same
// routing, queue limits, default deadline, API keys (the Authorization and X-Api-Key headers
// go on as the "authorization" / "x-api-key" metadata that gateway/auth.h reads from gRPC
// calls, so keys are admitted and counted once, in the public service), per-call metrics and
// log lines, with no socket or HTTP/2 framing in between. X-Request-Id and traceparent/tracestate
// pass through as well. A request with a body has its key checked (options.auth) before the
// body is parsed: a caller without a valid key gets 401 whatever it sent, never a 400 that
// tells it about the body.
//
// Streams (NDJSON for Ollama, server-sent events for OpenAI) are written as the worker
// produces them; a client that disconnects cancels its call at the next write.
// HTTP responses are also counted by endpoint and status code
// (jetserve_gateway_http_requests_total).
//
//   HttpServerOptions options{.listen = "0.0.0.0:11434", .max_request_bytes = 4 << 20,
//                             .auth = &gateway->auth()};
//   absl::StatusOr<std::unique_ptr<HttpServer>> http =
//       HttpServer::Start(options, gateway->InProcessChannel());
//   ... (*http)->port() ...
//   (*http)->Stop();  // stop accepting; the destructor waits for running requests
#ifndef JETSERVE_GATEWAY_HTTP_HTTP_SERVER_H_
#define JETSERVE_GATEWAY_HTTP_HTTP_SERVER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "prometheus/registry.h"

namespace jetserve::gateway {
class Authenticator;  // gateway/auth.h
}  // namespace jetserve::gateway

namespace jetserve::gateway::http {

struct HttpServerOptions {
  // "host:port"; port 0 picks a free port.
  std::string listen;
  // Larger request bodies get 413.
  size_t max_request_bytes = 4 << 20;
  // Requests served at once (each streaming response holds one thread).
  int threads = 64;
  // HTTPS with these PEM files (the gateway's `tls` config: the same certificate as the gRPC
  // port); with tls_client_ca_file, clients must present a certificate it signed. Empty
  // cert/key: plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  // The gateway's API keys, checked before a request body is parsed (the public service
  // checks them again and admits the call); null: keys are left to the public service. Not
  // owned; must outlive the server.
  Authenticator* auth = nullptr;
  // Where jetserve_gateway_http_requests_total{endpoint, code} goes (beside the gRPC
  // metrics every call records); null: not exported. Must outlive the server.
  prometheus::Registry* registry = nullptr;
};

class HttpServer {
 public:
  // `channel` reaches the public jetserve.v1 service (normally the gRPC server's
  // in-process channel).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                           std::shared_ptr<grpc::Channel> channel);
  ~HttpServer();  // Stop(), then waits for running requests

  int port() const { return port_; }
  // Stops accepting connections; running requests go on until their calls end.
  void Stop();

 private:
  class Impl;
  HttpServer() = default;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace jetserve::gateway::http

#endif  // JETSERVE_GATEWAY_HTTP_HTTP_SERVER_H_
