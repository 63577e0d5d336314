#include "gateway/remote_monitor.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "gateway/config.h"
#include "gateway/worker_endpoint.h"

namespace jetserve::gateway {

using ::jetserve::v1::ModelInfo;

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

RemoteMonitor::RemoteMonitor(Options options, Router* router)
    : options_(std::move(options)), router_(router) {
  thread_ = std::thread([this] { Run(); });
}

RemoteMonitor::~RemoteMonitor() {
  RequestStop();
  Join();
}

void RemoteMonitor::RequestStop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
}

void RemoteMonitor::Join() {
  if (thread_.joinable()) thread_.join();
}

RemoteMonitor::Status RemoteMonitor::GetStatus() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

bool RemoteMonitor::SleepFor(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), timeout);
  return stopping_;
}

void RemoteMonitor::Run() {
  const auto& model = options_.model;
  const auto& r = model.remote();
  const absl::Duration health_interval = options_.health_interval;
  // Two generations may watch the same addresses during a reload: distinct router ids.
  auto worker_id = [&](const std::string& address) {
    return options_.generation == 0 ? address : absl::StrCat(address, "@g", options_.generation);
  };
  const absl::Duration resolve_interval = ToAbslDuration(r.resolve_interval());
  const absl::Duration probe_timeout = ProbeTimeout(health_interval);
  std::map<std::string, std::shared_ptr<WorkerEndpoint>> endpoints;
  std::map<std::string, bool> ready;
  std::map<std::string, int> failed_probes;
  for (const auto& address : r.addresses()) {
    endpoints[address] = WorkerEndpoint::Create(worker_id(address), address, options_.credentials,
                                                options_.tls_server_name);
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
          router_->RemoveWorker(model.name(), worker_id(it->first));
          ready.erase(it->first);
          failed_probes.erase(it->first);
          it = endpoints.erase(it);
        }
        for (const auto& address : fresh) {
          if (endpoints.contains(address)) continue;
          JETSERVE_LOG(kInfo, "worker_added").Add("model", model.name()).Add("worker", address);
          endpoints[address] = WorkerEndpoint::Create(
              worker_id(address), address, options_.credentials, options_.tls_server_name);
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
      absl::MutexLock lock(&mu_);
      status_.total = static_cast<int>(endpoints.size());
      if (reported.has_value()) status_.reported = std::move(reported);
      status_.probed = true;
      status_.detail = endpoints.empty() && detail.empty()
                           ? absl::StrCat("no addresses for ", r.dns_name())
                           : detail;
    }
  } while (!SleepFor(
      r.dns_name().empty()
          ? health_interval
          : std::min(health_interval, std::max(next_resolve - absl::Now(), absl::ZeroDuration()))));
  for (const auto& [address, endpoint] : endpoints) {
    router_->RemoveWorker(model.name(), worker_id(address));
  }
}

}  // namespace jetserve::gateway
