// The workspace gateway: an integrator of the agent protocol (docs/agent-protocol.md) with
// its own CURVE key (router.gateways). For each signed-in agent with a tab open it holds
// one protocol session (a desk::Desk) and fans its events out to every tab of that agent
// over WebSocket. Every event carries the agent's sequence number; a tab reconnecting with
// ?since=N gets exactly the events after N, or the whole state when N is no longer in the
// log. Tabs send commands (accept, reply, resolve, ...) the gateway passes to the session.
// The last tab closing ends the session after a grace (a reload keeps it).
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include "connectors/http/server.h"
#include "desk/desk.h"
#include "workspace/agent_state.h"
#include "workspace/sign_in.h"

namespace omniroute::workspace {

class Tab;

struct GatewayOptions {
  std::string router_endpoint;    // the router's agent endpoint
  std::string router_public_key;  // Z85; empty = no CURVE (agent_auth none, tests)
  std::string secret_key;         // the gateway's CURVE secret key (Z85)
  int64_t tab_grace_ms = 15000;   // session kept this long after the last tab closed
  size_t log_events = 2000;       // events kept per agent for reconnecting tabs
};

// One agent's protocol session and the events its tabs read.
class AgentLink {
 public:
  AgentLink(const Session& who, const GatewayOptions& o);
  ~AgentLink();
  // `since` and `epoch` come from a reconnecting tab: the events after `since` are replayed
  // when the tab's stream is this link's (same epoch) and still in the log.
  void attach(const std::shared_ptr<Tab>& tab, uint64_t since, const std::string& epoch);
  // True when it was the last tab.
  bool detach(const Tab* tab);
  // A command from a tab (JSON); errors go back to that tab.
  void command(Tab& from, const nlohmann::json& cmd);
  bool idle_since(int64_t* ms) const;

 private:
  void publish(nlohmann::json event);
  void reply(Tab& from, const nlohmann::json& cmd);
  Session who_;
  std::string epoch_;  // this link's stream; a new link (after the grace) is a new stream
  size_t max_log_;
  mutable std::mutex mu_;
  uint64_t seq_ = 0;
  std::deque<std::pair<uint64_t, std::string>> log_;
  AgentState state_;
  std::set<std::shared_ptr<Tab>> tabs_;
  int64_t idle_since_ms_ = 0;  // when the last tab left (0 = tabs open)
  std::unique_ptr<desk::Desk> desk_;
};

class Gateway : public std::enable_shared_from_this<Gateway> {
 public:
  explicit Gateway(GatewayOptions o);
  ~Gateway();
  // Takes over a WebSocket upgrade of a signed-in session.
  void upgrade(boost::beast::tcp_stream stream,
               boost::beast::http::request<boost::beast::http::string_body> req,
               connectors::http::ConnectionLease lease, const Session& who, uint64_t since,
               const std::string& epoch);
  void tab_closed(const Session& who, const Tab* tab);
  // Ends every protocol session and closes every tab (the workspace stops).
  void close_all();
  size_t links() const;

 private:
  void reap();
  GatewayOptions o_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<AgentLink>> links_;  // "<ws>/<agent>"
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread reaper_;
};

}  // namespace omniroute::workspace
