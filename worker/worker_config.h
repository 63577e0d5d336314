// WorkerConfig: the worker's command-line settings, validated. WorkerMain reads the absl
// flags into WorkerFlags and calls ParseWorkerFlags, whose errors name the flag and what
// is wrong with it (untrusted input: never a crash).
//
//   absl::StatusOr<WorkerConfig> config = ParseWorkerFlags(flags);
#ifndef JETSERVE_WORKER_WORKER_CONFIG_H_
#define JETSERVE_WORKER_WORKER_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "worker/backend.h"
#include "worker/listen_address.h"

namespace jetserve::worker {

// The flags as given.
struct WorkerFlags {
  std::string model;
  std::string name;
  std::string listen;
  std::string device = "cpu";
  std::string metrics_listen;
  std::string log_level = "info";
  absl::Duration drain_grace = absl::Seconds(30);
  int unary_threads = 0;
  int stream_queue = 8;
  int max_seqs = 16;
  int max_queued = 64;
  int ctx = 0;
  std::string kv_memory;  // bytes, optional K/M/G suffix (powers of 1024)
  bool prefix_cache = true;
};

struct WorkerConfig {
  std::string model_path;
  std::string model_name;
  ListenAddress listen;
  DeviceSpec device;
  std::optional<ListenAddress> metrics_listen;
  LogLevel log_level = LogLevel::kInfo;
  absl::Duration drain_grace;
  int unary_threads = 0;
  int stream_queue = 8;
  int max_seqs = 16;
  int max_queued = 64;
  int64_t ctx = 0;
  int64_t kv_memory_bytes = 0;
  bool prefix_cache = true;
};

absl::StatusOr<WorkerConfig> ParseWorkerFlags(const WorkerFlags& flags);

// "512M", "2G", "65536": bytes with an optional K/KiB, M/MiB, G/GiB suffix (x 1024^n).
absl::StatusOr<int64_t> ParseByteSize(std::string_view text);

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_WORKER_CONFIG_H_
