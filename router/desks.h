// Desks: frames out to desks (collected during a step, sent by the runtime after the
// commit) and desk sessions (which ZeroMQ routing id speaks for which agent, Hello and
// Welcome, sessions that end). Owned by the engine's thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "omniroute/v1/agent.pb.h"
#include "router/errors.h"
#include "router/store.h"

namespace omniroute::router {

struct Parts;
struct AgentRt;

// A frame for a desk, addressed by ZeroMQ routing id.
struct DeskFrame {
  std::string routing_id;
  v1::AgentFrame frame;
};

class Desks {
 public:
  explicit Desks(Parts& p) : p_(p) {}

  // ---- frames out (desks.cc)
  void send_to(const std::string& rid, v1::AgentFrame f);
  // To the agent's desk; nothing when offline (its next Welcome carries its whole state).
  void send(const AgentRt& a, v1::AgentFrame f);
  void error_to(const std::string& rid, v1::Error::Code code, const std::string& msg,
                const std::string& ref);
  void refuse(const AgentRt& a, const Status& s, const std::string& ref);
  void offer_withdrawn(const AgentRt& a, const std::string& offer_id, const std::string& reason);
  void conversation_gone(const AgentRt& a, const std::string& conversation_id,
                         const std::string& reason);
  std::vector<DeskFrame> take() { return std::move(frames_); }

  // ---- sessions (sessions.cc)
  AgentRt* session(const std::string& rid);
  void unbind(const std::string& rid) { sessions_.erase(rid); }
  std::vector<std::string> routing_ids() const {
    std::vector<std::string> out;
    for (const auto& [rid, agent] : sessions_) out.push_back(rid);
    return out;
  }
  void on_hello(Store::Batch& b, const std::string& rid, const v1::Hello& h,
                const std::string& peer_key);
  // The runtime dropped frames to this desk and asked it to say Hello again: that Hello
  // gets a Welcome even right after the last one.
  void resync(const std::string& rid);
  // The desk went away (signed off, silent past the heartbeat timeout, revoked): open
  // offers go to someone else at once, held conversations after the presence grace.
  void gone(Store::Batch& b, AgentRt& a, const std::string& why);
  // After a reload: sessions whose key is no longer the agent's end now.
  void end_revoked_sessions(Store::Batch& b);
  // Heartbeat timer: silent desks are gone, the others get a heartbeat.
  void heartbeat(Store::Batch& b);
  // Every desk frame that arrived before `ms` has been applied. A desk's silence is counted
  // up to then, not to now: frames a busy router has not read yet are not silence (up to 4
  // heartbeat timeouts back).
  void read_until(int64_t ms) { read_until_ms_ = ms; }
  // Reconnect-grace timer after a start: desks not back since are gone.
  void reconnect_grace_over(Store::Batch& b);

 private:
  // Why this Hello may not start a session (ok = it may): protocol version, the agent's
  // credential for router.agent_auth, the Welcome rate.
  Status refuse_hello(AgentRt* a, const v1::Hello& h, const std::string& peer_key);
  v1::AgentFrame welcome(Store::Batch& b, const AgentRt& a);
  // Whether a connection authenticated with `key` may be `a`'s session: its own key, or a
  // gateway's allowed for its workspace (router.gateways).
  bool key_allowed(const AgentRt& a, const std::string& key) const;

  Parts& p_;
  std::vector<DeskFrame> frames_;
  std::map<std::string, std::string> sessions_;  // routing id -> "<ws>/<agent>"
  int64_t read_until_ms_ = INT64_MAX;            // never set: every frame is read (tests)
};

}  // namespace omniroute::router
