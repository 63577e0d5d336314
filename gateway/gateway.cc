#include "gateway/gateway.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "gateway/tls.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "jetserve/v1/service.pb.h"

namespace jetserve::gateway {
Gateway::Gateway(GatewayConfig config) : config_(std::move(config)) {}

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(GatewayConfig config) {
  std::unique_ptr<Gateway> g(new Gateway(std::move(config)));
  GatewayConfig& c = g->config_;

  if (c.runtime_dir().empty()) {
    const char* tmp = getenv("TMPDIR");
    std::string pattern =
        absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/jetserve-gateway-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(
          absl::StrCat("runtime_dir: cannot create ", pattern, ": ", strerror(errno)));
    }
    c.set_runtime_dir(pattern);
    g->owns_runtime_dir_ = true;
  } else if (mkdir(c.runtime_dir().c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(
        absl::StrCat("runtime_dir: cannot create \"", c.runtime_dir(), "\": ", strerror(errno)));
  }
  // Re-check socket path lengths now that runtime_dir is known.
  absl::Status valid = ValidateGatewayConfig(ConfigOptions{}, &c);
  if (!valid.ok()) return valid;

  bool any_local = false;
  for (const auto& m : c.models()) any_local = any_local || m.has_local();
  if (any_local && c.worker_binary().find('/') != std::string::npos &&
      access(c.worker_binary().c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("worker_binary: cannot execute \"",
                                                      c.worker_binary(), "\": ", strerror(errno)));
  }

  g->registry_ = std::make_shared<prometheus::Registry>();
  g->metrics_ = std::make_unique<GatewayMetrics>(*g->registry_);
  if (!c.metrics_listen().empty()) {
    try {  // prometheus-cpp reports bind failures by exception; keep them at this boundary
      g->exposer_ = std::make_unique<prometheus::Exposer>(c.metrics_listen());
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("metrics_listen: cannot listen on \"",
                                                 c.metrics_listen(), "\": ", e.what()));
    }
    g->exposer_->RegisterCollectable(g->registry_);
    auto ports = g->exposer_->GetListeningPorts();
    g->metrics_port_ = ports.empty() ? 0 : ports.front();
    JETSERVE_LOG(kInfo, "metrics_listening")
        .Add("address", c.metrics_listen())
        .Add("port", g->metrics_port_);
  }

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> server_credentials =
      LoadServerCredentials(c);
  if (!server_credentials.ok()) return server_credentials.status();
  absl::StatusOr<WorkerChannelCredentials> worker_credentials = LoadWorkerChannelCredentials(c);
  if (!worker_credentials.ok()) return worker_credentials.status();
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::Create(c.auth(), {.registry = g->registry_.get()});
  if (!auth.ok()) return auth.status();
  g->auth_ = *std::move(auth);

  g->router_ = std::make_unique<Router>(g->metrics_.get());
  g->pool_ = std::make_unique<WorkerPool>(c, g->router_.get(), g->metrics_.get());
  g->pool_->SetRemoteCredentials(worker_credentials->credentials, worker_credentials->server_name);
  PublicServiceOptions service_options;
  if (c.limits().has_default_deadline()) {
    service_options.default_deadline = ToAbslDuration(c.limits().default_deadline());
  }
  if (c.limits().has_max_tokens()) service_options.max_tokens = c.limits().max_tokens();
  service_options.limits = c.limits();
  service_options.auth = g->auth_.get();
  g->service_ = std::make_unique<PublicService>(g->router_.get(), g->pool_.get(), g->metrics_.get(),
                                                service_options);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // service.pb.cc holds only jetserve.v1.Jetserve's file descriptor and nothing referenced
  // it, so the static link dropped it and reflection answered "Symbol not found" for the
  // service (grpcurl describe/call). Using its table links it in.
  if (google::protobuf::DescriptorPool::generated_pool()->FindFileByName(
          descriptor_table_jetserve_2fv1_2fservice_2eproto.filename) == nullptr) {
    JETSERVE_LOG(kWarning, "reflection").Add("error", "jetserve/v1/service.proto not linked");
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort(c.listen(), *server_credentials, &g->port_);
  builder.SetMaxReceiveMessageSize(c.limits().max_request_bytes());
  // A port another process holds is an error, not a silently shared SO_REUSEPORT socket.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  g->admin_ = std::make_unique<AdminService>(g->pool_.get(), AdminAuthorization(g->auth_.get()));
  builder.RegisterService(g->service_.get());
  builder.RegisterService(g->admin_.get());
  g->server_ = builder.BuildAndStart();
  if (g->server_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("listen: cannot listen on \"", c.listen(), "\""));
  }
  const bool unix_socket = absl::StartsWith(c.listen(), "unix:");
  if (!unix_socket && g->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("listen: cannot listen on \"", c.listen(), "\""));
  }
  auto* health = g->server_->GetHealthCheckService();
  health->SetServingStatus("", false);
  for (const auto& m : c.models()) health->SetServingStatus(m.name(), false);
  Gateway* raw = g.get();
  g->router_->SetReadinessListener(
      [raw](const std::string& model, bool serving) { raw->OnReadiness(model, serving); });
  g->pool_->Start();

  std::string address = c.listen();
  if (!unix_socket) {
    address = absl::StrCat(c.listen().substr(0, c.listen().rfind(':')), ":", g->port_);
  }
  JETSERVE_LOG(kInfo, "listening")
      .Add("address", address)
      .Add("port", g->port_)
      .Add("runtime_dir", c.runtime_dir())
      .Add("models", c.models_size())
      .Add("tls", c.has_tls() ? (c.tls().client_ca_file().empty() ? "tls" : "mtls") : "off")
      .Add("api_keys", g->auth_->size());
  return g;
}

