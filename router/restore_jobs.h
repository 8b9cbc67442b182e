// Restores that run beside the event loop: a partition the group gives this instance is
// restored on a worker thread while the loop keeps serving the partitions it already owns
// (Kafka Streams restores in its own thread for the same reason). The loop takes finished
// restores and starts serving them; a partition taken away mid-restore is cancelled.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "router/partition.h"

namespace omniroute::router {

class RestoreJobs {
 public:
  // Opens and restores partition `p`; returns the copy (nullptr + `err` on failure). Runs
  // on a worker; should return soon after `cancel` turns true (the copy it returns then is
  // a consistent prefix: every chunk is committed with its checkpoint).
  using Work = std::function<std::unique_ptr<Partition>(int32_t p, const std::atomic<bool>& cancel,
                                                        std::string& err)>;
  struct Done {
    int32_t partition = -1;
    std::unique_ptr<Partition> part;
    std::string error;  // "" on success
    std::chrono::steady_clock::time_point began;
  };

  // At most `workers` restores at once; `finished` is called on the worker after each one
  // (to wake the loop).
  RestoreJobs(size_t workers, std::function<void()> finished);
  ~RestoreJobs();  // cancels what runs and waits for it
  RestoreJobs(const RestoreJobs&) = delete;
  RestoreJobs& operator=(const RestoreJobs&) = delete;

  void start(int32_t p, Work work);
  // Queued, running or finished but not taken yet.
  bool holds(int32_t p) const;
  size_t size() const;
  // Finished restores, in the order they finished.
  std::vector<Done> take_finished();
  // Waits until nothing is queued or running.
  void wait_idle();
  // Cancels `p` and waits for it to stop; the copy as far as it got (or nullptr).
  std::unique_ptr<Partition> cancel(int32_t p);

 private:
  struct Job {
    int32_t partition = -1;
    Work work;
    std::atomic<bool> cancel{false};
    std::chrono::steady_clock::time_point began;
  };
  void worker();

  const size_t max_workers_;
  std::function<void()> finished_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::shared_ptr<Job>> queued_;
  std::map<int32_t, std::shared_ptr<Job>> running_;
  std::vector<Done> done_;
  std::vector<std::thread> workers_;
  size_t idle_workers_ = 0;
  bool stopping_ = false;
};

}  // namespace omniroute::router
