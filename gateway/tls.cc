#include "gateway/tls.h"

#include "common/pem_file.h"
#include "rpc/server_tls.h"

namespace jetserve::gateway {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> LoadServerCredentials(
    const jetserve::config::v1::GatewayConfig& config) {
  if (!config.has_tls()) return grpc::InsecureServerCredentials();
  const auto& tls = config.tls();
  return rpc::WatchedServerCredentials(
      {.cert_file = tls.cert_file(),
       .key_file = tls.key_file(),
       .client_ca_file = tls.client_ca_file(),
       .reload_interval = absl::Seconds(tls.reload_interval().seconds()),
       .names = {
           .cert = "tls.cert_file", .key = "tls.key_file", .client_ca = "tls.client_ca_file"}});
}

absl::StatusOr<WorkerChannelCredentials> LoadWorkerChannelCredentials(
    const jetserve::config::v1::GatewayConfig& config) {
  WorkerChannelCredentials out;
  if (!config.has_worker_tls()) {
    out.credentials = grpc::InsecureChannelCredentials();
    return out;
  }
  const auto& tls = config.worker_tls();
  grpc::SslCredentialsOptions options;
  absl::StatusOr<std::string> ca = ReadPemFile("worker_tls.ca_file", tls.ca_file());
  if (!ca.ok()) return ca.status();
  options.pem_root_certs = *std::move(ca);
  if (!tls.cert_file().empty()) {
    absl::StatusOr<std::string> cert = ReadPemFile("worker_tls.cert_file", tls.cert_file());
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPemFile("worker_tls.key_file", tls.key_file());
    if (!key.ok()) return key.status();
    options.pem_cert_chain = *std::move(cert);
    options.pem_private_key = *std::move(key);
  }
  out.credentials = grpc::SslCredentials(options);
  if (out.credentials == nullptr) {
    return absl::InvalidArgumentError("worker_tls: gRPC refused the certificates or key");
  }
  out.server_name = tls.server_name();
  return out;
}

}  // namespace jetserve::gateway
