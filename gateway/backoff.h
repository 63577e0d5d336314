// Restart delays for supervised workers: exponential backoff that starts at `initial`,
// doubles with each failure in a row up to `max`, and starts over once a worker has stayed
// up for `reset_after`. Pure arithmetic, no clock: the supervisor passes the uptime in.
//
//   Backoff backoff({.initial = absl::Milliseconds(500), .max = absl::Seconds(60),
//                    .reset_after = absl::Seconds(30)});
//   absl::Duration delay = backoff.OnExit(uptime);  // wait this long, then respawn
#ifndef JETSERVE_GATEWAY_BACKOFF_H_
#define JETSERVE_GATEWAY_BACKOFF_H_

#include "absl/time/time.h"

namespace jetserve::gateway {

class Backoff {
 public:
  struct Options {
    absl::Duration initial = absl::Milliseconds(500);
    absl::Duration max = absl::Seconds(60);
    absl::Duration reset_after = absl::Seconds(30);
  };

  explicit Backoff(const Options& options) : options_(options) {}

  // A worker exited after running for `uptime`: returns the delay before the next start.
  absl::Duration OnExit(absl::Duration uptime);

  // Exits in a row without a long enough run in between (0 after a reset).
  int consecutive_failures() const { return failures_; }

 private:
  Options options_;
  int failures_ = 0;
};

}  // namespace jetserve::gateway

#endif  // JETSERVE_GATEWAY_BACKOFF_H_
