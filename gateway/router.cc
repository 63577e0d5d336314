#include "gateway/router.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace jetserve::gateway {

WorkerLease& WorkerLease::operator=(WorkerLease&& other) noexcept {
  if (this != &other) {
    Release();
    router_ = std::exchange(other.router_, nullptr);
    model_ = std::move(other.model_);
    model_id_ = other.model_id_;
    slot_ = std::move(other.slot_);
    endpoint_ = std::move(other.endpoint_);
  }
  return *this;
}

void WorkerLease::Release() {
  if (router_ != nullptr) {
    Router* router = std::exchange(router_, nullptr);
    router->Release(model_, model_id_, slot_);
    endpoint_->CallEnded();
  }
  slot_.reset();
}

Router::Router(GatewayMetrics* metrics) : metrics_(metrics) {
  deadline_thread_ = std::thread([this] { DeadlineLoop(); });
}

Router::~Router() { Shutdown(); }

void Router::AddModel(const ModelOptions& options) {
  absl::MutexLock lock(&mu_);
  auto& m = models_[options.name];
  if (m != nullptr) {
    m->options = options;
    m->queue.set_limit(options.queue_limit);
    return;
  }
  m = std::make_unique<Model>(options, next_model_id_++);
  if (metrics_ != nullptr) {
    metrics_->InFlight(options.name).Set(0);
    metrics_->QueueDepth(options.name).Set(0);
    metrics_->WorkersUp(options.name).Set(0);
    metrics_->Restarts(options.name);  // exported as 0 from the start
  }
}

bool Router::HasModel(const std::string& model) const {
  absl::MutexLock lock(&mu_);
  return models_.contains(model);
}

void Router::RemoveModel(const std::string& model) {
  std::vector<Ready> out;
  std::vector<std::pair<std::string, bool>> changes;
  {
    absl::MutexLock lock(&mu_);
    auto it = models_.find(model);
    if (it == models_.end()) return;
    for (auto& e : it->second->queue.TakeAll()) {
      out.push_back({std::move(e.value.grant),
                     absl::UnavailableError(absl::StrCat("model \"", model, "\" was unloaded"))});
    }
    if (it->second->serving) changes.emplace_back(model, false);
    models_.erase(it);
    if (metrics_ != nullptr) {
      metrics_->InFlight(model).Set(0);
      metrics_->QueueDepth(model).Set(0);
      metrics_->WorkersUp(model).Set(0);
    }
  }
  Deliver(std::move(out), std::move(changes));
}

void Router::SetHold(const std::string& model, bool hold, const std::string& reason) {
  std::vector<Ready> out;
  std::vector<std::pair<std::string, bool>> changes;
  {
    absl::MutexLock lock(&mu_);
    auto it = models_.find(model);
    if (it == models_.end()) return;
    Model& m = *it->second;
    m.hold = hold;
    m.hold_reason = reason;
    DispatchLocked(model, m, &out);
    m.hold_reason.clear();
    UpdateLocked(model, m, &changes);
  }
  Deliver(std::move(out), std::move(changes));
}

void Router::SetDemandListener(std::function<void(const std::string&)> listener) {
  absl::MutexLock lock(&mu_);
  demand_listener_ = std::move(listener);
}

void Router::SetReadinessListener(std::function<void(const std::string&, bool)> listener) {
  absl::MutexLock lock(&mu_);
  listener_ = std::move(listener);
}

void Router::SetWorker(const std::string& model, std::shared_ptr<WorkerEndpoint> endpoint,
                       bool ready, int capacity) {
  std::vector<Ready> out;
  std::vector<std::pair<std::string, bool>> changes;
  {
    absl::MutexLock lock(&mu_);
    auto it = models_.find(model);
    if (it == models_.end() || shutdown_) return;
    Model& m = *it->second;
    std::shared_ptr<Slot>& slot = m.workers[endpoint->id()];
    if (slot == nullptr || slot->endpoint != endpoint) {
      slot = std::make_shared<Slot>();
      slot->endpoint = std::move(endpoint);
    }
    slot->ready = ready;
    int limit = std::max(capacity, 1);
    if (m.options.max_in_flight_per_worker.has_value()) {
      limit = std::min(limit, *m.options.max_in_flight_per_worker);
    }
    slot->limit = ready ? limit : 0;
    DispatchLocked(model, m, &out);
    UpdateLocked(model, m, &changes);
  }
  Deliver(std::move(out), std::move(changes));
}

void Router::RemoveWorker(const std::string& model, const std::string& worker_id) {
  std::vector<Ready> out;
  std::vector<std::pair<std::string, bool>> changes;
  {
    absl::MutexLock lock(&mu_);
    auto it = models_.find(model);
    if (it == models_.end()) return;
    Model& m = *it->second;
    m.workers.erase(worker_id);
    DispatchLocked(model, m, &out);
    UpdateLocked(model, m, &changes);
  }
  Deliver(std::move(out), std::move(changes));
}

