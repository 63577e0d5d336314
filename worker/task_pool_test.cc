#include "worker/task_pool.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace jetserve::worker {
namespace {

TEST(TaskPoolTest, RunsEverythingScheduledBeforeDestruction) {
  std::atomic<int> ran{0};
  {
    TaskPool pool(2);
    for (int i = 0; i < 100; ++i) pool.Schedule([&] { ran.fetch_add(1); });
  }
  EXPECT_EQ(ran.load(), 100);
}

TEST(TaskPoolTest, PendingCountsTasksWaitingForAThread) {
  TaskPool pool(1);
  absl::Notification started, release;
  pool.Schedule([&] {
    started.Notify();
    release.WaitForNotification();
  });
  started.WaitForNotification();
  pool.Schedule([] {});
  pool.Schedule([] {});
  EXPECT_EQ(pool.Pending(), 2);
  release.Notify();
}

}  // namespace
}  // namespace jetserve::worker
