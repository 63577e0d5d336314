#include "engine/runtime/stop_matcher.h"

#include <algorithm>
#include <utility>

namespace jetserve::runtime {

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (std::string& s : stops) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

StopMatcher::Result StopMatcher::Push(std::string_view text, bool allow_stop) {
  Result r;
  pending_.append(text.data(), text.size());
  if (allow_stop) {
    // Earliest occurrence of any stop string; on a tie, the first listed.
    size_t best = std::string::npos;
    for (size_t i = 0; i < stops_.size(); ++i) {
      const size_t pos = pending_.find(stops_[i]);
      if (pos != std::string::npos && (best == std::string::npos || pos < best)) {
        best = pos;
        r.stop_index = static_cast<int>(i);
      }
    }
    if (best != std::string::npos) {
      r.text = pending_.substr(0, best);
      r.stopped = true;
      pending_.clear();
      return r;
    }
  }
  // Withhold the longest tail that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const std::string& s : stops_) {
    const size_t max_k = std::min(s.size() - 1, pending_.size());
    for (size_t k = max_k; k > hold; --k) {
      if (std::string_view(pending_).substr(pending_.size() - k) ==
          std::string_view(s).substr(0, k)) {
        hold = k;
        break;
      }
    }
  }
  r.text = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return r;
}

std::string StopMatcher::Flush() {
  std::string out = std::move(pending_);
  pending_.clear();
  return out;
}

}  // namespace jetserve::runtime