void Router::MarkUnavailable(const std::string& model, const WorkerEndpoint* endpoint) {
  std::vector<Ready> out;
  std::vector<std::pair<std::string, bool>> changes;
  {
    absl::MutexLock lock(&mu_);
    auto it = models_.find(model);
    if (it == models_.end() || endpoint == nullptr) return;
    Model& m = *it->second;
    auto slot = m.workers.find(endpoint->id());
    if (slot == m.workers.end() || slot->second->endpoint.get() != endpoint ||
        !slot->second->ready) {
      return;
    }
    slot->second->ready = false;
    slot->second->limit = 0;
    DispatchLocked(model, m, &out);
    UpdateLocked(model, m, &changes);
  }
  Deliver(std::move(out), std::move(changes));
}

uint64_t Router::Acquire(const std::string& model, absl::Time deadline, Grant grant) {
  std::vector<Ready> out;
  std::vector<std::pair<std::string, bool>> changes;
  uint64_t ticket = 0;
  std::function<void(const std::string&)> demand;
  {
    absl::MutexLock lock(&mu_);
    auto it = models_.find(model);
    if (shutdown_) {
      out.push_back({std::move(grant), absl::UnavailableError("the gateway is shutting down")});
    } else if (it == models_.end()) {
      out.push_back({std::move(grant),
                     absl::NotFoundError(absl::StrCat("model \"", model, "\" is not served"))});
    } else {
      Model& m = *it->second;
      m.last_activity = absl::Now();
      std::shared_ptr<Slot> slot = m.queue.empty() ? PickLocked(m) : nullptr;
      if (m.hold && slot == nullptr && !AnyReadyLocked(m)) demand = demand_listener_;
      if (!m.serving) {
        out.push_back({std::move(grant), absl::UnavailableError(absl::StrCat(
                                             "no ready worker for model \"", model, "\""))});
      } else if (slot != nullptr) {
        out.push_back({std::move(grant), LeaseLocked(model, m, slot)});
      } else if (deadline <= absl::Now()) {
        out.push_back({std::move(grant),
                       absl::DeadlineExceededError("deadline passed before a worker was free")});
      } else {
        Pending pending{std::move(grant)};
        ticket = next_ticket_++;
        if (m.queue.Push(ticket, deadline, std::move(pending))) {
          wake_ = true;
        } else {
          ticket = 0;
          out.push_back({std::move(pending.grant),
                         absl::ResourceExhaustedError(absl::StrCat(
                             "model \"", model, "\": all workers busy and queue full (",
                             m.queue.limit(), " waiting)"))});
        }
      }
      UpdateLocked(model, m, &changes);
    }
  }
  if (demand) demand(model);
  Deliver(std::move(out), std::move(changes));
  return ticket;
}

void Router::Cancel(const std::string& model, uint64_t ticket) {
  if (ticket == 0) return;
  std::vector<Ready> out;
  std::vector<std::pair<std::string, bool>> changes;
  {
    absl::MutexLock lock(&mu_);
    auto it = models_.find(model);
    if (it == models_.end()) return;
    auto entry = it->second->queue.Remove(ticket);
    if (!entry.has_value()) return;
    out.push_back({std::move(entry->value.grant),
                   absl::CancelledError("cancelled while waiting for a worker")});
    UpdateLocked(model, *it->second, &changes);
  }
  Deliver(std::move(out), std::move(changes));
}

Router::ModelStatus Router::Status(const std::string& model) const {
  absl::MutexLock lock(&mu_);
  ModelStatus status;
  auto it = models_.find(model);
  if (it == models_.end()) return status;
  const Model& m = *it->second;
  for (const auto& [id, slot] : m.workers) {
    ++status.total_workers;
    if (slot->ready) ++status.ready_workers;
  }
  status.queued = m.queue.size();
  status.in_flight = m.in_flight;
  status.hold = m.hold;
  status.last_activity = m.last_activity;
  return status;
}

void Router::Shutdown() {
  std::vector<Ready> out;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    shutdown_ = true;
    wake_ = true;
    for (auto& [name, m] : models_) {
      for (auto& e : m->queue.TakeAll()) {
        out.push_back(
            {std::move(e.value.grant), absl::UnavailableError("the gateway is shutting down")});
      }
    }
  }
  if (deadline_thread_.joinable()) deadline_thread_.join();
  Deliver(std::move(out), {});
}

bool Router::WaitIdle(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithDeadline(absl::Condition(
                                   +[](int* leases) { return *leases == 0; }, &leases_),
                               deadline);
}

