// Consumers kept for reuse by short tasks that read one partition at a time (the router's
// restore readers). Creating a consumer costs a bootstrap and a coordinator lookup, and
// closing one waits for librdkafka to settle (Consumer::close), so a restore of 128
// partitions borrows one reader per worker instead of making 128.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kafka/kafka.h"

namespace omniroute::kafka {

class ConsumerPool {
 public:
  ConsumerPool(ClientConfig cfg, std::string group_id)
      : cfg_(std::move(cfg)), group_id_(std::move(group_id)) {}
  ConsumerPool(const ConsumerPool&) = delete;
  ConsumerPool& operator=(const ConsumerPool&) = delete;

  // A consumer on loan: it goes back to the pool, unassigned, when the lease ends.
  class Lease {
   public:
    Lease() = default;
    Lease(ConsumerPool* pool, std::unique_ptr<Consumer> c) : pool_(pool), c_(std::move(c)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    explicit operator bool() const { return c_ != nullptr; }
    Consumer* operator->() const { return c_.get(); }

   private:
    ConsumerPool* pool_ = nullptr;
    std::unique_ptr<Consumer> c_;
  };

  // An idle consumer, or a new one (an empty lease and `err` when it cannot be made).
  Lease take(std::string& err);

 private:
  const ClientConfig cfg_;
  const std::string group_id_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Consumer>> idle_;
};

}  // namespace omniroute::kafka
