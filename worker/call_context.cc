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
  if (absl::Now() >= deadline_) return absl::DeadlineExceededError("deadline exceeded");
  absl::MutexLock lock(&mu_);
  return absl::CancelledError(reason_.empty() ? "call cancelled" : reason_);
}

bool CallContext::WaitForCancellation(absl::Duration timeout) const {
  const absl::Time until = std::min(absl::Now() + timeout, deadline_);
  absl::MutexLock lock(&mu_);
  auto cancelled = [this]() { return cancelled_.load(std::memory_order_acquire); };
  mu_.AwaitWithDeadline(absl::Condition(&cancelled), until);
  return Cancelled();
}

void CallContext::Cancel(absl::string_view reason) {
  absl::MutexLock lock(&mu_);
  if (cancelled_.load(std::memory_order_relaxed)) return;
  reason_ = std::string(reason);
  cancelled_.store(true, std::memory_order_release);
}

}  // namespace jetserve::worker
