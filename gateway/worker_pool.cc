#include "gateway/worker_pool.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "google/protobuf/util/message_differencer.h"

namespace jetserve::gateway {
namespace {

using ::jetserve::v1::ModelInfo;
using ::jetserve::v1::ModelState;

}  // namespace

WorkerPool::WorkerPool(const GatewayConfig& config, Router* router, GatewayMetrics* metrics)
    : router_(router),
      metrics_(metrics),
      initial_models_(config.models().begin(), config.models().end()) {
  absl::MutexLock lock(&mu_);
  config_ = config;
  config_.clear_models();
}

WorkerPool::~WorkerPool() { Stop(); }

void WorkerPool::Start() {
  router_->SetDemandListener([this](const std::string& name) { OnDemand(name); });
  for (const auto& model : initial_models_) {
    // Validated with the whole file: no operation can fail here.
    DoLoad(model, /*wait=*/false, [](absl::Status) {});
  }
  lifecycle_ = std::thread([this] { LifecycleLoop(); });
}

void WorkerPool::CancelOperations() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  draining_ = true;
}

void WorkerPool::Stop() {
  CancelOperations();
  if (lifecycle_.joinable()) lifecycle_.join();
  // Every supervisor drains its worker at the same time; then wait for all.
  std::vector<std::unique_ptr<Generation>> generations;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [name, entry] : models_) {
      if (entry->current != nullptr) generations.push_back(std::move(entry->current));
    }
  }
  for (auto& g : generations) {
    for (auto& s : g->local) s->RequestStop();
    if (g->remote != nullptr) g->remote->RequestStop();
  }
  for (auto& g : generations) StopGeneration(std::move(g));
}

void WorkerPool::Enqueue(Op op) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      ops_.push_back(std::move(op));
      return;
    }
  }
  op(/*stopping=*/true);
}

void WorkerPool::LoadModel(ModelConfig config, bool wait, Done done) {
  Enqueue([this, config = std::move(config), wait, done = std::move(done)](bool stopping) mutable {
    if (stopping) return done(absl::UnavailableError("the gateway is shutting down"));
    DoLoad(std::move(config), wait, std::move(done));
  });
}

void WorkerPool::UnloadModel(std::string name, Done done) {
  Enqueue([this, name = std::move(name), done = std::move(done)](bool stopping) mutable {
    if (stopping) return done(absl::UnavailableError("the gateway is shutting down"));
    DoUnload(name, std::move(done));
  });
}

void WorkerPool::ReloadModel(std::string name, std::optional<ModelConfig> config, Done done) {
  Enqueue([this, name = std::move(name), config = std::move(config),
           done = std::move(done)](bool stopping) mutable {
    if (stopping) return done(absl::UnavailableError("the gateway is shutting down"));
    DoReload(name, std::move(config), std::move(done));
  });
}

void WorkerPool::ApplyConfig(GatewayConfig config, Done done) {
  Enqueue([this, config = std::move(config), done = std::move(done)](bool stopping) mutable {
    if (stopping) return done(absl::UnavailableError("the gateway is shutting down"));
    DoApply(std::move(config), std::move(done));
  });
}

void WorkerPool::LifecycleLoop() {
  // keep_alive expiry is checked this often (and after every operation).
  constexpr absl::Duration kIdleCheck = absl::Milliseconds(50);
  while (true) {
    std::optional<Op> op;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !ops_.empty(); };
      mu_.AwaitWithTimeout(absl::Condition(&ready), kIdleCheck);
      if (stopping_) break;
      if (!ops_.empty()) {
        op = std::move(ops_.front());
        ops_.pop_front();
      }
    }
    if (op.has_value()) (*op)(/*stopping=*/false);
    CheckIdle();
  }
  std::deque<Op> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(ops_);
  }
  for (auto& op : left) op(/*stopping=*/true);
}

Router::ModelOptions WorkerPool::RouterOptions(const ModelConfig& config) const {
  Router::ModelOptions o;
  o.name = config.name();
  o.queue_limit = config.queue_limit();
  if (config.has_max_in_flight_per_worker()) {
    o.max_in_flight_per_worker = config.max_in_flight_per_worker();
  }
  return o;
}

