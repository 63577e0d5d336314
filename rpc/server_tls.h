// Server-side TLS credentials from PEM files that gRPC keeps watching, for the gateway's
// public port (gateway/tls.h) and the worker's port (worker/worker_tls.h): the files are
// read once now, so that a bad path or a file without a PEM block fails the start with an
// error naming the setting, and then re-read by gRPC's file watcher every
// `reload_interval`: renewed certificates (or client CAs) apply to new connections without a
// restart, open connections keep theirs. gRPC (1.51) does not check that a renewed key
// matches the certificate: while they differ, new handshakes fail, so both are replaced
// together (a Kubernetes Secret volume swaps both at once).
//
//   absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = WatchedServerCredentials(
//       {.cert_file = "/tls/tls.crt", .key_file = "/tls/tls.key",
//        .names = {.cert = "--tls-cert", .key = "--tls-key", .client_ca = "--tls-client-ca"}});
#ifndef JETSERVE_RPC_SERVER_TLS_H_
#define JETSERVE_RPC_SERVER_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"

namespace jetserve::rpc {

struct ServerTlsFiles {
  std::string cert_file;  // PEM certificate chain; required
  std::string key_file;   // its PEM private key; required
  // PEM CA certificates; when set, clients must present a certificate signed by one of
  // them (mutual TLS). Empty: no client certificate asked for.
  std::string client_ca_file;
  // How often the files are re-read; at least 1 s.
  absl::Duration reload_interval = absl::Seconds(60);
  // The settings' names, for errors ("tls.cert_file", "--tls-cert").
  struct Names {
    std::string cert = "cert_file";
    std::string key = "key_file";
    std::string client_ca = "client_ca_file";
  } names;
};

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> WatchedServerCredentials(
    const ServerTlsFiles& files);

}  // namespace jetserve::rpc

#endif  // JETSERVE_RPC_SERVER_TLS_H_
