// Many simulated desks on one thread, for load: each agent has its own DEALER socket;
// offers are accepted at once, every assignment and customer message is answered. Records
// when each offer and customer message arrived, and when each reply was sent. Desks follow
// Redirects to the instance that owns their workspace.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "omniroute/v1/agent.pb.h"

namespace omniroute::bench {

using Clock = std::chrono::steady_clock;

struct DeskPoolOptions {
  std::string endpoint;
  std::vector<std::pair<std::string, std::string>> agents;  // (workspace, agent)
  bool reply = true;
};

class DeskPool {
 public:
  // on_offer(customer_handle, when), on_message(external_id, when), on_reply(text, when)
  struct Hooks {
    std::function<void(const std::string&, Clock::time_point)> offer;
    std::function<void(const std::string&, Clock::time_point)> message;
    std::function<void(const std::string&, Clock::time_point)> reply_sent;
  };
  DeskPool(DeskPoolOptions opts, Hooks hooks);
  ~DeskPool();
  void start();
  void stop();
  size_t welcomed() const { return welcomed_; }
  uint64_t offers() const { return offers_; }

 private:
  void loop();
  struct Agent {
    std::string workspace, id;
    std::string endpoint;  // where it is connected now (redirects move it)
    std::unique_ptr<zmq::socket_t> sock;
    bool welcomed = false;
    int64_t last_send_ms = 0, last_hello_ms = 0;
  };
  void send(Agent& a, const v1::AgentFrame& f);
  void handle(Agent& a, const v1::AgentFrame& f);

  DeskPoolOptions opts_;
  Hooks hooks_;
  zmq::context_t ctx_;
  std::vector<Agent> agents_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> welcomed_{0};
  std::atomic<uint64_t> offers_{0};
  uint64_t reply_seq_ = 0;
  int heartbeat_ms_ = 1000;
};

}  // namespace omniroute::bench
