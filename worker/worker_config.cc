#include "worker/worker_config.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace jetserve::worker {
namespace {

// Names appear in metrics labels, logs and the gateway's registry: keep them to a safe set.
absl::Status ValidateName(const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("--name is required (the served model name)");
  if (name.size() > 128) {
    return absl::InvalidArgumentError(
        absl::StrCat("--name is ", name.size(), " characters long; the limit is 128"));
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':' || c == '/';
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("--name \"", name, "\" contains '", std::string(1, c),
                       "'; allowed are letters, digits and - _ . : /"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<WorkerConfig> ParseWorkerFlags(const WorkerFlags& flags) {
  WorkerConfig config;
  if (flags.model.empty()) {
    return absl::InvalidArgumentError("--model is required (path of a GGUF or ONNX model)");
  }
  config.model_path = flags.model;
  if (absl::Status s = ValidateName(flags.name); !s.ok()) return s;
  config.model_name = flags.name;
  if (flags.listen.empty()) {
    return absl::InvalidArgumentError(
        "--listen is required (host:port, port 0 for any free port, or unix:/path)");
  }
  absl::StatusOr<ListenAddress> listen =
      ParseListenAddress(flags.listen, "--listen", {.allow_unix = true});
  if (!listen.ok()) return listen.status();
  config.listen = *listen;
  absl::StatusOr<DeviceSpec> device = ParseDeviceSpec(flags.device);
  if (!device.ok())
    return absl::InvalidArgumentError(absl::StrCat("--", device.status().message()));
  config.device = *device;
  if (!flags.metrics_listen.empty()) {
    absl::StatusOr<ListenAddress> metrics =
        ParseListenAddress(flags.metrics_listen, "--metrics-listen", {.allow_unix = false});
    if (!metrics.ok()) return metrics.status();
    config.metrics_listen = *metrics;
  }
  if (!ParseLogLevel(flags.log_level, &config.log_level)) {
    return absl::InvalidArgumentError(absl::StrCat("--log-level \"", flags.log_level,
                                                   "\" is not one of debug, info, warning, error"));
  }
  if (flags.drain_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--drain-grace ", absl::FormatDuration(flags.drain_grace), " is negative"));
  }
  config.drain_grace = flags.drain_grace;
  if (flags.unary_threads < 0 || flags.unary_threads > 1024) {
    return absl::InvalidArgumentError(absl::StrCat("--unary-threads ", flags.unary_threads,
                                                   " is not in [0, 1024] (0: from capacity)"));
  }
  config.unary_threads = flags.unary_threads;
  if (flags.stream_queue < 1 || flags.stream_queue > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("--stream-queue ", flags.stream_queue, " is not in [1, 1024]"));
  }
  config.stream_queue = flags.stream_queue;
  return config;
}

}  // namespace jetserve::worker
