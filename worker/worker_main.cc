#include "worker/worker_main.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "worker/metrics.h"
#include "worker/telemetry.h"
#include "worker/worker_config.h"
#include "worker/worker_server.h"
#include "worker/worker_tls.h"

ABSL_FLAG(std::string, model, "", "Model file (GGUF or ONNX) to load. Required.");
ABSL_FLAG(std::string, name, "", "Name the model is served under. Required.");
ABSL_FLAG(std::string, listen, "",
          "gRPC address: host:port (port 0: any free port, printed on stdout) or unix:/path. "
          "Required.");
ABSL_FLAG(std::string, device, "cpu", "Where the model runs: cpu or cuda:N.");
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port serving Prometheus /metrics (port 0: any free port); empty: none.");
ABSL_FLAG(std::string, telemetry_root, "/",
          "Where /sys and /proc are read for device telemetry on /metrics (Jetson sysfs; NVML "
          "is loaded when present); empty: no device telemetry.");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error.");
ABSL_FLAG(absl::Duration, drain_grace, absl::Seconds(30),
          "On SIGTERM/SIGINT: how long running calls may take before they are cancelled.");
ABSL_FLAG(int, unary_threads, 0,
          "Threads running unary calls; 0: the backend's max_concurrent_requests.");
ABSL_FLAG(int, max_seqs, 16,
          "Decoder: sequences in the running batch (continuous batching); the capacity "
          "advertised to the gateway.");
ABSL_FLAG(int, max_queued, 64,
          "Decoder: requests accepted beyond --max-seqs (waiting for KV memory); more get "
          "RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, ctx, 0, "Decoder: tokens per sequence; 0: 4096 capped by the model's.");
ABSL_FLAG(std::string, kv_memory, "",
          "Decoder: KV cache memory, e.g. 512M or 2G; empty: --max-seqs full contexts, at "
          "most 512M (at least one context).");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain: serve gRPC over TLS (with --tls-key); empty: plaintext.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls-cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA certificates: clients (the gateway) must present a certificate signed by one "
          "of them (mutual TLS). Needs --tls-cert.");
ABSL_FLAG(absl::Duration, tls_reload_interval, absl::Seconds(60),
          "How often the --tls-* files are re-read: renewed certificates apply to new "
          "connections without a restart (at least 1s).");
ABSL_FLAG(bool, prefix_cache, true,
          "Decoder: keep the KV blocks of prompts and share them with later requests that "
          "start with the same tokens (evicted least recently used first); a request can "
          "opt out with GenerateRequest.prefix_cache=false.");
ABSL_FLAG(int, stream_queue, 8,
          "Generate messages queued per call before the backend is paused (flow control).");

namespace jetserve::worker {
namespace {

// Debian's Abseil has its own string_view; the log takes std::string_view.
std::string_view Std(absl::string_view s) { return {s.data(), s.size()}; }

int Fail(const char* program, const absl::Status& status, int code) {
  std::fprintf(stderr, "%s: %s\n", program, std::string(status.message()).c_str());
  JETSERVE_LOG(kError, "exit")
      .Add("code", absl::StatusCodeToString(status.code()))
      .Add("message", Std(status.message()));
  return code;
}

// Flags are documented with dashes (--metrics-listen) but Abseil names them with
// underscores: rewrite "--a-b[=v]" to "--a_b[=v]" (up to a bare "--"), keeping values.
std::vector<std::string> NormalizeFlagNames(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i < args.size(); ++i) {
    std::string& arg = args[i];
    if (arg == "--") break;
    if (arg.size() < 3 || arg[0] != '-') continue;
    const size_t start = arg[1] == '-' ? 2 : 1;
    const size_t end = std::min(arg.find('='), arg.size());
    for (size_t j = start; j < end; ++j) {
      if (arg[j] == '-') arg[j] = '_';
    }
  }
  return args;
}

}  // namespace