absl::Status WorkerPool::ValidateModel(ModelConfig* config, bool replacing) const {
  GatewayConfig all;
  {
    absl::MutexLock lock(&mu_);
    all = config_;
    for (const auto& [name, entry] : models_) {
      if (replacing && name == config->name()) continue;
      *all.add_models() = entry->config;
    }
  }
  *all.add_models() = *config;
  const std::string field = absl::StrCat("models[", all.models_size() - 1, "]");
  absl::Status st = ValidateGatewayConfig(ConfigOptions{}, &all);
  if (!st.ok()) {
    // Name the field as the caller wrote it ("config.path"), not by its list position.
    std::string message(st.message());
    if (absl::StartsWith(message, field)) message = "config" + message.substr(field.size());
    return absl::Status(st.code(), message);
  }
  *config = all.models(all.models_size() - 1);
  return absl::OkStatus();
}

std::unique_ptr<WorkerPool::Generation> WorkerPool::StartGeneration(Entry& entry,
                                                                    const ModelConfig& model,
                                                                    bool routable) {
  auto generation = std::make_unique<Generation>();
  generation->number = entry.generations++;
  const int64_t number = generation->number;
  const auto& sup = config_.supervision();
  if (model.has_local()) {
    for (int i = 0; i < model.local().replicas(); ++i) {
      SupervisorOptions o;
      o.model = model.name();
      o.replica = i;
      if (number > 0) o.id = absl::StrCat(model.name(), "/", i, "@g", number);
      o.routable = routable;
      o.worker_binary = config_.worker_binary();
      o.model_path = model.path();
      o.device = model.device();
      // Two generations run at once during a reload: odd ones use the second socket name.
      o.socket_path = absl::StrCat(config_.runtime_dir(), "/", model.name(), "-", i,
                                   number % 2 == 1 ? ".b" : "", ".sock");
      if (!model.local().metrics_listen().empty()) {
        std::string host;
        int port = 0;
        SplitHostPort(model.local().metrics_listen(), &host, &port);
        const bool v6 = host.find(':') != std::string::npos;
        // Fixed ports are the old generation's during a reload: odd ones pick free ports
        // (the worker reports its address in WorkerInfo.metrics_address).
        const int replica_port = port == 0 || number % 2 == 1 ? 0 : port + i;
        o.metrics_listen = absl::StrCat(v6 ? "[" : "", host, v6 ? "]" : "", ":", replica_port);
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
      generation->local.push_back(std::make_unique<Supervisor>(std::move(o), router_, metrics_));
    }
    for (auto& s : generation->local) s->Start();
  } else {
    generation->remote = std::make_unique<RemoteMonitor>(
        RemoteMonitor::Options{.model = model,
                               .health_interval = ToAbslDuration(sup.health_interval()),
                               .generation = number,
                               .credentials = remote_credentials_,
                               .tls_server_name = remote_tls_server_name_},
        router_);
  }
  JETSERVE_LOG(kInfo, "model_generation_start")
      .Add("model", model.name())
      .Add("generation", number)
      .Add("routable", routable);
  return generation;
}

absl::Status WorkerPool::WaitGeneration(const Generation& generation, absl::Duration timeout) {
  const absl::Time until = absl::Now() + timeout;
  while (true) {
    bool all_ready = true;
    if (generation.remote != nullptr) all_ready = generation.remote->GetStatus().probed;
    for (const auto& s : generation.local) {
      Supervisor::Status st = s->GetStatus();
      if (st.exits > 0) return absl::FailedPreconditionError(st.detail);
      all_ready = all_ready && st.state == Supervisor::State::kServing;
    }
    if (all_ready) return absl::OkStatus();
    if (absl::Now() >= until) {
      return absl::DeadlineExceededError(
          absl::StrCat("workers did not report SERVING within ", absl::FormatDuration(timeout)));
    }
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(20))) {
      return absl::UnavailableError("the gateway is shutting down");
    }
  }
}

void WorkerPool::StopGeneration(std::unique_ptr<Generation> generation) {
  if (generation == nullptr) return;
  for (auto& s : generation->local) s->RequestStop();
  if (generation->remote != nullptr) {
    generation->remote->RequestStop();
    generation->remote->Join();
  }
  for (auto& s : generation->local) s->Join();
}

