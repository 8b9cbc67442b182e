// Restores beside the event loop (router/restore_jobs.h): no more at once than the router's
// restore threads, the rest in turn; a partition the group takes away is cancelled whether
// it runs or still waits.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include "router/restore_jobs.h"
#include "tests/support/support.h"

namespace omniroute::router {
namespace {

using testing::wait_until;

// Work that runs until released or cancelled, counting how many run at once.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  std::mutex ran_mu;
  std::set<int32_t> ran;

  RestoreJobs::Work work() {
    return [this](int32_t p, const std::atomic<bool>& cancel, std::string& err) {
      {
        std::lock_guard lock(ran_mu);
        ran.insert(p);
      }
      const int now = ++running;
      for (int m = most.load(); now > m && !most.compare_exchange_weak(m, now);) {
      }
      std::unique_lock lock(mu);
      while (!open && !cancel) cv.wait_for(lock, std::chrono::milliseconds(5));
      --running;
      err = cancel ? "cancelled" : "released";
      return std::unique_ptr<Partition>();
    };
  }
  void release() {
    {
      std::lock_guard lock(mu);
      open = true;
    }
    cv.notify_all();
  }
  bool has_run(int32_t p) {
    std::lock_guard lock(ran_mu);
    return ran.count(p) > 0;
  }
};

TEST(RestoreJobs, NoMoreRunAtOnceThanItsThreadsAndTheRestTakeTheirTurn) {
  Gate gate;
  std::atomic<int> finished{0};
  RestoreJobs jobs(3, [&] { ++finished; });
  for (int32_t p = 0; p < 8; ++p) jobs.start(p, gate.work());
  ASSERT_TRUE(wait_until([&] { return gate.running == 3; }, std::chrono::seconds(10)));
  EXPECT_EQ(jobs.size(), 8u);  // 3 running, 5 queued
  for (int32_t p = 0; p < 8; ++p) EXPECT_TRUE(jobs.holds(p)) << p;
  gate.release();
  jobs.wait_idle();
  const auto done = jobs.take_finished();
  ASSERT_EQ(done.size(), 8u);
  std::set<int32_t> parts;
  for (const auto& d : done) {
    parts.insert(d.partition);
    EXPECT_EQ(d.error, "released");
  }
  EXPECT_EQ(parts.size(), 8u);
  EXPECT_EQ(gate.most.load(), 3);
  // The wake-up runs after each restore is recorded (and may trail wait_idle()).
  EXPECT_TRUE(wait_until([&] { return finished == 8; }, std::chrono::seconds(10)));
  EXPECT_EQ(jobs.size(), 0u);
}

TEST(RestoreJobs, ACancelledRestoreStopsAndAQueuedOneNeverStarts) {
  Gate gate;
  RestoreJobs jobs(1, nullptr);
  jobs.start(1, gate.work());
  jobs.start(2, gate.work());
  ASSERT_TRUE(wait_until([&] { return gate.running == 1; }, std::chrono::seconds(10)));
  EXPECT_EQ(jobs.cancel(2), nullptr);  // still queued: dropped
  EXPECT_FALSE(jobs.holds(2));
  EXPECT_EQ(jobs.cancel(1), nullptr);  // running: told to stop, waited for
  EXPECT_FALSE(jobs.holds(1));
  EXPECT_EQ(gate.running.load(), 0);
  jobs.wait_idle();
  EXPECT_TRUE(jobs.take_finished().empty());
  EXPECT_FALSE(gate.has_run(2));
}

}  // namespace
}  // namespace omniroute::router
