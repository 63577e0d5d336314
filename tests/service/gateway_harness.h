// Test harness for the gateway's multi-process tests: runs the real jetserve-gateway
// binary (which spawns real jetserve-fake-worker processes) on port 0 with a config in a
// temporary folder, finds its ports from its "listening" log lines, and offers clients
// for the public API, health, /metrics scraping and the fake worker's event log.
//
//   TempDir dir;
//   auto gw = GatewayProcess::Start(dir, R"({"models": [...]})");  // "listen" etc. added
//   GenerateResult r = RunGenerate(gw->stub(), "alpha", "tokens=3");
#ifndef JETSERVE_TESTS_SERVICE_GATEWAY_HARNESS_H_
#define JETSERVE_TESTS_SERVICE_GATEWAY_HARNESS_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/status.h"
#include "jetserve/v1/service.grpc.pb.h"
#include "tests/service/raw_call.h"

namespace jetserve::testing {

// $JETSERVE_BINARY_DIR/<relative> (set by ctest).
std::string BinaryPath(const std::string& relative);
std::string GatewayBinary();
std::string FakeWorkerBinary();

// A fresh folder under /tmp (short, for Unix socket paths), removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string ReadFileOrEmpty(const std::string& path);

class GatewayProcess {
 public:
  // Writes `config_json` (a complete GatewayConfig in JSON) to dir/gateway.json, starts the
  // gateway, and waits for its "listening" line (and "metrics_listening" when configured).
  static absl::StatusOr<std::unique_ptr<GatewayProcess>> Start(const TempDir& dir,
                                                               const std::string& config_json);
  ~GatewayProcess();  // Stop()

  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  pid_t pid() const { return pid_; }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  jetserve::v1::Jetserve::Stub& stub() { return *stub_; }
  std::string log() const { return ReadFileOrEmpty(log_path_); }

  // Waits until the log holds a line containing all of `parts`.
  bool WaitForLog(const std::vector<std::string>& parts, absl::Duration timeout) const;
  // Lines of the log containing all of `parts`.
  std::vector<std::string> LogLines(const std::vector<std::string>& parts) const;
  // Resident set size in KiB from /proc.
  int64_t RssKib() const;
  // SIGTERM, then waits (SIGKILL after `timeout`); returns the wait status, -1 if gone.
  int Stop(absl::Duration timeout = absl::Seconds(30));
  // GET /metrics.
  absl::StatusOr<std::string> Scrape() const;

 private:
  GatewayProcess() = default;

  pid_t pid_ = -1;
  int port_ = 0;
  int metrics_port_ = 0;
  std::string log_path_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<jetserve::v1::Jetserve::Stub> stub_;
};

// A jetserve-fake-worker started directly (a "remote" worker for the gateway), on
// 127.0.0.1 port 0 unless `args` has --listen.
class FakeWorkerProcess {
 public:
  static absl::StatusOr<std::unique_ptr<FakeWorkerProcess>> Start(
      const TempDir& dir, const std::string& name, const std::vector<std::string>& args);
  ~FakeWorkerProcess();                                    // Kill()
  const std::string& address() const { return address_; }  // "127.0.0.1:PORT"
  int port() const { return port_; }
  void Kill();

 private:
  FakeWorkerProcess() = default;
  pid_t pid_ = -1;
  std::string address_;
  int port_ = 0;
};

// Runs the gateway binary to completion (for config errors); returns exit status and the
// combined output.
struct ProcessResult {
  int exit_code = -1;
  std::string output;
};
ProcessResult RunGatewayToExit(const TempDir& dir, const std::string& config_json);

struct GenerateOptions {
  std::optional<absl::Duration> timeout;
  std::string request_id;  // sent as x-request-id when set
  std::string traceparent;
  // Extra request metadata (e.g. {"authorization", "Bearer ..."}).
  std::vector<std::pair<std::string, std::string>> metadata;
};
struct GenerateResult {
  grpc::Status status;
  std::vector<jetserve::v1::GenerateResponse> messages;
  std::string request_id;  // x-request-id of the response (initial or trailing metadata)
  std::string text() const;
};
GenerateResult RunGenerate(jetserve::v1::Jetserve::Stub& stub, const std::string& model,
                           const std::string& prompt, const GenerateOptions& options = {});

// RawCall (requests as raw bytes): tests/service/raw_call.h.

// grpc.health.v1 Check: 1 SERVING, 2 NOT_SERVING, -1 on RPC error.
int HealthOf(const std::shared_ptr<grpc::Channel>& channel, const std::string& service);
// Waits until HealthOf(service) == want.
bool WaitForHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                   int want, absl::Duration timeout);

// Waits until GetModel(model).ready_replicas >= n.
bool WaitForReadyReplicas(jetserve::v1::Jetserve::Stub& stub, const std::string& model, int n,
                          absl::Duration timeout);

// The fake worker's event log (JSON lines): lines with "event":EVENT and
// "request_id":ID (ID empty: any).
int CountEvents(const std::string& log_path, const std::string& event,
                const std::string& request_id);
bool WaitForEvent(const std::string& log_path, const std::string& event,
                  const std::string& request_id, absl::Duration timeout);

// The value of the sample `name{labels}` in a Prometheus text scrape (labels must match
// exactly, in any order); nullopt when absent.
std::optional<double> MetricValue(const std::string& scrape, const std::string& name,
                                  const std::map<std::string, std::string>& labels);

// Integer field "key":N of a JSON log line; -1 when absent.
int64_t JsonInt(const std::string& line, const std::string& key);

}  // namespace jetserve::testing

#endif  // JETSERVE_TESTS_SERVICE_GATEWAY_HARNESS_H_
