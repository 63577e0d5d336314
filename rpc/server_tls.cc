#include "rpc/server_tls.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "common/pem_file.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace jetserve::rpc {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> WatchedServerCredentials(
    const ServerTlsFiles& files) {
  absl::StatusOr<std::string> cert = ReadPemFile(files.names.cert, files.cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPemFile(files.names.key, files.key_file);
  if (!key.ok()) return key.status();
  if (!files.client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPemFile(files.names.client_ca, files.client_ca_file);
    if (!ca.ok()) return ca.status();
  }
  // From here gRPC's file watcher reads the files, now and every interval.
  const int64_t interval = std::max<int64_t>(1, absl::ToInt64Seconds(files.reload_interval));
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key_file, files.cert_file, files.client_ca_file, static_cast<unsigned>(interval));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!files.client_ca_file.empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  std::shared_ptr<grpc::ServerCredentials> creds =
      grpc::experimental::TlsServerCredentials(options);
  if (creds == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(files.names.cert, ", ", files.names.key,
                                                   ": gRPC refused the certificate or key"));
  }
  return creds;
}

}  // namespace jetserve::rpc
