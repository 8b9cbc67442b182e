// Desk sessions: Hello (who may start one, how often), the Welcome, sessions taken over
// by another connection, desks that go away, and sessions that end when their key is
// revoked.
#include <algorithm>
#include <set>

#include "common/crypto.h"
#include "common/ids.h"
#include "router/desks.h"
#include "router/parts.h"

namespace omniroute::router {
namespace {
constexpr int64_t kWelcomeWindowMs = 10000;
}

bool Desks::key_allowed(const AgentRt& a, const std::string& key) const {
  return (!key.empty() && a.cfg->curve_public_key == key) ||
         p_.cfg->router.gateway_allows(key, a.workspace);
}

Status Desks::refuse_hello(AgentRt* a, const v1::Hello& h, const std::string& peer_key) {
  if (h.protocol_version() != 1)
    return {Errc::kUnauthorized, "unsupported protocol_version (this router speaks 1)"};
  if (!a) return {Errc::kUnauthorized, "unknown agent"};
  switch (p_.cfg->router.agent_auth) {
    case config::AgentAuth::kCurve:
      // The ZAP handler let the key in; here it must be this agent's key (not another's),
      // or a gateway's allowed to speak for this workspace.
      if (!key_allowed(*a, peer_key))
        return {Errc::kUnauthorized, "this connection's key is not the key of that agent"};
      break;
    case config::AgentAuth::kToken:
      if (a->cfg->token.empty() || !crypto::constant_time_equal(a->cfg->token, h.token()))
        return {Errc::kUnauthorized, "unknown agent or bad token"};
      break;
    case config::AgentAuth::kNone:
      break;
  }
  // Every Welcome carries the agent's whole state: a Hello flood must not build one each.
  const int64_t now = p_.clock.now_ms();
  while (!a->welcomes.empty() && now - a->welcomes.front() >= kWelcomeWindowMs)
    a->welcomes.pop_front();
  if (static_cast<int>(a->welcomes.size()) >= p_.cfg->router.max_welcomes_per_10s) {
    return {Errc::kRateLimited,
            fmt::format("too many sessions started for this agent; say Hello again in {} ms",
                        kWelcomeWindowMs - (now - a->welcomes.front()))};
  }
  return {};
}

// libzmq's ROUTER names a peer without an id of its own 0 + a 32-bit counter (big-endian):
// a later connection has a greater id. Other ids are not compared.
static bool older_connection(const std::string& a, const std::string& b) {
  return a.size() == 5 && b.size() == 5 && a[0] == 0 && b[0] == 0 && a < b;
}

void Desks::resync(const std::string& rid) {
  if (AgentRt* a = session(rid)) a->welcomed = false;
}

void Desks::on_hello(Store::Batch& b, const std::string& rid, const v1::Hello& h,
                     const std::string& peer_key) {
  AgentRt* a = p_.agents.find(h.workspace_id(), h.agent_id());
  const int64_t now = p_.clock.now_ms();
  if (a && a->routing_id == rid && a->session_key == peer_key && a->welcomed) {
    // The desk repeats Hello while its Welcome is on the way. That Welcome reaches this
    // connection (a desk that reconnects has a new one; a desk whose frames were dropped
    // is resynced: welcomed = false), however late: it waits for its step's changelog
    // records, which a broker fault can hold up for seconds. Another Welcome (the agent's
    // whole state) per repeat would only pile up behind it and keep the router building
    // them. The session stays as it is, but the presence the desk states now counts.
    a->last_seen_ms = now;
    const v1::Presence pr =
        h.presence() == v1::PRESENCE_UNSPECIFIED ? v1::PRESENCE_AVAILABLE : h.presence();
    if (pr != a->presence && (pr == v1::PRESENCE_AVAILABLE || pr == v1::PRESENCE_AWAY)) {
      a->presence = pr;
      p_.outbox.presence_event(b, *a);
      if (a->online()) p_.dispatch.agent_queues(b, *a);
    }
    return;
  }
  if (Status refused = refuse_hello(a, h, peer_key)) {
    if (refused.code() == Errc::kUnauthorized)
      p_.log->warn("hello refused for {}/{}: {}", h.workspace_id(), h.agent_id(),
                   refused.message());
    error_to(rid, desk_code(refused.code()), refused.message(), {});
    return;
  }
  if (!a->routing_id.empty() && a->routing_id != rid && older_connection(rid, a->routing_id)) {
    // A Hello from a connection older than the live session's: a desk's previous socket,
    // whose last bytes arrive after the desk reconnected and said Hello on a new one (a
    // desk that wants the session opens a new connection, which always has a newer id).
    // Taking the session back for it would tell the live desk it was replaced, and park it.
    // (Not only while the live session looks fresh: a busy router reads the stale Hello
    // late. Once the live desk is gone, its session is cleared and any connection may
    // take it.) It is told so, as a replaced desk is: a desk's closed socket never reads
    // it, and any other client gets a clear answer, not silence.
    p_.log->debug("{}/{}: Hello from an older connection than the live session's: refused",
                  a->workspace, a->cfg->id);
    error_to(rid, v1::Error::CODE_SESSION_REPLACED,
             "a newer connection of this agent holds the session", {});
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
    auto& all = p_.agents.all();
    if (auto other = all.find(sit->second); other != all.end() && &other->second != a)
      other->second.routing_id.clear();
    sessions_.erase(sit);
  }
  a->routing_id = rid;
  a->session_key = peer_key;
  a->welcomes.push_back(now);
  if (a->offline_since_ms != 0) {
    a->offline_since_ms = 0;
    p_.agents.save(b, *a);
  }
  sessions_[rid] = a->workspace + "/" + a->cfg->id;
  a->presence = h.presence() == v1::PRESENCE_UNSPECIFIED ? v1::PRESENCE_AVAILABLE : h.presence();
  a->last_seen_ms = a->last_sent_ms = now;
  a->welcomed = true;
  p_.outbox.presence_event(b, *a);
  p_.log->info("{}/{} desk connected ({}), {} open conversations", a->workspace, a->cfg->id,
               h.desk().substr(0, 64), a->conversations.size());
  send_to(rid, welcome(b, *a));
  if (a->online()) p_.dispatch.agent_queues(b, *a);
}

// The agent's whole state: its open conversations and pending offers.
v1::AgentFrame Desks::welcome(Store::Batch& b, const AgentRt& a) {
  v1::AgentFrame f;
  auto* w = f.mutable_welcome();
  w->set_session_id(new_uuid());
  w->set_heartbeat_interval_ms(static_cast<uint32_t>(p_.cfg->router.heartbeat_interval_ms));
  w->set_heartbeat_timeout_ms(static_cast<uint32_t>(p_.cfg->router.heartbeat_timeout_ms));
  for (const auto& [cid, ch] : a.conversations) {
    v1::store::Conversation c;
    if (!p_.conversations.load(b, a.workspace, cid, c)) continue;
    const bool mine = c.agent_id() == a.cfg->id ||
                      (c.state() == v1::store::CONVERSATION_STATE_OFFERED &&
                       std::find(c.also_offered().begin(), c.also_offered().end(), a.cfg->id) !=
                           c.also_offered().end());
    if (!mine) continue;
    if (c.state() == v1::store::CONVERSATION_STATE_ASSIGNED) {
      *w->add_open_conversations() = p_.conversations.assignment(b, c, {});
    } else if (c.state() == v1::store::CONVERSATION_STATE_OFFERED) {
      *w->add_pending_offers() = p_.conversations.offer_frame(b, c);
    }
  }
  for (auto& r : p_.canned.visible(a)) *w->add_canned_responses() = std::move(r);
  return f;
}

void Desks::gone(Store::Batch& b, AgentRt& a, const std::string& why) {
  p_.log->info("{}/{} desk offline: {}", a.workspace, a.cfg->id, why);
  sessions_.erase(a.routing_id);
  a.routing_id.clear();
  a.presence = v1::PRESENCE_OFFLINE;
  a.offline_since_ms = p_.clock.now_ms();
  p_.agents.save(b, a);
  p_.outbox.presence_event(b, a);
  // Open offers go to someone else at once; accepted conversations stay with the agent
  // for the presence grace, then go back to the front of their queues.
  std::vector<std::string> held;
  for (const auto& [cid, ch] : a.conversations) held.push_back(cid);
  std::set<std::string> queues;
  bool assigned = false;
  for (const auto& cid : held) {
    v1::store::Conversation c;
    if (!p_.conversations.load(b, a.workspace, cid, c)) continue;
    if (p_.offers.leave_round(b, c, a, false)) {
      // A parallel offer: the others keep it.
      p_.outbox.routing_event(b, c, v1::RoutingEvent::KIND_OFFER_EXPIRED, a.cfg->id,
                              fmt::format("agent offline: {} (still offered to {})", why,
                                          fmt::join(Offers::round_of(c), ", ")));
    } else if (Offers::in_round(c, a.cfg->id)) {
      p_.offers.withdraw(b, c, "agent offline: " + why, false);
      queues.insert(c.summary().queue_id());
      for (const auto& q : c.extra_queues()) queues.insert(q);
    } else if (c.state() == v1::store::CONVERSATION_STATE_ASSIGNED) {
      assigned = true;
    }
  }
  for (const auto& q : queues) p_.dispatch.run(b, a.workspace, q);
  if (assigned) {
    p_.timers.add_durable(
        b, a.offline_since_ms + p_.cfg->router.presence_grace_ms,
        {TimerKind::kGrace, a.workspace, a.cfg->id, std::to_string(a.offline_since_ms), {}});
  }
}

void Desks::end_revoked_sessions(Store::Batch& b) {
  if (p_.cfg->router.agent_auth != config::AgentAuth::kCurve) return;
  for (auto& [key, a] : p_.agents.all()) {
    if (a.routing_id.empty() || key_allowed(a, a.session_key)) continue;
    p_.log->warn("{}: key revoked by the new configuration; session ended", key);
    error_to(a.routing_id, v1::Error::CODE_UNAUTHORIZED, "this desk's key was revoked", {});
    gone(b, a, "key revoked");
  }
}

void Desks::heartbeat(Store::Batch& b) {
  const int64_t now = p_.clock.now_ms();
  // Up to what the router has read, but never further back than 4 timeouts: a socket that
  // never runs dry (a flood of frames) must not keep dead desks' offers from moving on.
  const int64_t timeout = p_.cfg->router.heartbeat_timeout_ms;
  const int64_t read = std::max(std::min(now, read_until_ms_), now - 4 * timeout);
  for (auto& [k, a] : p_.agents.all()) {
    if (a.routing_id.empty()) continue;
    if (read - a.last_seen_ms > timeout) {
      gone(b, a, fmt::format("no heartbeat for {} ms", read - a.last_seen_ms));
      continue;
    }
    v1::AgentFrame f;
    f.mutable_heartbeat();
    send(a, std::move(f));
  }
  p_.timers.add(now + p_.cfg->router.heartbeat_interval_ms,
                {TimerKind::kHeartbeat, {}, {}, {}, {}});
}

void Desks::reconnect_grace_over(Store::Batch& b) {
  // Desks connected when the router stopped and not back since. Those already gone
  // before have their durable grace timer.
  for (auto& [k, a] : p_.agents.all()) {
    if (a.routing_id.empty() && a.offline_since_ms == 0 && !a.conversations.empty())
      gone(b, a, "did not reconnect after restart");
  }
}

}  // namespace omniroute::router
