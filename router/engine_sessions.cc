// Desk sessions: Hello (who may start one, how often), the Welcome, sessions taken over
// by another connection, and sessions that end when their key is revoked.
#include "router/engine.h"

#include <algorithm>

#include "common/crypto.h"
#include "common/ids.h"

namespace omniroute::router {
namespace {
constexpr int64_t kWelcomeWindowMs = 10000;
}

std::string Engine::refuse_hello(AgentRt* a, const v1::Hello& h, const std::string& peer_key,
                                 v1::Error::Code& code) {
  code = v1::Error::CODE_UNAUTHORIZED;
  if (h.protocol_version() != 1) return "unsupported protocol_version (this router speaks 1)";
  if (!a) return "unknown agent";
  switch (cfg_->router.agent_auth) {
    case config::AgentAuth::kCurve:
      // The ZAP handler let the key in; here it must be this agent's key, not another's.
      if (peer_key.empty() || a->cfg->curve_public_key != peer_key)
        return "this connection's key is not the key of that agent";
      break;
    case config::AgentAuth::kToken:
      if (a->cfg->token.empty() || !crypto::constant_time_equal(a->cfg->token, h.token()))
        return "unknown agent or bad token";
      break;
    case config::AgentAuth::kNone:
      break;
  }
  // Every Welcome carries the agent's whole state: a Hello flood must not build one each.
  const int64_t now = clock_.now_ms();
  while (!a->welcomes.empty() && now - a->welcomes.front() >= kWelcomeWindowMs)
    a->welcomes.pop_front();
  if (static_cast<int>(a->welcomes.size()) >= cfg_->router.max_welcomes_per_10s) {
    code = v1::Error::CODE_RATE_LIMITED;
    return fmt::format("too many sessions started for this agent; say Hello again in {} ms",
                       kWelcomeWindowMs - (now - a->welcomes.front()));
  }
  return {};
}

void Engine::on_hello(Store::Batch& b, const std::string& rid, const v1::Hello& h,
                      const std::string& peer_key) {
  AgentRt* a = agent(h.workspace_id(), h.agent_id());
  const int64_t now = clock_.now_ms();
  if (a && a->routing_id == rid && a->session_key == peer_key &&
      now - a->welcomed_at_ms < cfg_->router.heartbeat_timeout_ms) {
    // The desk repeats Hello while its Welcome is on the way: another Welcome (the agent's
    // whole state) per repeat would pile up in the socket. The session stays as it is,
    // but the presence the desk states now counts.
    a->last_seen_ms = now;
    const v1::Presence p =
        h.presence() == v1::PRESENCE_UNSPECIFIED ? v1::PRESENCE_AVAILABLE : h.presence();
    if (p != a->presence && (p == v1::PRESENCE_AVAILABLE || p == v1::PRESENCE_AWAY)) {
      a->presence = p;
      if (a->online()) dispatch_agent_queues(b, *a);
    }
    return;
  }
  v1::Error::Code code{};
  if (std::string why = refuse_hello(a, h, peer_key, code); !why.empty()) {
    if (code == v1::Error::CODE_UNAUTHORIZED)
      log_->warn("hello refused for {}/{}: {}", h.workspace_id(), h.agent_id(), why);
    error_to(rid, code, why, {});
    return;
  }
  if (!a->routing_id.empty() && a->routing_id != rid) {
    // The agent opened another desk: this one takes the session. The old one is told so
    // with a code after which a desk does not reconnect by itself (no ping-pong).
    error_to(a->routing_id, v1::Error::CODE_SESSION_REPLACED,
             "another desk of this agent said Hello and took the session", {});
    sessions_.erase(a->routing_id);
  }
  // A connection re-saying Hello as another agent drops the old binding (sessions_ knows
  // which agent a connection belongs to: no scan over every agent).
  if (auto sit = sessions_.find(rid); sit != sessions_.end()) {
    if (auto other = agents_.find(sit->second); other != agents_.end() && &other->second != a)
      other->second.routing_id.clear();
    sessions_.erase(sit);
  }
  a->routing_id = rid;
  a->session_key = peer_key;
  a->welcomes.push_back(now);
  if (a->offline_since_ms != 0) {
    a->offline_since_ms = 0;
    save_agent(b, *a);
  }
  sessions_[rid] = a->workspace + "/" + a->cfg->id;
  a->presence = h.presence() == v1::PRESENCE_UNSPECIFIED ? v1::PRESENCE_AVAILABLE : h.presence();
  a->last_seen_ms = a->last_sent_ms = a->welcomed_at_ms = now;
  log_->info("{}/{} desk connected ({}), {} open conversations", a->workspace, a->cfg->id,
             h.desk().substr(0, 64), a->conversations.size());
  v1::AgentFrame f;
  auto* w = f.mutable_welcome();
  w->set_session_id(new_uuid());
  w->set_heartbeat_interval_ms(static_cast<uint32_t>(cfg_->router.heartbeat_interval_ms));
  w->set_heartbeat_timeout_ms(static_cast<uint32_t>(cfg_->router.heartbeat_timeout_ms));
  for (const auto& [cid, ch] : a->conversations) {
    v1::store::Conversation c;
    if (!load_conversation(b, a->workspace, cid, c)) continue;
    const bool mine = c.agent_id() == a->cfg->id ||
                      (c.state() == v1::store::CONVERSATION_STATE_OFFERED &&
                       std::find(c.also_offered().begin(), c.also_offered().end(), a->cfg->id) !=
                           c.also_offered().end());
    if (!mine) continue;
    if (c.state() == v1::store::CONVERSATION_STATE_ASSIGNED) {
      *w->add_open_conversations() = assignment(b, c, {});
    } else if (c.state() == v1::store::CONVERSATION_STATE_OFFERED) {
      *w->add_pending_offers() = offer_frame(b, c);
    }
  }
  send_to(rid, std::move(f));
  if (a->online()) dispatch_agent_queues(b, *a);
}

void Engine::end_revoked_sessions(Store::Batch& b) {
  if (cfg_->router.agent_auth != config::AgentAuth::kCurve) return;
  for (auto& [key, a] : agents_) {
    if (a.routing_id.empty() || a.session_key == a.cfg->curve_public_key) continue;
    log_->warn("{}: key revoked by the new configuration; session ended", key);
    error_to(a.routing_id, v1::Error::CODE_UNAUTHORIZED, "this desk's key was revoked", {});
    desk_gone(b, a, "key revoked");
  }
}

}  // namespace omniroute::router
