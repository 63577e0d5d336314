#include "gateway/backoff.h"

#include <algorithm>

namespace jetserve::gateway {

absl::Duration Backoff::OnExit(absl::Duration uptime) {
  if (uptime >= options_.reset_after) failures_ = 0;
  absl::Duration delay = options_.initial;
  // Doubling stops at `max`; the loop is bounded because the delay at least doubles.
  for (int i = 0; i < failures_ && delay < options_.max; ++i) delay *= 2;
  ++failures_;
  return std::min(delay, options_.max);
}

}  // namespace jetserve::gateway
