// TLS credentials of the gateway, loaded from the PEM files named in the config: the
// public port's server credentials (TLS, or mutual TLS with client_ca_file) and the
// channel credentials for remote workers. Each side is loaded by one function; the public
// port's certificate files are re-read by gRPC's file watcher (rpc/server_tls.h), so
// renewals need no restart.
//
//   absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds =
//       LoadServerCredentials(config);  // insecure when config.has_tls() is false
//   builder.AddListeningPort(config.listen(), *creds, &port);
#ifndef JETSERVE_GATEWAY_TLS_H_
#define JETSERVE_GATEWAY_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "jetserve/config/v1/gateway_config.pb.h"

namespace jetserve::gateway {

// The public port's credentials: insecure without `tls`; TLS with cert/key; clients must
// present a certificate signed by client_ca_file when it is set. The files are checked
// now and watched afterwards (tls.reload_interval): renewed ones apply to new connections.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> LoadServerCredentials(
    const jetserve::config::v1::GatewayConfig& config);

// Credentials of the gateway's channels to remote workers: insecure without worker_tls.
struct WorkerChannelCredentials {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // Name checked against the worker's certificate instead of the address's host; empty:
  // the host.
  std::string server_name;
};
absl::StatusOr<WorkerChannelCredentials> LoadWorkerChannelCredentials(
    const jetserve::config::v1::GatewayConfig& config);

}  // namespace jetserve::gateway

#endif  // JETSERVE_GATEWAY_TLS_H_
