// Gateway configuration: reads the GatewayConfig proto from JSON (protobuf's own parser,
// unknown fields rejected), validates it and fills in the defaults documented in
// proto/jetserve/config/v1/gateway_config.proto. Every error names the offending field,
// e.g. "models[1].local.replicas: must be in [1, 64], got 65".
//
//   ConfigOptions options{.executable_dir = "/usr/bin"};
//   absl::StatusOr<GatewayConfig> config = LoadGatewayConfig("/etc/jetserve.json", options);
#ifndef JETSERVE_GATEWAY_CONFIG_H_
#define JETSERVE_GATEWAY_CONFIG_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "jetserve/config/v1/gateway_config.pb.h"

namespace jetserve::gateway {

using ::jetserve::config::v1::GatewayConfig;

struct ConfigOptions {
  // Folder of the gateway executable; the default worker_binary lives there.
  std::string executable_dir;
};

// Parses and validates a JSON document; the result has every default filled in.
absl::StatusOr<GatewayConfig> ParseGatewayConfig(absl::string_view json,
                                                 const ConfigOptions& options);

// Reads `path` and parses it as above; errors name the file.
absl::StatusOr<GatewayConfig> LoadGatewayConfig(const std::string& path,
                                                const ConfigOptions& options);

// Validates `config` in place and fills in defaults (runtime_dir stays empty when unset:
// the gateway creates a fresh folder at start).
absl::Status ValidateGatewayConfig(const ConfigOptions& options, GatewayConfig* config);

// Converts a (validated) proto duration.
absl::Duration ToAbslDuration(const google::protobuf::Duration& d);

// Splits "host:port" (host may be "[v6]"); false when malformed or port not in [0, 65535].
bool SplitHostPort(absl::string_view address, std::string* host, int* port);

}  // namespace jetserve::gateway

#endif  // JETSERVE_GATEWAY_CONFIG_H_
