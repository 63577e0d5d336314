// A bounded FIFO of calls waiting for a free worker slot, one per model. Entries carry an
// id (to remove a call its client cancelled) and a deadline (to fail it with
// DEADLINE_EXCEEDED while still waiting). Not thread-safe: the router guards it.
//
//   RequestQueue<Waiter> queue(/*limit=*/64);
//   if (!queue.Push(id, deadline, std::move(waiter))) { /* RESOURCE_EXHAUSTED */ }
//   std::optional<RequestQueue<Waiter>::Entry> next = queue.PopFront();
#ifndef JETSERVE_GATEWAY_REQUEST_QUEUE_H_
#define JETSERVE_GATEWAY_REQUEST_QUEUE_H_

#include <cstdint>
#include <list>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"

namespace jetserve::gateway {

template <typename T>
class RequestQueue {
 public:
  struct Entry {
    uint64_t id;
    absl::Time deadline;  // absl::InfiniteFuture() when none
    T value;
  };

  explicit RequestQueue(int limit) : limit_(limit) {}

  int limit() const { return limit_; }
  // A lower limit keeps the entries already queued.
  void set_limit(int limit) { limit_ = limit; }
  int size() const { return static_cast<int>(entries_.size()); }
  bool empty() const { return entries_.empty(); }

  // Appends unless the queue holds `limit` entries already (then returns false and
  // leaves `value` untouched). Ids must be unique.
  bool Push(uint64_t id, absl::Time deadline, T&& value) {
    if (size() >= limit_) return false;
    entries_.push_back(Entry{id, deadline, std::move(value)});
    index_[id] = std::prev(entries_.end());
    return true;
  }

  std::optional<Entry> PopFront() {
    if (entries_.empty()) return std::nullopt;
    Entry e = std::move(entries_.front());
    index_.erase(e.id);
    entries_.pop_front();
    return e;
  }

  // Removes the entry with `id`; nullopt when it is not (or no longer) queued.
  std::optional<Entry> Remove(uint64_t id) {
    auto it = index_.find(id);
    if (it == index_.end()) return std::nullopt;
    Entry e = std::move(*it->second);
    entries_.erase(it->second);
    index_.erase(it);
    return e;
  }

  // Removes and returns, in queue order, the entries whose deadline is at or before `now`.
  std::vector<Entry> TakeExpired(absl::Time now) {
    std::vector<Entry> out;
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->deadline <= now) {
        index_.erase(it->id);
        out.push_back(std::move(*it));
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }

  std::vector<Entry> TakeAll() {
    std::vector<Entry> out;
    for (auto& e : entries_) out.push_back(std::move(e));
    entries_.clear();
    index_.clear();
    return out;
  }

  // The earliest deadline of a queued entry; InfiniteFuture when none.
  absl::Time EarliestDeadline() const {
    absl::Time t = absl::InfiniteFuture();
    for (const auto& e : entries_) t = std::min(t, e.deadline);
    return t;
  }

 private:
  int limit_;
  std::list<Entry> entries_;
  absl::flat_hash_map<uint64_t, typename std::list<Entry>::iterator> index_;
};

}  // namespace jetserve::gateway

#endif  // JETSERVE_GATEWAY_REQUEST_QUEUE_H_
