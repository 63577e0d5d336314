// jetserve-fake-worker: the real worker main with the fake backend, for multi-process
// service tests. Usage and scripting: tests/service/fake_backend.h.
#include <cstdio>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/time/clock.h"
#include "tests/service/fake_backend.h"
#include "worker/worker_main.h"

ABSL_FLAG(int, fake_capacity, 4, "Advertised Capacity.max_concurrent_requests (>= 1).");
ABSL_FLAG(bool, fake_crash_at_start, false, "Exit 1 before serving.");
ABSL_FLAG(int, fake_start_delay_ms, 0, "Sleep this long before serving (a slow load).");
ABSL_FLAG(std::string, fake_event_log, "", "Append one JSON line per backend event here.");

int main(int argc, char** argv) {
  auto factory = [](const jetserve::worker::BackendOptions& options)
      -> absl::StatusOr<std::unique_ptr<jetserve::worker::Backend>> {
    if (absl::GetFlag(FLAGS_fake_crash_at_start)) {
      return absl::InternalError("fake crash at start (--fake-crash-at-start)");
    }
    const int capacity = absl::GetFlag(FLAGS_fake_capacity);
    if (capacity < 1) {
      return absl::InvalidArgumentError("--fake-capacity must be at least 1");
    }
    absl::SleepFor(absl::Milliseconds(absl::GetFlag(FLAGS_fake_start_delay_ms)));
    return std::make_unique<jetserve::testing::FakeBackend>(
        jetserve::testing::FakeBackendOptions{.name = options.model_name,
                                              .capacity = capacity,
                                              .event_log_path = absl::GetFlag(FLAGS_fake_event_log),
                                              .metrics = options.metrics});
  };
  return jetserve::worker::WorkerMain(argc, argv,
                                      {.program = "jetserve-fake-worker", .factory = factory});
}
