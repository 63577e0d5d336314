#include "worker/call_batcher.h"

#include <vector>

namespace jetserve::worker {

void CallBatcher::Run(Call* call) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(call);
  while (!call->done) {
    if (busy_) {
      // Another thread runs a batch; wake when it finishes (it may have taken this call).
      auto free_or_done = [this, call]()
                              ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return call->done || !busy_; };
      mu_.Await(absl::Condition(&free_or_done));
      continue;
    }
    busy_ = true;
    // Lead: wait a little for calls of the same key to join, up to max_items.
    const std::string key = queue_.front()->key;
    auto enough = [this, &key]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      int64_t items = 0;
      for (const Call* c : queue_) items += c->key == key ? c->items : 0;
      return items >= options_.max_items;
    };
    if (!enough()) {
      mu_.AwaitWithTimeout(absl::Condition(&enough), options_.window);
    }
    std::vector<Call*> batch;
    int64_t items = 0;
    for (auto it = queue_.begin(); it != queue_.end();) {
      Call* c = *it;
      if (c->key != key || (!batch.empty() && items + c->items > options_.max_items)) {
        ++it;
        continue;
      }
      it = queue_.erase(it);
      if (c->ctx != nullptr && c->ctx->Cancelled()) {
        c->status = c->ctx->CancelledStatus();
        c->done = true;
        continue;
      }
      batch.push_back(c);
      items += c->items;
    }
    if (!batch.empty()) {
      ++batches_;
      batched_calls_ += static_cast<int64_t>(batch.size());
      mu_.Unlock();
      executor_(absl::MakeConstSpan(batch));
      mu_.Lock();
      for (Call* c : batch) c->done = true;
    }
    busy_ = false;
  }
}

int64_t CallBatcher::queued() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(queue_.size());
}

int64_t CallBatcher::batches() const {
  absl::MutexLock lock(&mu_);
  return batches_;
}

int64_t CallBatcher::batched_calls() const {
  absl::MutexLock lock(&mu_);
  return batched_calls_;
}

}  // namespace jetserve::worker
