#include "worker/worker_tls.h"

#include "absl/status/status.h"
#include "rpc/server_tls.h"

namespace jetserve::worker {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> LoadWorkerServerCredentials(
    const std::string& cert_file, const std::string& key_file, const std::string& client_ca_file,
    absl::Duration reload_interval) {
  if (cert_file.empty() && key_file.empty() && client_ca_file.empty()) {
    return std::shared_ptr<grpc::ServerCredentials>();
  }
  if (cert_file.empty() || key_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (reload_interval < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--tls-reload-interval must be at least 1s");
  }
  return rpc::WatchedServerCredentials(
      {.cert_file = cert_file,
       .key_file = key_file,
       .client_ca_file = client_ca_file,
       .reload_interval = reload_interval,
       .names = {.cert = "--tls-cert", .key = "--tls-key", .client_ca = "--tls-client-ca"}});
}

}  // namespace jetserve::worker
