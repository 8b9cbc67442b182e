#include "bench/chaos_fleet.h"

#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "common/free_port.h"
#include "omniroute/v1/store.pb.h"
#include "router/partition.h"

namespace omniroute::bench {

AnsweringDesk::AnsweringDesk(const std::string& endpoint, const std::string& agent,
                             const std::string& workspace) {
  auto cell = std::make_shared<desk::Desk*>(nullptr);
  desk::Handler h;
  h.on_offer = [cell](const v1::Offer& o) { (*cell)->accept(o.offer_id()); };
  // Connection events on stderr (rare: welcomes, reconnects, redirects, a parked desk), for the
  // fault harness's log.
  h.on_status = [agent](const std::string& status) {
    fmt::print(stderr, "desk {}: {}\n", agent, status);
  };
  h.on_assignment = [cell](const v1::Assignment& a) {
    std::set<std::string> answered;
    for (const auto& m : a.history()) {
      if (m.author() == v1::AUTHOR_AGENT) answered.insert(m.text_body());
    }
    for (const auto& m : a.history()) {
      if (m.author() != v1::AUTHOR_CUSTOMER || answered.count("re:" + m.external_message_id()))
        continue;
      (*cell)->reply(a.conversation().conversation_id(), "re:" + m.external_message_id(),
                     "r-" + m.external_message_id());
    }
  };
  h.on_message = [cell](const v1::CustomerMessage& m) {
    (*cell)->reply(m.conversation_id(), "re:" + m.message().external_message_id(),
                   "r-" + m.message().external_message_id());
  };
  desk_ = std::make_unique<desk::Desk>(
      desk::Options{endpoint, workspace, agent, "", "answering-desk", v1::PRESENCE_AVAILABLE, 1000},
      h);
  *cell = desk_.get();
  desk_->start();
}

AnsweringDesk::~AnsweringDesk() {
  desk_->stop();
}

RouterFleet::RouterFleet(
    std::string binary, std::string dir, int instances, int partitions,
    const std::function<std::string(const std::string&, const std::string&)>& yaml,
    std::string brokers, std::string routers_topic, std::string workspace)
    : brokers_(std::move(brokers)), topic_(std::move(routers_topic)) {
  partition_ = router::partition_of(workspace, partitions);
  for (int i = 0; i < instances; ++i) {
    auto in = std::make_unique<Instance>();
    in->state = fmt::format("{}/state{}", dir, i);
    in->endpoint = fmt::format("tcp://127.0.0.1:{}", free_tcp_port());
    in->config = fmt::format("{}/router{}.yaml", dir, i);
    std::ofstream(in->config) << yaml(in->state, in->endpoint);
    in->proc = std::make_unique<ChildProcess>(
        binary, std::vector<std::string>{"router", "--config", in->config});
    instances_.push_back(std::move(in));
  }
  std::string err;
  directory_ = kafka::Consumer::create({brokers_, {}}, "chaos-directory", err);
  std::vector<kafka::PartitionOffset> parts;
  const int n = directory_ ? directory_->partition_count(topic_, 5000) : 0;
  for (int p = 0; p < n; ++p) parts.push_back({topic_, p, RD_KAFKA_OFFSET_BEGINNING});
  if (directory_ && !parts.empty()) (void)directory_->assign(parts, err);
}

RouterFleet::~RouterFleet() {
  if (directory_) directory_->close();
}

void RouterFleet::start() {
  std::lock_guard lock(mu_);
  for (auto& in : instances_) in->proc->start();
}

int RouterFleet::owner() {
  if (!directory_) return -1;
  for (auto& m : directory_->poll(1000, 50)) {
    if (m.is_error()) continue;
    v1::store::RouterOwner o;
    if (!o.ParseFromArray(m.value().data(), static_cast<int>(m.value().size()))) continue;
    // The owner is the instance that serves it: one still restoring it has not started.
    if (o.partition() == partition_)
      owner_endpoint_ = o.released() || o.restoring() ? "" : o.endpoint();
  }
  for (size_t i = 0; i < instances_.size(); ++i)
    if (instances_[i]->endpoint == owner_endpoint_) return static_cast<int>(i);
  return -1;
}

// The owner as the directory names it, waiting a little while it is moving.
int RouterFleet::pick_owner() {
  for (int i = 0; i < 100; ++i) {
    const int o = owner();
    if (o >= 0) return o;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return 0;
}

int RouterFleet::owner_kill(bool restart) {
  const int o = pick_owner();
  std::lock_guard lock(mu_);
  instances_[static_cast<size_t>(o)]->proc->stop(SIGKILL);
  if (restart) instances_[static_cast<size_t>(o)]->proc->start();
  return o;
}

void RouterFleet::start_instance(int i) {
  std::lock_guard lock(mu_);
  instances_[static_cast<size_t>(i)]->proc->start();
}

void RouterFleet::rebalance() {
  const int o = pick_owner();
  std::lock_guard lock(mu_);
  instances_[static_cast<size_t>(o)]->proc->stop(SIGTERM);  // hands the workspace over
  instances_[static_cast<size_t>(o)]->proc->start();        // and joins again
}

void RouterFleet::restart_ended(std::vector<std::string>& deaths) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < instances_.size(); ++i) {
    auto& p = *instances_[i]->proc;
    if (auto st = p.ended()) {
      deaths.push_back(fmt::format("router {} ended by itself ({} {})", i,
                                   WIFSIGNALED(*st) ? "signal" : "exit status",
                                   WIFSIGNALED(*st) ? WTERMSIG(*st) : WEXITSTATUS(*st)));
      p.start();
    }
  }
}

std::string RouterFleet::stop_all(std::vector<std::string>& violations) {
  const int last = pick_owner();
  std::lock_guard lock(mu_);
  for (size_t k = 0; k <= instances_.size(); ++k) {
    // Every other instance first, so the owner keeps the workspace to the end.
    const size_t i = k < instances_.size() ? k : static_cast<size_t>(last);
    if (k < instances_.size() && static_cast<int>(k) == last) continue;
    if (k == instances_.size() && last < 0) break;
    auto& p = *instances_[i]->proc;
    const int st = p.stop(SIGTERM);
    if (p.forced())
      violations.push_back(fmt::format("router {} did not stop within 30 s", i));
    else if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) && st != -1)
      violations.push_back(fmt::format("router {} stopped with status {}", i, st));
  }
  return instances_[static_cast<size_t>(std::max(0, last))]->state;
}

}  // namespace omniroute::bench
