#include "gateway/worker_pool.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace jetserve::gateway {
namespace {

using ::jetserve::v1::ModelInfo;
using ::jetserve::v1::ModelState;

}  // namespace

absl::StatusOr<std::vector<std::string>> ResolveHostPort(const std::string& host_port) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(host_port, &host, &port)) {
    return absl::InvalidArgumentError(absl::StrCat("malformed host:port \"", host_port, "\""));
  }
  struct addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* result = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
  if (rc != 0) {
    return absl::UnavailableError(absl::StrCat("resolving \"", host, "\": ", gai_strerror(rc)));
  }
  std::set<std::string> out;
  for (struct addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    char text[NI_MAXHOST];
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, text, sizeof(text), nullptr, 0, NI_NUMERICHOST) !=
        0) {
      continue;
    }
    out.insert(ai->ai_family == AF_INET6 ? absl::StrCat("[", text, "]:", port)
                                         : absl::StrCat(text, ":", port));
  }
  freeaddrinfo(result);
  return std::vector<std::string>(out.begin(), out.end());
}

WorkerPool::WorkerPool(const GatewayConfig& config, Router* router, GatewayMetrics* metrics)
    : config_(config), router_(router), metrics_(metrics) {
  const auto& sup = config_.supervision();
  for (const auto& model : config_.models()) {
    if (model.has_local()) {
      auto& list = local_[model.name()];
      for (int i = 0; i < model.local().replicas(); ++i) {
        SupervisorOptions o;
        o.model = model.name();
        o.replica = i;
        o.worker_binary = config_.worker_binary();
        o.model_path = model.path();
        o.device = model.device();
        o.socket_path = absl::StrCat(config_.runtime_dir(), "/", model.name(), "-", i, ".sock");
        if (!model.local().metrics_listen().empty()) {
          std::string host;
          int port = 0;
          SplitHostPort(model.local().metrics_listen(), &host, &port);
          const bool v6 = host.find(':') != std::string::npos;
          o.metrics_listen =
              absl::StrCat(v6 ? "[" : "", host, v6 ? "]" : "", ":", port == 0 ? 0 : port + i);
        }
        o.extra_args.assign(model.local().args().begin(), model.local().args().end());
        o.env.insert(model.local().env().begin(), model.local().env().end());
        o.health_interval = ToAbslDuration(sup.health_interval());
        o.startup_timeout = ToAbslDuration(sup.startup_timeout());
        o.drain_grace_period = ToAbslDuration(sup.drain_grace_period());
        o.kill_grace_period = ToAbslDuration(sup.kill_grace_period());
        o.backoff.initial = ToAbslDuration(sup.backoff_initial());
        o.backoff.max = ToAbslDuration(sup.backoff_max());
        o.backoff.reset_after = ToAbslDuration(sup.backoff_reset_after());
        list.push_back(std::make_unique<Supervisor>(std::move(o), router_, metrics_));
      }
    } else {
      auto remote = std::make_unique<RemoteModel>();
      remote->config = &model;
      remote_[model.name()] = std::move(remote);
    }
  }
}

WorkerPool::~WorkerPool() { Stop(); }

void WorkerPool::Start() {
  for (auto& [name, list] : local_) {
    for (auto& s : list) s->Start();
  }
  for (auto& [name, remote] : remote_) {
    RemoteModel* r = remote.get();
    r->thread = std::thread([this, r] { MonitorRemote(r); });
  }
}

void WorkerPool::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    draining_ = true;
  }
  // Every supervisor drains its worker at the same time; then wait for all.
  for (auto& [name, list] : local_) {
    for (auto& s : list) s->RequestStop();
  }
  for (auto& [name, list] : local_) {
    for (auto& s : list) s->Join();
  }
  for (auto& [name, remote] : remote_) {
    if (remote->thread.joinable()) remote->thread.join();
  }
}

bool WorkerPool::SleepFor(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), timeout);
  return stopping_;
}

