#include "worker/call_context.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace jetserve::worker {

CallContext::CallContext(std::string request_id, absl::Time deadline)
    : request_id_(std::move(request_id)), deadline_(deadline) {}

bool CallContext::Cancelled() const {
  return cancelled_.load(std::memory_order_acquire) || absl::Now() >= deadline_;
}

absl::Status CallContext::CancelledStatus() const {
  absl::MutexLock lock(&mu_);
  if (deadline_exceeded_ || absl::Now() >= deadline_) {
    return absl::DeadlineExceededError("deadline exceeded");
  }
  return absl::CancelledError(reason_.empty() ? "call cancelled" : reason_);
}

bool CallContext::WaitForCancellation(absl::Duration timeout) const {
  const absl::Time until = std::min(absl::Now() + timeout, deadline_);
  absl::MutexLock lock(&mu_);
  auto cancelled = [this]() { return cancelled_.load(std::memory_order_acquire); };
  mu_.AwaitWithDeadline(absl::Condition(&cancelled), until);
  return Cancelled();
}

bool CallContext::NearDeadline() const {
  return deadline_ != absl::InfiniteFuture() && absl::Now() + absl::Milliseconds(100) >= deadline_;
}

void CallContext::Cancel(absl::string_view reason, bool deadline_exceeded) {
  absl::MutexLock lock(&mu_);
  if (cancelled_.load(std::memory_order_relaxed)) return;
  reason_ = std::string(reason);
  deadline_exceeded_ = deadline_exceeded;
  cancelled_.store(true, std::memory_order_release);
}

}  // namespace jetserve::worker