void Router::Release(const std::string& model, uint64_t model_id,
                     const std::shared_ptr<Slot>& slot) {
  std::vector<Ready> out;
  std::vector<std::pair<std::string, bool>> changes;
  {
    absl::MutexLock lock(&mu_);
    --slot->outstanding;
    --leases_;
    auto it = models_.find(model);
    if (it == models_.end() || it->second->id != model_id) return;
    Model& m = *it->second;
    --m.in_flight;
    m.last_activity = absl::Now();
    if (!shutdown_) DispatchLocked(model, m, &out);
    UpdateLocked(model, m, &changes);
  }
  Deliver(std::move(out), std::move(changes));
}

std::shared_ptr<Router::Slot> Router::PickLocked(Model& m) {
  std::shared_ptr<Slot> best;
  for (auto& [id, slot] : m.workers) {
    if (!slot->ready || slot->outstanding >= slot->limit) continue;
    if (best == nullptr || slot->outstanding < best->outstanding ||
        (slot->outstanding == best->outstanding && slot->last_grant < best->last_grant)) {
      best = slot;
    }
  }
  return best;
}

WorkerLease Router::LeaseLocked(const std::string& name, Model& m,
                                const std::shared_ptr<Slot>& slot) {
  ++slot->outstanding;
  ++leases_;
  slot->last_grant = ++grants_;
  ++m.in_flight;
  WorkerLease lease;
  lease.router_ = this;
  lease.model_ = name;
  lease.model_id_ = m.id;
  lease.slot_ = slot;
  lease.endpoint_ = slot->endpoint;
  // Counted while the router's lock is held: once a worker is marked not ready, no call
  // can be routed to it that its count does not show.
  lease.endpoint_->CallRouted();
  return lease;
}

bool Router::AnyReadyLocked(const Model& m) const {
  for (const auto& [id, slot] : m.workers) {
    if (slot->ready) return true;
  }
  return false;
}

void Router::DispatchLocked(const std::string& name, Model& m, std::vector<Ready>* out) {
  if (!AnyReadyLocked(m)) {
    if (m.hold) return;  // workers are starting: the calls wait
    for (auto& e : m.queue.TakeAll()) {
      out->push_back(
          {std::move(e.value.grant),
           absl::UnavailableError(m.hold_reason.empty()
                                      ? absl::StrCat("no ready worker for model \"", name, "\"")
                                      : absl::StrCat("model \"", name, "\": ", m.hold_reason))});
    }
    return;
  }
  while (!m.queue.empty()) {
    std::shared_ptr<Slot> slot = PickLocked(m);
    if (slot == nullptr) break;
    auto entry = m.queue.PopFront();
    out->push_back({std::move(entry->value.grant), LeaseLocked(name, m, slot)});
  }
}

void Router::UpdateLocked(const std::string& name, Model& m,
                          std::vector<std::pair<std::string, bool>>* changes) {
  int ready = 0;
  for (const auto& [id, slot] : m.workers) ready += slot->ready ? 1 : 0;
  if (metrics_ != nullptr) {
    metrics_->InFlight(name).Set(m.in_flight);
    metrics_->QueueDepth(name).Set(m.queue.size());
    metrics_->WorkersUp(name).Set(ready);
  }
  if ((ready > 0 || m.hold) != m.serving) {
    m.serving = ready > 0 || m.hold;
    changes->emplace_back(name, m.serving);
  }
}

void Router::Deliver(std::vector<Ready> ready, std::vector<std::pair<std::string, bool>> changes) {
  if (!changes.empty()) {
    absl::MutexLock order(&listener_mu_);
    for (const auto& change : changes) {
      std::function<void(const std::string&, bool)> listener;
      bool serving = false;
      {
        absl::MutexLock lock(&mu_);
        listener = listener_;
        auto it = models_.find(change.first);
        serving = it != models_.end() && it->second->serving;
      }
      if (listener) listener(change.first, serving);
    }
  }
  for (auto& r : ready) r.grant(std::move(r.result));
}

void Router::DeadlineLoop() {
  absl::MutexLock lock(&mu_);
  while (!shutdown_) {
    absl::Time earliest = absl::InfiniteFuture();
    for (const auto& [name, m] : models_)
      earliest = std::min(earliest, m->queue.EarliestDeadline());
    wake_ = false;
    mu_.AwaitWithDeadline(absl::Condition(&wake_), earliest);
    if (shutdown_) break;
    std::vector<Ready> out;
    std::vector<std::pair<std::string, bool>> changes;
    const absl::Time now = absl::Now();
    for (auto& [name, m] : models_) {
      for (auto& e : m->queue.TakeExpired(now)) {
        out.push_back({std::move(e.value.grant),
                       absl::DeadlineExceededError("deadline passed while waiting for a worker")});
      }
      UpdateLocked(name, *m, &changes);
    }
    if (!out.empty() || !changes.empty()) {
      mu_.Unlock();
      Deliver(std::move(out), std::move(changes));
      mu_.Lock();
    }
  }
}

}  // namespace jetserve::gateway