void WorkerPool::DoLoad(ModelConfig config, bool wait, Done done) {
  {
    absl::MutexLock lock(&mu_);
    if (models_.contains(config.name())) {
      return done(
          absl::AlreadyExistsError(absl::StrCat("model \"", config.name(), "\" is served")));
    }
  }
  absl::Status valid = ValidateModel(&config, /*replacing=*/false);
  if (!valid.ok()) return done(valid);
  const std::string name = config.name();
  const Generation* started = nullptr;
  absl::Duration timeout;
  {
    absl::MutexLock lock(&mu_);
    if (models_.contains(name)) {
      return done(absl::AlreadyExistsError(absl::StrCat("model \"", name, "\" is served")));
    }
    timeout = ToAbslDuration(config_.supervision().startup_timeout());
    auto entry = std::make_unique<Entry>();
    entry->config = config;
    models_[name] = std::move(entry);
  }
  // Router calls stay outside mu_: they may run grants, and grants may call OnDemand.
  router_->AddModel(RouterOptions(config));
  if (config.has_keep_alive()) router_->SetHold(name, true);  // loads on the first call
  if (!config.has_keep_alive()) {
    absl::MutexLock lock(&mu_);
    Entry& entry = *models_[name];
    entry.current = StartGeneration(entry, config, /*routable=*/true);
    started = entry.current.get();
  }
  JETSERVE_LOG(kInfo, "model_added").Add("model", name).Add("keep_alive", config.has_keep_alive());
  if (!wait || started == nullptr) return done(absl::OkStatus());
  absl::Status ready = WaitGeneration(*started, timeout);
  if (ready.ok()) {
    absl::MutexLock lock(&mu_);
    models_[name]->resident_since = absl::Now();
  } else {
    std::unique_ptr<Entry> entry;
    {
      absl::MutexLock lock(&mu_);
      entry = std::move(models_[name]);
      models_.erase(name);
    }
    router_->RemoveModel(name);
    StopGeneration(std::move(entry->current));
    JETSERVE_LOG(kWarning, "model_load_failed")
        .Add("model", name)
        .Add("error", std::string(ready.message()));
    return done(absl::FailedPreconditionError(
        absl::StrCat("model \"", name, "\" did not start: ", ready.message())));
  }
  done(absl::OkStatus());
}

void WorkerPool::DoUnload(const std::string& name, Done done) {
  std::unique_ptr<Entry> entry;
  {
    absl::MutexLock lock(&mu_);
    auto it = models_.find(name);
    if (it == models_.end()) {
      return done(absl::NotFoundError(absl::StrCat("model \"", name, "\" is not served")));
    }
    entry = std::move(it->second);
    models_.erase(it);
  }
  router_->RemoveModel(name);
  JETSERVE_LOG(kInfo, "model_removed").Add("model", name);
  done(absl::OkStatus());
  StopGeneration(std::move(entry->current));  // running calls finish within the grace
}

void WorkerPool::DoReload(const std::string& name, std::optional<ModelConfig> config, Done done) {
  ModelConfig next;
  {
    absl::MutexLock lock(&mu_);
    auto it = models_.find(name);
    if (it == models_.end()) {
      return done(absl::NotFoundError(absl::StrCat("model \"", name, "\" is not served")));
    }
    next = config.has_value() ? *config : it->second->config;
  }
  if (next.name() != name) {
    return done(absl::InvalidArgumentError(
        absl::StrCat("config.name: must be \"", name, "\", got \"", next.name(), "\"")));
  }
  absl::Status valid = ValidateModel(&next, /*replacing=*/true);
  if (!valid.ok()) return done(valid);
  std::unique_ptr<Generation> fresh;
  absl::Duration timeout;
  bool was_idle;
  {
    absl::MutexLock lock(&mu_);
    Entry& entry = *models_[name];
    timeout = ToAbslDuration(config_.supervision().startup_timeout());
    was_idle = entry.current == nullptr;
    if (!was_idle || !next.has_keep_alive()) {
      fresh = StartGeneration(entry, next, /*routable=*/false);
    } else {
      entry.config = next;  // nothing runs: the next call starts workers with it
    }
  }
  if (fresh == nullptr) {
    router_->AddModel(RouterOptions(next));
    JETSERVE_LOG(kInfo, "model_reloaded").Add("model", name).Add("idle", true);
    return done(absl::OkStatus());
  }
  absl::Status ready = WaitGeneration(*fresh, timeout);
  if (!ready.ok()) {
    StopGeneration(std::move(fresh));
    {
      absl::MutexLock lock(&mu_);
      models_[name]->last_error = std::string(ready.message());
    }
    JETSERVE_LOG(kWarning, "model_reload_failed")
        .Add("model", name)
        .Add("error", std::string(ready.message()));
    return done(absl::FailedPreconditionError(absl::StrCat(
        "reload of model \"", name, "\" failed",
        was_idle ? "" : "; the previous workers keep serving", ": ", ready.message())));
  }
  // Switch: new workers take calls, then the old ones stop taking them and drain.
  router_->AddModel(RouterOptions(next));
  for (auto& s : fresh->local) s->Activate();
  std::unique_ptr<Generation> old;
  {
    absl::MutexLock lock(&mu_);
    Entry& entry = *models_[name];
    old = std::move(entry.current);
    entry.current = std::move(fresh);
    entry.config = next;
    entry.last_error.clear();
    entry.resident_since = absl::Now();
  }
  router_->SetHold(name, false);
  JETSERVE_LOG(kInfo, "model_reloaded").Add("model", name).Add("idle", false);
  done(absl::OkStatus());
  StopGeneration(std::move(old));
}