void WorkerPool::MonitorRemote(RemoteModel* remote) {
  const auto& model = *remote->config;
  const auto& r = model.remote();
  const absl::Duration health_interval = ToAbslDuration(config_.supervision().health_interval());
  const absl::Duration resolve_interval = ToAbslDuration(r.resolve_interval());
  const absl::Duration probe_timeout = ProbeTimeout(health_interval);
  std::map<std::string, std::shared_ptr<WorkerEndpoint>> endpoints;
  std::map<std::string, bool> ready;
  std::map<std::string, int> failed_probes;
  for (const auto& address : r.addresses()) {
    endpoints[address] = WorkerEndpoint::Create(address, address);
  }
  absl::Time next_resolve = absl::InfinitePast();
  do {
    std::string detail;
    if (!r.dns_name().empty() && absl::Now() >= next_resolve) {
      next_resolve = absl::Now() + resolve_interval;
      absl::StatusOr<std::vector<std::string>> addresses = ResolveHostPort(r.dns_name());
      if (!addresses.ok()) {
        // Keep the workers we know: a DNS hiccup must not empty the model.
        detail = std::string(addresses.status().message());
        JETSERVE_LOG(kWarning, "resolve_failed").Add("model", model.name()).Add("error", detail);
      } else {
        std::set<std::string> fresh(addresses->begin(), addresses->end());
        for (auto it = endpoints.begin(); it != endpoints.end();) {
          if (fresh.contains(it->first)) {
            ++it;
            continue;
          }
          JETSERVE_LOG(kInfo, "worker_removed").Add("model", model.name()).Add("worker", it->first);
          router_->RemoveWorker(model.name(), it->first);
          ready.erase(it->first);
          failed_probes.erase(it->first);
          it = endpoints.erase(it);
        }
        for (const auto& address : fresh) {
          if (endpoints.contains(address)) continue;
          JETSERVE_LOG(kInfo, "worker_added").Add("model", model.name()).Add("worker", address);
          endpoints[address] = WorkerEndpoint::Create(address, address);
        }
      }
    }
    std::optional<ModelInfo> reported;
    for (auto& [address, endpoint] : endpoints) {
      absl::StatusOr<jetserve::worker::v1::WorkerInfo> info = endpoint->Probe(probe_timeout);
      int& failures = failed_probes[address];
      failures = info.ok() ? 0 : failures + 1;
      if (!info.ok() && ready[address] && failures < kFailedProbesToUnready &&
          info.status().code() != absl::StatusCode::kFailedPrecondition) {
        continue;  // one failed probe of a ready worker: wait for the next
      }
      const bool ok = info.ok();
      if (ok != ready[address]) {
        ::jetserve::LogLine(ok ? LogLevel::kInfo : LogLevel::kWarning,
                            ok ? "worker_ready" : "worker_not_ready")
            .Add("model", model.name())
            .Add("worker", address)
            .Add("error", ok ? std::string() : std::string(info.status().message()));
      }
      ready[address] = ok;
      if (ok) {
        if (!reported.has_value()) reported = info->model();
        router_->SetWorker(model.name(), endpoint, true,
                           info->capacity().max_concurrent_requests());
      } else {
        if (detail.empty()) detail = absl::StrCat(address, ": ", info.status().message());
        router_->SetWorker(model.name(), endpoint, false, 0);
      }
    }
    {
      absl::MutexLock lock(&remote->mu);
      remote->total = static_cast<int>(endpoints.size());
      if (reported.has_value()) remote->reported = std::move(reported);
      remote->detail = endpoints.empty() && detail.empty()
                           ? absl::StrCat("no addresses for ", r.dns_name())
                           : detail;
    }
  } while (!SleepFor(
      r.dns_name().empty()
          ? health_interval
          : std::min(health_interval, std::max(next_resolve - absl::Now(), absl::ZeroDuration()))));
  for (const auto& [address, endpoint] : endpoints) router_->RemoveWorker(model.name(), address);
}

std::optional<ModelInfo> WorkerPool::Describe(const std::string& name) const {
  const jetserve::config::v1::ModelConfig* model = nullptr;
  for (const auto& m : config_.models()) {
    if (m.name() == name) model = &m;
  }
  if (model == nullptr) return std::nullopt;
  ModelInfo info;
  std::string detail;
  bool failing = false;
  bool loading = false;
  if (auto it = local_.find(name); it != local_.end()) {
    for (const auto& s : it->second) {
      Supervisor::Status st = s->GetStatus();
      if (st.model.has_value() && info.architecture().empty()) info = *st.model;
      if (st.consecutive_failures >= 2 && st.state != Supervisor::State::kServing) failing = true;
      if (st.state == Supervisor::State::kStarting && st.consecutive_failures == 0) loading = true;
      if (detail.empty() && st.state != Supervisor::State::kServing) detail = st.detail;
    }
  } else if (auto r = remote_.find(name); r != remote_.end()) {
    absl::MutexLock lock(&r->second->mu);
    if (r->second->reported.has_value()) info = *r->second->reported;
    detail = r->second->detail;
  }
  Router::ModelStatus status = router_->Status(name);
  info.set_name(name);
  info.set_device(model->device());
  info.set_ready_replicas(status.ready_workers);
  info.set_total_replicas(model->has_local() ? model->local().replicas() : status.total_workers);
  bool draining;
  {
    absl::MutexLock lock(&mu_);
    draining = draining_;
  }
  ModelState state;
  if (draining) {
    state = jetserve::v1::MODEL_STATE_DRAINING;
  } else if (status.ready_workers > 0) {
    state = jetserve::v1::MODEL_STATE_READY;
  } else if (failing) {
    state = jetserve::v1::MODEL_STATE_FAILING;
  } else if (loading) {
    state = jetserve::v1::MODEL_STATE_LOADING;
  } else {
    state = jetserve::v1::MODEL_STATE_UNAVAILABLE;
  }
  info.set_state(state);
  if (state != jetserve::v1::MODEL_STATE_READY) info.set_state_detail(detail);
  return info;
}

std::vector<ModelInfo> WorkerPool::DescribeAll() const {
  std::vector<ModelInfo> out;
  for (const auto& m : config_.models()) out.push_back(*Describe(m.name()));
  return out;
}

}  // namespace jetserve::gateway
