#include "router/restore_jobs.h"

#include <algorithm>

namespace omniroute::router {

RestoreJobs::RestoreJobs(size_t workers, std::function<void()> finished)
    : max_workers_(std::max<size_t>(1, workers)), finished_(std::move(finished)) {}

RestoreJobs::~RestoreJobs() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    queued_.clear();
    for (auto& [p, job] : running_) job->cancel = true;
  }
  changed_.notify_all();
  for (auto& t : workers_) t.join();
}

void RestoreJobs::start(int32_t p, Work work) {
  auto job = std::make_shared<Job>();
  job->partition = p;
  job->work = std::move(work);
  job->began = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  queued_.push_back(std::move(job));
  if (idle_workers_ == 0 && workers_.size() < max_workers_)
    workers_.emplace_back([this] { worker(); });
  changed_.notify_all();
}

void RestoreJobs::worker() {
  std::unique_lock lock(mu_);
  for (;;) {
    ++idle_workers_;
    changed_.wait(lock, [&] { return stopping_ || !queued_.empty(); });
    --idle_workers_;
    if (stopping_) return;
    std::shared_ptr<Job> job = std::move(queued_.front());
    queued_.pop_front();
    running_[job->partition] = job;
    lock.unlock();
    Done d;
    d.partition = job->partition;
    d.began = job->began;
    d.part = job->work(job->partition, job->cancel, d.error);
    if (!d.part && d.error.empty()) d.error = "restore returned no copy";
    lock.lock();
    running_.erase(job->partition);
    done_.push_back(std::move(d));
    changed_.notify_all();
    if (finished_) {
      lock.unlock();
      finished_();
      lock.lock();
    }
  }
}

bool RestoreJobs::holds(int32_t p) const {
  std::lock_guard lock(mu_);
  if (running_.count(p)) return true;
  for (const auto& j : queued_)
    if (j->partition == p) return true;
  for (const auto& d : done_)
    if (d.partition == p) return true;
  return false;
}

size_t RestoreJobs::size() const {
  std::lock_guard lock(mu_);
  return queued_.size() + running_.size() + done_.size();
}

std::vector<RestoreJobs::Done> RestoreJobs::take_finished() {
  std::lock_guard lock(mu_);
  std::vector<Done> out;
  out.swap(done_);
  return out;
}

void RestoreJobs::wait_idle() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return queued_.empty() && running_.empty(); });
}

std::unique_ptr<Partition> RestoreJobs::cancel(int32_t p) {
  std::unique_lock lock(mu_);
  const auto queued = std::find_if(queued_.begin(), queued_.end(),
                                   [&](const auto& j) { return j->partition == p; });
  if (queued != queued_.end()) {
    queued_.erase(queued);
    return nullptr;
  }
  if (auto it = running_.find(p); it != running_.end()) it->second->cancel = true;
  changed_.wait(lock, [&] { return !running_.count(p); });
  std::unique_ptr<Partition> part;
  std::erase_if(done_, [&](Done& d) {
    if (d.partition != p) return false;
    part = std::move(d.part);
    return true;
  });
  return part;
}

}  // namespace omniroute::router