int WorkerMain(int argc, char** argv, const WorkerMainOptions& options) {
  absl::SetProgramUsageMessage(absl::StrCat(
      "serves one model over the internal worker gRPC API.\n  ", options.program,
      " --model PATH --name NAME --listen ADDR [--device cpu|cuda:N] [--metrics-listen ADDR]\n"
      "  (flag names take dashes or underscores: --metrics-listen = --metrics_listen)"));
  absl::FlagsUsageConfig usage;
  // --help lists the flags of this file and of the fake's main (fake_worker_main.cc).
  usage.contains_help_flags = [](absl::string_view path) {
    return absl::EndsWith(path, "worker_main.cc");
  };
  absl::SetFlagsUsageConfig(usage);
  std::vector<std::string> args = NormalizeFlagNames(argc, argv);
  std::vector<char*> arg_pointers;
  for (std::string& arg : args) arg_pointers.push_back(arg.data());
  std::vector<char*> rest =
      absl::ParseCommandLine(static_cast<int>(arg_pointers.size()), arg_pointers.data());
  SetLogComponent("worker");
  if (rest.size() > 1) {
    return Fail(options.program,
                absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", rest[1],
                                                        "\" (all settings are --flags)")),
                2);
  }
  WorkerFlags flags;
  flags.model = absl::GetFlag(FLAGS_model);
  flags.name = absl::GetFlag(FLAGS_name);
  flags.listen = absl::GetFlag(FLAGS_listen);
  flags.device = absl::GetFlag(FLAGS_device);
  flags.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  flags.log_level = absl::GetFlag(FLAGS_log_level);
  flags.drain_grace = absl::GetFlag(FLAGS_drain_grace);
  flags.unary_threads = absl::GetFlag(FLAGS_unary_threads);
  flags.stream_queue = absl::GetFlag(FLAGS_stream_queue);
  flags.max_seqs = absl::GetFlag(FLAGS_max_seqs);
  flags.max_queued = absl::GetFlag(FLAGS_max_queued);
  flags.ctx = absl::GetFlag(FLAGS_ctx);
  flags.kv_memory = absl::GetFlag(FLAGS_kv_memory);
  flags.prefix_cache = absl::GetFlag(FLAGS_prefix_cache);
  absl::StatusOr<WorkerConfig> config = ParseWorkerFlags(flags);
  if (!config.ok()) return Fail(options.program, config.status(), 2);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      LoadWorkerServerCredentials(absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key),
                                  absl::GetFlag(FLAGS_tls_client_ca),
                                  absl::GetFlag(FLAGS_tls_reload_interval));
  if (!credentials.ok()) return Fail(options.program, credentials.status(), 2);
  SetMinLogLevel(config->log_level);

  // Signals are taken by sigwait below; block them before any thread starts so that no
  // gRPC or civetweb thread receives them. A vanished client must not kill the process.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto registry = std::make_shared<prometheus::Registry>();
  WorkerMetrics metrics(*registry, config->model_name);
  std::shared_ptr<DeviceTelemetry> telemetry;  // the exposer holds a weak_ptr
  std::unique_ptr<prometheus::Exposer> exposer;
  std::string metrics_address;
  if (config->metrics_listen) {
    // prometheus-cpp reports bind failures by throwing; this is the one place we catch.
    try {
      exposer = std::make_unique<prometheus::Exposer>(config->metrics_listen->ToString(), 2);
    } catch (const std::exception& e) {
      return Fail(options.program,
                  absl::UnavailableError(absl::StrCat("--metrics-listen ",
                                                      config->metrics_listen->ToString(),
                                                      ": cannot listen: ", e.what())),
                  1);
    }
    exposer->RegisterCollectable(registry);
    if (const std::string root = absl::GetFlag(FLAGS_telemetry_root); !root.empty()) {
      telemetry = DeviceTelemetry::Create({.root = root});
      exposer->RegisterCollectable(telemetry);
      JETSERVE_LOG(kInfo, "device_telemetry")
          .Add("sources", absl::StrJoin(telemetry->sources(), ","));
    }
    const std::vector<int> ports = exposer->GetListeningPorts();
    metrics_address = absl::StrCat(config->metrics_listen->host, ":",
                                   ports.empty() ? config->metrics_listen->port : ports[0]);
  }

  const absl::Time load_start = absl::Now();
  absl::StatusOr<std::unique_ptr<Backend>> backend =
      options.factory(BackendOptions{.model_path = config->model_path,
                                     .model_name = config->model_name,
                                     .device = config->device,
                                     .metrics = &metrics,
                                     .max_seqs = config->max_seqs,
                                     .max_queued = config->max_queued,
                                     .ctx = config->ctx,
                                     .kv_memory_bytes = config->kv_memory_bytes,
                                     .prefix_cache = config->prefix_cache});
  if (!backend.ok()) return Fail(options.program, backend.status(), 1);
  JETSERVE_LOG(kInfo, "model_loaded")
      .Add("model", config->model_name)
      .Add("path", config->model_path)
      .Add("device", config->device.ToString())
      .Add("load_ms", absl::ToDoubleMilliseconds(absl::Now() - load_start));

  absl::StatusOr<std::unique_ptr<WorkerServer>> server =
      WorkerServer::Start(*std::move(backend), &metrics,
                          WorkerServer::Options{.listen = config->listen,
                                                .model_name = config->model_name,
                                                .device = config->device.ToString(),
                                                .metrics_address = metrics_address,
                                                .unary_threads = config->unary_threads,
                                                .stream = {.max_queued = config->stream_queue},
                                                .credentials = *credentials});
  if (!server.ok()) return Fail(options.program, server.status(), 1);
  std::printf("listening on %s\n", (*server)->address().c_str());
  if (!metrics_address.empty()) std::printf("metrics on %s\n", metrics_address.c_str());
  std::fflush(stdout);
  JETSERVE_LOG(kInfo, "serving")
      .Add("address", (*server)->address())
      .Add("metrics_address", metrics_address)
      .Add("pid", static_cast<int64_t>(getpid()));

  int signal_number = 0;
  while (sigwait(&signals, &signal_number) != 0) {
  }
  const absl::Duration grace = config->drain_grace;
  const int running = (*server)->StartDrain(grace);
  JETSERVE_LOG(kInfo, "draining")
      .Add("signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT")
      .Add("running_requests", int64_t{running})
      .Add("grace_ms", absl::ToDoubleMilliseconds(grace));
  // The drain timer cancels what is left at the grace period; cancelled calls end quickly.
  // A second signal cancels at once (an operator pressing Ctrl-C twice).
  const absl::Time give_up = absl::Now() + grace + absl::Seconds(5);
  bool idle = false;
  while (!(idle = (*server)->WaitForIdle(absl::Now() + absl::Milliseconds(50))) &&
         absl::Now() < give_up) {
    const timespec no_wait = {0, 0};
    if (sigtimedwait(&signals, nullptr, &no_wait) > 0) {
      JETSERVE_LOG(kWarning, "second_signal").Add("action", "cancelling running calls");
      (*server)->CancelAll("worker shutting down (second signal)");
    }
  }
  (*server)->Shutdown(absl::Now() + absl::Seconds(1));
  JETSERVE_LOG(kInfo, "stopped").Add("clean", idle);
  server->reset();
  return 0;
}

}  // namespace jetserve::worker
