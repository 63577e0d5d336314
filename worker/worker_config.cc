#include "worker/worker_config.h"

#include <limits>
#include <string_view>

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

absl::StatusOr<int64_t> ParseByteSize(std::string_view text) {
  size_t digits = 0;
  int64_t value = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    if (value > (int64_t{1} << 50)) return absl::InvalidArgumentError("too large");
    value = value * 10 + (text[digits] - '0');
    ++digits;
  }
  if (digits == 0) return absl::InvalidArgumentError("no digits");
  std::string_view unit = text.substr(digits);
  int shift = 0;
  if (unit == "" || unit == "B") {
    shift = 0;
  } else if (unit == "K" || unit == "k" || unit == "KiB") {
    shift = 10;
  } else if (unit == "M" || unit == "m" || unit == "MiB") {
    shift = 20;
  } else if (unit == "G" || unit == "g" || unit == "GiB") {
    shift = 30;
  } else {
    return absl::InvalidArgumentError("unknown unit");
  }
  if (value > (std::numeric_limits<int64_t>::max() >> shift)) {
    return absl::InvalidArgumentError("too large");
  }
  return value << shift;
}

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
  if (flags.max_seqs < 1 || flags.max_seqs > 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-seqs ", flags.max_seqs, " is not in [1, 4096]"));
  }
  config.max_seqs = flags.max_seqs;
  if (flags.max_queued < 0 || flags.max_queued > 100000) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-queued ", flags.max_queued, " is not in [0, 100000]"));
  }
  config.max_queued = flags.max_queued;
  if (flags.ctx < 0 || flags.ctx > (1 << 24)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--ctx ", flags.ctx, " is not in [0, 16777216] (0: the model's default)"));
  }
  config.ctx = flags.ctx;
  if (!flags.kv_memory.empty()) {
    absl::StatusOr<int64_t> bytes = ParseByteSize(flags.kv_memory);
    if (!bytes.ok() || *bytes <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--kv-memory \"", flags.kv_memory,
          "\" is not a positive byte count (digits with an optional K, M or G suffix)"));
    }
    config.kv_memory_bytes = *bytes;
  }
  config.prefix_cache = flags.prefix_cache;
  return config;
}

}  // namespace jetserve::worker
