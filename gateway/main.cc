// jetserve-gateway --config FILE [--log-level debug|info|warning|error]
//
// Serves the public jetserve API, routes calls to local or remote workers and supervises
// the local ones. SIGTERM/SIGINT: stop accepting calls, let running calls finish (drain
// grace period), drain and stop the workers, exit 0. Exit status 2 for a bad command line
// or config, 1 when the gateway cannot start.
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <string>
#include <string_view>

#include "common/log.h"
#include "gateway/config.h"
#include "gateway/gateway.h"

namespace {

constexpr std::string_view kUsage =
    "usage: jetserve-gateway --config FILE [--log-level debug|info|warning|error]\n";

std::string ExecutableDir() {
  char buffer[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (n <= 0) return "";
  std::string path(buffer, static_cast<size_t>(n));
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

int Fail(int code, std::string_view event, std::string_view message) {
  JETSERVE_LOG(kError, event).Add("error", message);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  jetserve::SetLogComponent("gateway");
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != std::string_view::npos && arg.starts_with("--")) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    if (arg == "--help" || arg == "-h") {
      fwrite(kUsage.data(), 1, kUsage.size(), stdout);
      return 0;
    }
    if (arg != "--config" && arg != "--log-level") {
      fwrite(kUsage.data(), 1, kUsage.size(), stderr);
      return Fail(2, "usage_error", std::string("unknown argument: ") + std::string(arg));
    }
    if (!has_value) {
      if (i + 1 >= argc) return Fail(2, "usage_error", std::string(arg) + " needs a value");
      value = argv[++i];
    }
    if (arg == "--config") {
      config_path = std::string(value);
    } else {
      jetserve::LogLevel level;
      if (!jetserve::ParseLogLevel(value, &level)) {
        return Fail(2, "usage_error", "--log-level: expected debug, info, warning or error");
      }
      jetserve::SetMinLogLevel(level);
    }
  }
  if (config_path.empty()) {
    fwrite(kUsage.data(), 1, kUsage.size(), stderr);
    return Fail(2, "usage_error", "--config is required");
  }

  // Signals are taken by sigwait below; every thread inherits the blocked mask (children
  // get it cleared before exec).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto config = jetserve::gateway::LoadGatewayConfig(
      config_path, jetserve::gateway::ConfigOptions{.executable_dir = ExecutableDir()});
  if (!config.ok()) return Fail(2, "config_error", std::string(config.status().message()));

  auto gateway = jetserve::gateway::Gateway::Start(*std::move(config));
  if (!gateway.ok()) return Fail(1, "start_error", std::string(gateway.status().message()));

  int sig = 0;
  sigwait(&signals, &sig);
  JETSERVE_LOG(kInfo, "signal").Add("signal", sig);
  (*gateway)->Shutdown();
  gateway->reset();
  JETSERVE_LOG(kInfo, "exit");
  return 0;
}