void WorkerPool::DoApply(GatewayConfig config, Done done) {
  std::vector<std::string> removed;
  std::vector<ModelConfig> added, changed;
  {
    absl::MutexLock lock(&mu_);
    // New workers use the new binary and supervision settings.
    config_.set_worker_binary(config.worker_binary());
    *config_.mutable_supervision() = config.supervision();
    std::set<std::string> names;
    for (const auto& m : config.models()) {
      names.insert(m.name());
      auto it = models_.find(m.name());
      if (it == models_.end()) {
        added.push_back(m);
      } else if (!google::protobuf::util::MessageDifferencer::Equals(it->second->config, m)) {
        changed.push_back(m);
      }
    }
    for (const auto& [name, entry] : models_) {
      if (!names.contains(name)) removed.push_back(name);
    }
  }
  absl::Status first = absl::OkStatus();
  auto collect = [&first](absl::Status st) {
    if (first.ok()) first = st;
  };
  for (const auto& name : removed) DoUnload(name, collect);
  for (auto& m : added) DoLoad(std::move(m), /*wait=*/false, collect);
  for (auto& m : changed) DoReload(m.name(), m, collect);
  JETSERVE_LOG(kInfo, "config_applied")
      .Add("added", static_cast<int64_t>(added.size()))
      .Add("removed", static_cast<int64_t>(removed.size()))
      .Add("changed", static_cast<int64_t>(changed.size()))
      .Add("error", std::string(first.message()));
  done(first);
}

void WorkerPool::OnDemand(const std::string& name) {
  {
    absl::MutexLock lock(&mu_);
    auto it = models_.find(name);
    if (stopping_ || it == models_.end() || !it->second->config.has_keep_alive() ||
        it->second->loading) {
      return;
    }
    it->second->loading = true;
    ops_.push_back([this, name](bool stopping) {
      if (!stopping) DoWake(name);
    });
  }
}

void WorkerPool::DoWake(const std::string& name) {
  const Generation* started;
  absl::Duration timeout;
  {
    absl::MutexLock lock(&mu_);
    auto it = models_.find(name);
    if (it == models_.end()) return;
    Entry& entry = *it->second;
    if (entry.current != nullptr) {
      entry.loading = false;
      return;
    }
    timeout = ToAbslDuration(config_.supervision().startup_timeout());
    entry.current = StartGeneration(entry, entry.config, /*routable=*/true);
    started = entry.current.get();
  }
  JETSERVE_LOG(kInfo, "model_wake").Add("model", name);
  absl::Status ready = WaitGeneration(*started, timeout);
  std::unique_ptr<Generation> failed;
  {
    absl::MutexLock lock(&mu_);
    Entry& entry = *models_[name];
    entry.loading = false;
    if (ready.ok()) {
      entry.resident_since = absl::Now();
      entry.last_error.clear();
    } else {
      entry.last_error = std::string(ready.message());
      failed = std::move(entry.current);
    }
  }
  if (ready.ok()) {
    router_->SetHold(name, false);
    return;
  }
  StopGeneration(std::move(failed));
  JETSERVE_LOG(kWarning, "model_load_failed")
      .Add("model", name)
      .Add("error", std::string(ready.message()));
  // The waiting calls fail with the reason; the next call tries again.
  router_->SetHold(name, false, absl::StrCat("workers did not start: ", ready.message()));
  router_->SetHold(name, true);
}

