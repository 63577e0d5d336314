// ListenAddress: validation of the worker's --listen / --metrics-listen values.
//
//   "127.0.0.1:0", "0.0.0.0:50051", "[::1]:7000", "localhost:0"   TCP; port 0 picks a free one
//   "unix:/run/jetserve/model-a.sock"                              Unix domain socket (gRPC only)
//
//   absl::StatusOr<ListenAddress> a = ParseListenAddress(flag, "--listen", {.allow_unix = true});
//   builder.AddListeningPort(a->ToGrpcTarget(), ...);
#ifndef JETSERVE_WORKER_LISTEN_ADDRESS_H_
#define JETSERVE_WORKER_LISTEN_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace jetserve::worker {

struct ListenAddress {
  // Host as written (brackets kept for IPv6), or empty for a Unix socket.
  std::string host;
  int port = 0;
  // Socket path for "unix:PATH".
  std::string unix_path;

  bool is_unix() const { return !unix_path.empty(); }
  // "host:port" or "unix:PATH", as gRPC takes it.
  std::string ToString() const;
};

struct ListenAddressOptions {
  bool allow_unix = true;
};

// Parses and validates `text`; errors name `flag` and say what is wrong.
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text, absl::string_view flag,
                                                 const ListenAddressOptions& options);

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_LISTEN_ADDRESS_H_
