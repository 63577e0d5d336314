#include "worker/worker_tls.h"

#include "absl/status/status.h"
#include "common/pem_file.h"

namespace jetserve::worker {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> LoadWorkerServerCredentials(
    const std::string& cert_file, const std::string& key_file, const std::string& client_ca_file) {
  if (cert_file.empty() && key_file.empty() && client_ca_file.empty()) {
    return std::shared_ptr<grpc::ServerCredentials>();
  }
  if (cert_file.empty() || key_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  absl::StatusOr<std::string> cert = ReadPemFile("--tls-cert", cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPemFile("--tls-key", key_file);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({*std::move(key), *std::move(cert)});
  if (!client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPemFile("--tls-client-ca", client_ca_file);
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *std::move(ca);
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

}  // namespace jetserve::worker