void WorkerPool::CheckIdle() {
  const absl::Time now = absl::Now();
  std::vector<std::string> expired;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, entry] : models_) {
      if (!entry->config.has_keep_alive() || entry->current == nullptr || entry->loading) {
        continue;
      }
      Router::ModelStatus status = router_->Status(name);
      const absl::Time last = std::max(status.last_activity, entry->resident_since);
      if (status.in_flight == 0 && status.queued == 0 &&
          now - last >= ToAbslDuration(entry->config.keep_alive())) {
        expired.push_back(name);
      }
    }
  }
  for (const auto& name : expired) {
    // Calls from now on wait for the next start instead of failing.
    router_->SetHold(name, true);
    std::unique_ptr<Generation> old;
    {
      absl::MutexLock lock(&mu_);
      old = std::move(models_[name]->current);
    }
    JETSERVE_LOG(kInfo, "model_idle").Add("model", name);
    StopGeneration(std::move(old));
  }
}

std::optional<ModelInfo> WorkerPool::Describe(const std::string& name) const {
  std::optional<jetserve::v1::AdminModel> admin = DescribeAdmin(name);
  if (!admin.has_value()) return std::nullopt;
  return std::move(*admin->mutable_info());
}

std::vector<ModelInfo> WorkerPool::DescribeAll() const {
  std::vector<ModelInfo> out;
  for (auto& admin : DescribeAllAdmin()) out.push_back(std::move(*admin.mutable_info()));
  return out;
}

std::vector<jetserve::v1::AdminModel> WorkerPool::DescribeAllAdmin() const {
  std::vector<std::string> names;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, entry] : models_) names.push_back(name);
  }
  std::vector<jetserve::v1::AdminModel> out;
  for (const auto& name : names) {
    auto admin = DescribeAdmin(name);
    if (admin.has_value()) out.push_back(std::move(*admin));
  }
  return out;
}

std::optional<jetserve::v1::AdminModel> WorkerPool::DescribeAdmin(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = models_.find(name);
  if (it == models_.end()) return std::nullopt;
  const Entry& entry = *it->second;
  const ModelConfig& model = entry.config;
  jetserve::v1::AdminModel admin;
  ModelInfo& info = *admin.mutable_info();
  std::string detail;
  bool failing = false;
  bool loading = entry.loading;
  const Generation* generation = entry.current.get();
  if (generation != nullptr) {
    for (const auto& s : generation->local) {
      Supervisor::Status st = s->GetStatus();
      if (st.model.has_value() && info.architecture().empty()) info = *st.model;
      if (st.consecutive_failures >= 2 && st.state != Supervisor::State::kServing) failing = true;
      if (st.state == Supervisor::State::kStarting && st.consecutive_failures == 0) loading = true;
      if (detail.empty() && st.state != Supervisor::State::kServing) detail = st.detail;
    }
    if (generation->remote != nullptr) {
      RemoteMonitor::Status remote = generation->remote->GetStatus();
      if (remote.reported.has_value()) info = *std::move(remote.reported);
      detail = std::move(remote.detail);
    }
  }
  Router::ModelStatus status = router_->Status(name);
  info.set_name(name);
  info.set_device(model.device());
  info.set_ready_replicas(status.ready_workers);
  info.set_total_replicas(model.has_local() ? model.local().replicas() : status.total_workers);
  ModelState state;
  if (draining_) {
    state = jetserve::v1::MODEL_STATE_DRAINING;
  } else if (status.ready_workers > 0) {
    state = jetserve::v1::MODEL_STATE_READY;
  } else if (failing) {
    state = jetserve::v1::MODEL_STATE_FAILING;
  } else if (loading) {
    state = jetserve::v1::MODEL_STATE_LOADING;
  } else if (generation == nullptr && model.has_keep_alive()) {
    state = jetserve::v1::MODEL_STATE_IDLE;
  } else {
    state = jetserve::v1::MODEL_STATE_UNAVAILABLE;
  }
  info.set_state(state);
  if (state == jetserve::v1::MODEL_STATE_IDLE && !entry.last_error.empty()) {
    detail = entry.last_error;
  }
  if (state != jetserve::v1::MODEL_STATE_READY) info.set_state_detail(detail);
  *admin.mutable_config() = model;
  admin.set_resident(generation != nullptr);
  admin.set_generation(generation != nullptr ? generation->number : entry.generations);
  if (status.last_activity != absl::InfinitePast()) {
    const int64_t nanos = absl::ToUnixNanos(status.last_activity);
    admin.mutable_last_used()->set_seconds(nanos / 1000000000);
    admin.mutable_last_used()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  }
  admin.set_last_error(entry.last_error);
  return admin;
}

}  // namespace jetserve::gateway
