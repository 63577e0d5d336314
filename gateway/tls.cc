#include "gateway/tls.h"

#include <algorithm>
#include <cstdint>

#include "common/pem_file.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace jetserve::gateway {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> LoadServerCredentials(
    const jetserve::config::v1::GatewayConfig& config) {
  if (!config.has_tls()) return grpc::InsecureServerCredentials();
  const auto& tls = config.tls();
  absl::StatusOr<std::string> cert = ReadPemFile("tls.cert_file", tls.cert_file());
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPemFile("tls.key_file", tls.key_file());
  if (!key.ok()) return key.status();
  if (!tls.client_ca_file().empty()) {
    absl::StatusOr<std::string> ca = ReadPemFile("tls.client_ca_file", tls.client_ca_file());
    if (!ca.ok()) return ca.status();
  }
  // The files were read once above so that a bad path fails the start; from here gRPC's
  // file watcher reads them, and again every reload_interval (renewed certificates apply
  // to new connections).
  const int64_t interval = std::max<int64_t>(1, tls.reload_interval().seconds());
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls.key_file(), tls.cert_file(), tls.client_ca_file(), static_cast<unsigned>(interval));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!tls.client_ca_file().empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  std::shared_ptr<grpc::ServerCredentials> creds =
      grpc::experimental::TlsServerCredentials(options);
  if (creds == nullptr) {
    return absl::InvalidArgumentError("tls: gRPC refused the certificate or key");
  }
  return creds;
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
