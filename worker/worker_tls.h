// The worker's TLS: server credentials from the --tls-cert / --tls-key / --tls-client-ca
// flags (PEM files), so the gateway can reach remote workers over TLS or mutual TLS
// (GatewayConfig.worker_tls on its side). The files are re-read every
// --tls-reload-interval (rpc/server_tls.h): renewed certificates and client CAs apply to
// new connections without a restart, as on the gateway's port.
//
//   auto creds = LoadWorkerServerCredentials(cert, key, client_ca, absl::Seconds(60));
//   // null: plaintext
#ifndef JETSERVE_WORKER_WORKER_TLS_H_
#define JETSERVE_WORKER_WORKER_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"

namespace jetserve::worker {

// Null (plaintext) when all three are empty. cert and key go together; client_ca needs
// them and makes client certificates mandatory. Errors name the flag. The files are
// re-read every `reload_interval` (at least 1 s).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> LoadWorkerServerCredentials(
    const std::string& cert_file, const std::string& key_file, const std::string& client_ca_file,
    absl::Duration reload_interval);

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_WORKER_TLS_H_
