// Test helpers for talking to a worker: stubs, a Generate stream reader, grpc.health.v1 and
// reflection probes without generated code (Debian ships neither proto), Prometheus
// registry/scrape readers, and a child-process runner for the worker binaries.
//
//   auto stub = ConnectWorker("127.0.0.1:4711");
//   GenerateResult r = RunGenerate(*stub, MakeGenerateRequest("r1", "tokens=5"));
//   EXPECT_EQ(HealthStatus(channel, ""), kServing);
//   ASSERT_OK_AND_ASSIGN(ChildProcess p, ChildProcess::Start({bin, "--name=x", ...}));
//   ASSERT_OK_AND_ASSIGN(std::string address, p.WaitForListening(absl::Seconds(10)));
#ifndef JETSERVE_TESTS_SERVICE_WORKER_TEST_CLIENT_H_
#define JETSERVE_TESTS_SERVICE_WORKER_TEST_CLIENT_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "jetserve/worker/v1/worker.grpc.pb.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"

namespace jetserve::testing {

std::shared_ptr<grpc::Channel> WorkerChannel(const std::string& address);
std::unique_ptr<jetserve::worker::v1::Worker::Stub> ConnectWorker(const std::string& address);

jetserve::worker::v1::GenerateRequest MakeGenerateRequest(const std::string& request_id,
                                                          const std::string& prompt);

struct GenerateResult {
  std::vector<jetserve::v1::GenerateResponse> messages;
  grpc::Status status;
};
// Runs a whole Generate call; `deadline` unset means none.
GenerateResult RunGenerate(jetserve::worker::v1::Worker::Stub& stub,
                           const jetserve::worker::v1::GenerateRequest& request,
                           std::optional<absl::Duration> timeout = std::nullopt);

// grpc.health.v1.Health/Check: 1 SERVING, 2 NOT_SERVING, 3 SERVICE_UNKNOWN; an error
// status when the call failed (e.g. NOT_FOUND for an unknown service).
inline constexpr int kServing = 1;
inline constexpr int kNotServing = 2;
absl::StatusOr<int> HealthStatus(const std::shared_ptr<grpc::Channel>& channel,
                                 const std::string& service);
// Server reflection list_services: the names of the services served.
absl::StatusOr<std::vector<std::string>> ReflectionServices(
    const std::shared_ptr<grpc::Channel>& channel);

// Value of a counter or gauge, or the sample count of a histogram, with exactly these
// labels; nullopt if absent.
std::optional<double> MetricValue(const std::vector<prometheus::MetricFamily>& families,
                                  const std::string& name,
                                  const std::map<std::string, std::string>& labels);

// GET http://host:port/path; returns the body.
absl::StatusOr<std::string> HttpGet(const std::string& host_port, const std::string& path);

// Directory of the built binaries (JETSERVE_BINARY_DIR, set by ctest).
std::string BinaryDir();

// A child process with stdout and stderr captured to files; killed (SIGKILL) if still
// running when destroyed.
class ChildProcess {
 public:
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Waits for the "listening on ADDR" line on stdout; returns ADDR.
  absl::StatusOr<std::string> WaitForListening(absl::Duration timeout);
  // Waits for stdout to contain a line starting with `prefix`; returns the rest of it.
  absl::StatusOr<std::string> WaitForStdoutLine(const std::string& prefix, absl::Duration timeout);
  void Signal(int signal);
  // The exit code (or 128 + signal), or nullopt if still running after `timeout`.
  std::optional<int> Wait(absl::Duration timeout);
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string stdout_path_;
  std::string stderr_path_;
};

}  // namespace jetserve::testing

#endif  // JETSERVE_TESTS_SERVICE_WORKER_TEST_CLIENT_H_
