#include "worker/call_tracker.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "common/log.h"

namespace jetserve::worker {
namespace {

// Debian's Abseil has its own string_view; the log takes std::string_view.
std::string_view Std(absl::string_view s) { return {s.data(), s.size()}; }

}  // namespace

CallTracker::CallTracker(Options options) : options_(std::move(options)) {}

CallTracker::~CallTracker() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (drain_timer_.joinable()) drain_timer_.join();
}

absl::Status CallTracker::Begin(ActiveCall* call) {
  bool draining;
  {
    absl::MutexLock lock(&mu_);
    calls_.insert(call);
    draining = draining_;
  }
  if (options_.metrics != nullptr) {
    options_.metrics->RequestStarted();
    if (options_.queued) options_.metrics->SetQueueDepth(options_.queued());
  }
  if (draining) return absl::UnavailableError("worker is draining");
  return absl::OkStatus();
}

void CallTracker::End(ActiveCall* call, const CallRecord& record) {
  {
    absl::MutexLock lock(&mu_);
    calls_.erase(call);
  }
  if (options_.metrics != nullptr) {
    options_.metrics->RequestFinished(record.method, record.code, record.duration);
    if (options_.queued) options_.metrics->SetQueueDepth(options_.queued());
  }
  auto line = JETSERVE_LOG(kInfo, "request");
  line.Add("request_id", Std(record.request_id))
      .Add("model", options_.model)
      .Add("method", Std(record.method))
      .Add("code", absl::StatusCodeToString(record.code))
      .Add("duration_ms", absl::ToDoubleMilliseconds(record.duration))
      .Add("prompt_tokens", record.prompt_tokens)
      .Add("completion_tokens", record.completion_tokens);
  if (record.code != absl::StatusCode::kOk) line.Add("message", Std(record.message));
}

int CallTracker::Drain(absl::Duration grace) {
  absl::MutexLock lock(&mu_);
  draining_ = true;
  if (grace != absl::InfiniteDuration()) {
    cancel_at_ = std::min(cancel_at_, absl::Now() + grace);
    if (!drain_timer_.joinable()) drain_timer_ = std::thread([this] { DrainTimer(); });
  }
  return static_cast<int>(calls_.size());
}

bool CallTracker::draining() const {
  absl::MutexLock lock(&mu_);
  return draining_;
}

void CallTracker::CancelAll(absl::string_view reason) {
  // Cancel under the lock so that no call can End (and be deleted) meanwhile; Cancel
  // never blocks and never calls back into the tracker.
  absl::MutexLock lock(&mu_);
  for (ActiveCall* call : calls_) call->Cancel(reason);
}

bool CallTracker::WaitForIdle(absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_.empty(); };
  return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

int CallTracker::running() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(calls_.size());
}

void CallTracker::DrainTimer() {
  absl::MutexLock lock(&mu_);
  while (true) {
    const absl::Time at = cancel_at_;
    auto wake = [this, at]()
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || cancel_at_ != at; };
    mu_.AwaitWithDeadline(absl::Condition(&wake), at);
    if (stopping_) return;
    if (absl::Now() < cancel_at_) continue;  // moved earlier, or woke early
    if (!calls_.empty()) {
      JETSERVE_LOG(kWarning, "drain_grace_expired")
          .Add("cancelled_calls", static_cast<int64_t>(calls_.size()));
    }
    for (ActiveCall* call : calls_) call->Cancel("worker drain grace period expired");
    cancel_at_ = absl::InfiniteFuture();
  }
}

}  // namespace jetserve::worker
