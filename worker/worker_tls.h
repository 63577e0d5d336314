// The worker's TLS: server credentials from the --tls-cert / --tls-key / --tls-client-ca
// flags (PEM files), so the gateway can reach remote workers over TLS or mutual TLS
// (GatewayConfig.worker_tls on its side).
//
//   auto creds = LoadWorkerServerCredentials(cert, key, client_ca);  // null: plaintext
#ifndef JETSERVE_WORKER_WORKER_TLS_H_
#define JETSERVE_WORKER_WORKER_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"

namespace jetserve::worker {

// Null (plaintext) when all three are empty. cert and key go together; client_ca needs
// them and makes client certificates mandatory. Errors name the flag.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> LoadWorkerServerCredentials(
    const std::string& cert_file, const std::string& key_file, const std::string& client_ca_file);

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_WORKER_TLS_H_
