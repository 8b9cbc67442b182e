// The agent endpoint's door. libzmq asks our ZAP handler (inproc://zeromq.zap.01) about
// every new connection before it may send a frame: with CURVE only the public keys of
// configured agents get in, and the key becomes the connection's User-Id, which the
// engine maps to (workspace, agent) at Hello. A socket monitor counts the connections;
// above the cap new ones are refused at the handshake or shut at once, so peers can never
// take the file descriptors the store needs. One thread; keys swap on SIGHUP.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_set>

#include <zmq.hpp>

#include "common/log.h"
#include "config/config.h"

namespace omniroute::router {

// The Z85 public keys of every configured agent and gateway: who may pass the CURVE
// handshake.
using AgentKeys = std::unordered_set<std::string>;
AgentKeys agent_keys(const config::Config& cfg);

class AgentGate {
 public:
  AgentGate(zmq::context_t& ctx, config::AgentAuth auth, int max_connections);
  ~AgentGate();
  AgentGate(const AgentGate&) = delete;
  AgentGate& operator=(const AgentGate&) = delete;

  // Binds the ZAP handler and monitors `sock`; call before `sock` binds. "" or an error.
  std::string start(zmq::socket_t& sock);
  // The TCP port the agent socket listens on (to tell its connections from others).
  void set_port(int port) { port_ = port; }
  void set_keys(AgentKeys keys);

  int connections() const { return static_cast<int>(live_count_.load()); }
  uint64_t refused() const { return refused_.load(); }
  int max_connections() const { return max_connections_; }

 private:
  void loop();
  void answer_zap();
  void on_monitor_event();

  zmq::context_t& ctx_;
  const config::AgentAuth auth_;
  const int max_connections_;
  log::Logger log_;
  std::unique_ptr<zmq::socket_t> zap_, monitor_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> port_{-1};
  std::mutex mu_;
  std::shared_ptr<const AgentKeys> keys_;
  std::chrono::steady_clock::time_point last_log_;
  std::set<int> live_fds_;  // loop thread only
  std::atomic<size_t> live_count_{0};
  std::atomic<uint64_t> refused_{0};
  uint64_t refused_logged_ = 0;
};

}  // namespace omniroute::router
