#include "kafka/pool.h"

namespace omniroute::kafka {

ConsumerPool::Lease::~Lease() {
  if (!c_ || !pool_) return;
  std::string err;
  if (!c_->assign({}, err)) return;  // not reusable: closed with the lease
  std::lock_guard lock(pool_->mu_);
  pool_->idle_.push_back(std::move(c_));
}

ConsumerPool::Lease ConsumerPool::take(std::string& err) {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c));
    }
  }
  auto c = Consumer::create(cfg_, group_id_, err);
  if (!c) return {};
  return Lease(this, std::move(c));
}

}  // namespace omniroute::kafka