std::shared_ptr<grpc::Channel> Gateway::InProcessChannel() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(config_.limits().max_request_bytes());
  return server_->InProcessChannel(args);
}

void Gateway::OnReadiness(const std::string& model, bool serving) {
  absl::MutexLock lock(&mu_);
  if (shut_down_ || server_ == nullptr) return;
  serving_[model] = serving;
  bool any = false;
  for (const auto& [name, s] : serving_) any = any || s;
  auto* health = server_->GetHealthCheckService();
  health->SetServingStatus(model, serving);
  health->SetServingStatus("", any);
  JETSERVE_LOG(kInfo, "model_health").Add("model", model).Add("serving", serving);
}

void Gateway::ApplyConfig(GatewayConfig config) {
  // Fields the running gateway cannot change.
  std::vector<std::string> restart;
  if (config.listen() != config_.listen()) restart.push_back("listen");
  if (config.metrics_listen() != config_.metrics_listen()) restart.push_back("metrics_listen");
  if (!config.runtime_dir().empty() && config.runtime_dir() != config_.runtime_dir()) {
    restart.push_back("runtime_dir");
  }
  if (!google::protobuf::util::MessageDifferencer::Equals(config.limits(), config_.limits())) {
    restart.push_back("limits");
  }
  if (!restart.empty()) {
    JETSERVE_LOG(kWarning, "config_needs_restart").Add("fields", absl::StrJoin(restart, ","));
  }
  config.set_runtime_dir(config_.runtime_dir());
  absl::Status keys = auth_->Reload(config.auth());
  if (!keys.ok()) {
    JETSERVE_LOG(kWarning, "config_apply_error").Add("error", std::string(keys.message()));
  }
  pool_->ApplyConfig(std::move(config), [](absl::Status status) {
    if (!status.ok()) {
      JETSERVE_LOG(kWarning, "config_apply_error").Add("error", std::string(status.message()));
    }
  });
}

void Gateway::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
    if (server_ != nullptr) server_->GetHealthCheckService()->Shutdown();
  }
  JETSERVE_LOG(kInfo, "shutdown_begin");
  // Queued calls fail with UNAVAILABLE (clients retry elsewhere); running ones get the
  // drain grace period to finish.
  const absl::Time drain_deadline =
      absl::Now() + ToAbslDuration(config_.supervision().drain_grace_period());
  if (router_ != nullptr) router_->Shutdown();
  // Lifecycle calls in progress end now (UNAVAILABLE), so the server's shutdown need not
  // wait for them.
  if (pool_ != nullptr) pool_->CancelOperations();
  // The server keeps taking calls (answered UNAVAILABLE by the router) until the routed
  // ones ended: gRPC answers calls that arrive at a server shutting down with CANCELLED,
  // which clients do not take for "try elsewhere".
  if (router_ != nullptr) router_->WaitIdle(drain_deadline);
  if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(drain_deadline));
  if (pool_ != nullptr) pool_->Stop();
  if (server_ != nullptr) server_->Wait();
  exposer_.reset();
  if (owns_runtime_dir_) {
    std::error_code ec;
    std::filesystem::remove_all(config_.runtime_dir(), ec);
  }
  JETSERVE_LOG(kInfo, "shutdown_end");
}

Gateway::~Gateway() { Shutdown(); }

}  // namespace jetserve::gateway
