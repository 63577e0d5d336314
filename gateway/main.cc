// jetserve-gateway --config FILE [--http-listen HOST:PORT] [--log-level debug|info|warning|error]
//
// --http-listen (or the config's http_listen) also serves the Ollama- and OpenAI-compatible
// HTTP API (gateway/http/http_server.h) on that address.
//
// Serves the public jetserve API, routes calls to local or remote workers and supervises
// the local ones. SIGTERM/SIGINT: health NOT_SERVING, new calls UNAVAILABLE, running calls
// finish (drain grace period), the workers drain and stop, exit 0. SIGHUP: re-read the
// config file and apply what changed (a bad file is logged and changes nothing). Exit
// status 2 for a bad command line or config, 1 when the gateway cannot start.
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "common/log.h"
#include "gateway/config.h"
#include "gateway/gateway.h"
#include "gateway/http/http_server.h"

namespace {

constexpr std::string_view kUsage =
    "usage: jetserve-gateway --config FILE [--http-listen HOST:PORT]\n"
    "                        [--log-level debug|info|warning|error]\n";

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
  std::string http_listen;
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
    if (arg != "--config" && arg != "--log-level" && arg != "--http-listen") {
      fwrite(kUsage.data(), 1, kUsage.size(), stderr);
      return Fail(2, "usage_error", std::string("unknown argument: ") + std::string(arg));
    }
    if (!has_value) {
      if (i + 1 >= argc) return Fail(2, "usage_error", std::string(arg) + " needs a value");
      value = argv[++i];
    }
    if (arg == "--config") {
      config_path = std::string(value);
    } else if (arg == "--http-listen") {
      http_listen = std::string(value);
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
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const jetserve::gateway::ConfigOptions config_options{.executable_dir = ExecutableDir()};
  auto config = jetserve::gateway::LoadGatewayConfig(config_path, config_options);
  if (!config.ok()) return Fail(2, "config_error", std::string(config.status().message()));
  if (!http_listen.empty()) config->set_http_listen(http_listen);
  jetserve::gateway::http::HttpServerOptions http_options{
      .listen = config->http_listen(),
      .max_request_bytes = static_cast<size_t>(config->limits().max_request_bytes())};
  if (config->http_tls()) {  // HTTPS with the gRPC port's certificate
    http_options.tls_cert_file = config->tls().cert_file();
    http_options.tls_key_file = config->tls().key_file();
    http_options.tls_client_ca_file = config->tls().client_ca_file();
  }

  auto gateway = jetserve::gateway::Gateway::Start(*std::move(config));
  if (!gateway.ok()) return Fail(1, "start_error", std::string(gateway.status().message()));
  std::unique_ptr<jetserve::gateway::http::HttpServer> http;
  if (!http_options.listen.empty()) {
    jetserve::gateway::http::HttpServerOptions options = http_options;
    options.registry = &(*gateway)->registry();
    options.auth = &(*gateway)->auth();
    auto started =
        jetserve::gateway::http::HttpServer::Start(options, (*gateway)->InProcessChannel());
    if (!started.ok()) return Fail(1, "start_error", std::string(started.status().message()));
    http = *std::move(started);
  }

  int sig = 0;
  while (true) {
    if (sigwait(&signals, &sig) != 0) continue;
    JETSERVE_LOG(kInfo, "signal").Add("signal", sig);
    if (sig != SIGHUP) break;
    auto fresh = jetserve::gateway::LoadGatewayConfig(config_path, config_options);
    if (!fresh.ok()) {
      JETSERVE_LOG(kError, "config_reload_error")
          .Add("error", std::string(fresh.status().message()));
      continue;
    }
    if (!http_listen.empty()) fresh->set_http_listen(http_listen);
    (*gateway)->ApplyConfig(*std::move(fresh));
  }
  // HTTP stops accepting first; its running calls end with the gateway's drain.
  if (http != nullptr) http->Stop();
  (*gateway)->Shutdown();
  http.reset();
  gateway->reset();
  JETSERVE_LOG(kInfo, "exit");
  return 0;
}
