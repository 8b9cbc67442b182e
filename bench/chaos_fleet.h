// The fault harness's router instances: two routers in one consumer group (each its own
// state dir and agent endpoint), which one owns the workspace now (from omni.routers), and
// the faults that move it: the owner killed (SIGKILL, restarted) and a rebalance (the owner
// stopped with SIGTERM, handing over, then started again).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/child_process.h"
#include "desk/desk.h"
#include "kafka/kafka.h"

namespace omniroute::bench {

// An auto-answering desk: accepts every offer and answers every customer message exactly
// once ("re:<external id>"), with the reply id derived from the message, so answers survive
// desk restarts and router moves.
class AnsweringDesk {
 public:
  AnsweringDesk(const std::string& endpoint, const std::string& agent,
                const std::string& workspace = "acme");
  ~AnsweringDesk();
  desk::Desk& desk() { return *desk_; }

 private:
  std::unique_ptr<desk::Desk> desk_;
};

class RouterFleet {
 public:
  // `yaml(state_dir, endpoint)`: the config of one instance.
  RouterFleet(std::string binary, std::string dir, int instances, int partitions,
              const std::function<std::string(const std::string&, const std::string&)>& yaml,
              std::string brokers, std::string routers_topic, std::string workspace);
  ~RouterFleet();
  void start();
  // Desks connect here (instance 0; it redirects them).
  const std::string& home_endpoint() const { return instances_[0]->endpoint; }
  // Every instance's endpoint, comma-separated (a desk moves on when one is silent).
  std::string desk_endpoints() const {
    std::string out;
    for (const auto& in : instances_) out += (out.empty() ? "" : ",") + in->endpoint;
    return out;
  }
  const std::string& config_path(size_t i) const { return instances_[i]->config; }
  const std::string& endpoint(size_t i) const { return instances_[i]->endpoint; }
  // The instance owning the workspace now (omni.routers); -1 while unknown or moving.
  int owner();
  // SIGKILL the owner; restarted at once, or (restart = false) left down: returns which one,
  // for start_instance() later.
  int owner_kill(bool restart = true);
  void start_instance(int i);
  void rebalance();
  // Processes that ended by themselves are named in `deaths` and started again.
  void restart_ended(std::vector<std::string>& deaths);
  // Stops every instance with SIGTERM, the owner last; returns the last owner's state dir
  // (after a clean hand-over it holds the workspace's whole state). Instances that did not
  // stop within 30 s are named in `violations`.
  std::string stop_all(std::vector<std::string>& violations);

 private:
  struct Instance {
    std::string state, endpoint, config;
    std::unique_ptr<ChildProcess> proc;
  };
  int pick_owner();
  std::vector<std::unique_ptr<Instance>> instances_;
  std::mutex mu_;  // the processes (faults and the monitor thread)
  std::string brokers_, topic_;
  int32_t partition_ = 0;
  std::unique_ptr<kafka::Consumer> directory_;
  std::string owner_endpoint_;
};

}  // namespace omniroute::bench
