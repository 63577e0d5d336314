// WorkerConfig: the worker's command-line settings, validated. WorkerMain reads the absl
// flags into WorkerFlags and calls ParseWorkerFlags, whose errors name the flag and what
// is wrong with it (untrusted input: never a crash).
//
//   absl::StatusOr<WorkerConfig> config = ParseWorkerFlags(flags);
#ifndef JETSERVE_WORKER_WORKER_CONFIG_H_
#define JETSERVE_WORKER_WORKER_CONFIG_H_

#include <optional>
#include <string>

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
};

absl::StatusOr<WorkerConfig> ParseWorkerFlags(const WorkerFlags& flags);

}  // namespace jetserve::worker

#endif  // JETSERVE_WORKER_WORKER_CONFIG_H_
