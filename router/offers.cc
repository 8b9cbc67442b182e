#include "router/offers.h"

#include "ops/metrics.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "router/parts.h"

namespace omniroute::router {

using v1::store::Conversation;

std::string Offers::conversation_of(const std::string& offer_id) {
  auto slash = offer_id.rfind('/');
  return slash == std::string::npos ? std::string() : offer_id.substr(0, slash);
}

bool Offers::in_round(const Conversation& c, const std::string& agent) {
  return c.state() == v1::store::CONVERSATION_STATE_OFFERED &&
         (c.agent_id() == agent || std::find(c.also_offered().begin(), c.also_offered().end(),
                                             agent) != c.also_offered().end());
}

std::vector<std::string> Offers::round_of(const Conversation& c) {
  std::vector<std::string> out;
  if (!c.agent_id().empty()) out.push_back(c.agent_id());
  for (const auto& a : c.also_offered()) out.push_back(a);
  return out;
}

void Offers::offer(Store::Batch& b, Conversation& c, AgentRt& a, const std::string& why,
                   const std::vector<v1::RoutingEvent::Candidate>& considered,
                   const std::vector<AgentRt*>& also) {
  ++p_.counters.offers;
  const int64_t now = p_.clock.now_ms();
  p_.queues.offered(a.workspace, c.summary().conversation_id());
  c.set_offer_count(c.offer_count() + 1);
  c.set_offer_id(fmt::format("{}/{}", c.summary().conversation_id(), c.offer_count()));
  c.set_state(v1::store::CONVERSATION_STATE_OFFERED);
  c.set_agent_id(a.cfg->id);
  c.clear_also_offered();
  for (const AgentRt* x : also) c.add_also_offered(x->cfg->id);
  c.set_offer_expires_at_ms(now + p_.cfg->router.offer_timeout(c.summary().channel()));
  if (c.arrived_at_ms() > 0) {
    ops::by_channel(ops::metrics().publish_to_offer, c.summary().channel())
        .Observe(static_cast<double>(std::max<int64_t>(0, now - c.arrived_at_ms())) / 1000.0);
    c.set_arrived_at_ms(0);
  }
  p_.conversations.save(b, c);
  p_.timers.add_durable(
      b, c.offer_expires_at_ms(),
      {TimerKind::kOfferExpiry, a.workspace, c.summary().conversation_id(), c.offer_id(), {}});
  p_.outbox.routing_event(b, c, v1::RoutingEvent::KIND_OFFERED, a.cfg->id,
                          also.empty()
                              ? why
                              : fmt::format("{}; also offered to {} (first to accept gets it)", why,
                                            fmt::join(c.also_offered(), ", ")),
                          considered);
  v1::AgentFrame f;
  *f.mutable_offer() = p_.conversations.offer_frame(b, c);
  auto hold = [&](AgentRt& x) {
    p_.agents.hold(b, x, c.summary().conversation_id(), c.summary().channel());
    p_.desks.send(x, f);
  };
  hold(a);
  for (AgentRt* x : also) hold(*x);
}

void Offers::accept(Store::Batch& b, AgentRt& a, const v1::Accept& m) {
  Conversation c;
  const std::string cid = conversation_of(m.offer_id());
  if (cid.empty() || !p_.conversations.load(b, a.workspace, cid, c)) {
    p_.desks.refuse(a, {Errc::kNotFound, "unknown offer"}, m.offer_id());
    return;
  }
  if ((c.agent_id() == a.cfg->id || in_round(c, a.cfg->id)) && c.offer_id() == m.offer_id()) {
    if (c.state() == v1::store::CONVERSATION_STATE_ASSIGNED) {
      // A repeated Accept (e.g. re-sent after a reconnect) gets the same Assignment.
      v1::AgentFrame f;
      *f.mutable_assignment() = p_.conversations.assignment(b, c, m.offer_id());
      p_.desks.send(a, std::move(f));
      return;
    }
    if (c.state() == v1::store::CONVERSATION_STATE_OFFERED) {
      ++p_.counters.accepts;
      cancel_timer(b, c);
      // A parallel offer: the first accept wins, the others' offers are withdrawn.
      std::vector<AgentRt*> lost;
      for (const auto& other : round_of(c)) {
        AgentRt* o = p_.agents.find(a.workspace, other);
        if (!o || o == &a) continue;
        p_.agents.release(b, *o, cid);
        p_.desks.offer_withdrawn(*o, m.offer_id(), "accepted by another agent");
        lost.push_back(o);
      }
      std::vector<std::string> lost_ids;
      for (const AgentRt* o : lost) lost_ids.push_back(o->cfg->id);
      c.clear_also_offered();
      c.set_agent_id(a.cfg->id);
      c.set_state(v1::store::CONVERSATION_STATE_ASSIGNED);
      c.set_accepted_count(c.accepted_count() + 1);
      p_.conversations.save(b, c);
      // Sticky routing remembers the agent for the whole linked group (its root).
      v1::store::Customer cust;
      if (p_.customers.root(b, a.workspace, c.summary().customer_id(), cust)) {
        cust.set_last_agent_id(a.cfg->id);
        cust.set_last_served_ms(p_.clock.now_ms());
        p_.customers.save(b, cust);
      }
      p_.outbox.routing_event(b, c, v1::RoutingEvent::KIND_ACCEPTED, a.cfg->id,
                              lost.empty() ? "offer accepted"
                                           : fmt::format("offer accepted first (withdrawn from {})",
                                                         fmt::join(lost_ids, ", ")));
      v1::AgentFrame f;
      *f.mutable_assignment() = p_.conversations.assignment(b, c, m.offer_id());
      p_.desks.send(a, std::move(f));
      p_.queues.accepted(a.workspace, c.summary().queue_id(), p_.clock.now_ms());
      v1::ChannelNotice n;
      n.set_kind(v1::ChannelNotice::KIND_AGENT_JOINED);
      p_.outbox.notice(b, c, n, a.cfg);
      for (AgentRt* o : lost)
        if (o->online()) p_.dispatch.agent_queues(b, *o);  // their slot is free again
      return;
    }
  }
  p_.desks.offer_withdrawn(a, m.offer_id(), "offer is no longer valid");
}

void Offers::reject(Store::Batch& b, AgentRt& a, const v1::Reject& m) {
  Conversation c;
  const std::string cid = conversation_of(m.offer_id());
  if (cid.empty() || !p_.conversations.load(b, a.workspace, cid, c) ||
      c.state() != v1::store::CONVERSATION_STATE_OFFERED || c.offer_id() != m.offer_id() ||
      !in_round(c, a.cfg->id)) {
    return;  // stale reject: nothing to undo
  }
  if (leave_round(b, c, a, true)) {  // a parallel offer: the others still have it
    p_.outbox.routing_event(b, c, v1::RoutingEvent::KIND_REJECTED, a.cfg->id,
                            fmt::format("rejected: {} (still offered to {})",
                                        m.reason().substr(0, 200), fmt::join(round_of(c), ", ")));
    p_.dispatch.agent_queues(b, a);
    return;
  }
  p_.agents.release(b, a, cid);
  cancel_timer(b, c);
  c.add_rejected_by(a.cfg->id);
  p_.outbox.routing_event(b, c, v1::RoutingEvent::KIND_REJECTED, a.cfg->id,
                          "rejected: " + m.reason().substr(0, 200));
  p_.dispatch.enqueue(b, c, "re-queued after rejection");
  p_.dispatch.run_for(b, c);
  p_.dispatch.agent_queues(b, a);  // its freed capacity may fit something waiting elsewhere
}

bool Offers::leave_round(Store::Batch& b, Conversation& c, AgentRt& a, bool remember) {
  if (!in_round(c, a.cfg->id) || c.also_offered().empty()) return false;
  auto* others = c.mutable_also_offered();
  if (c.agent_id() == a.cfg->id) {
    c.set_agent_id(others->Get(0));
    others->erase(others->begin());
  } else {
    others->erase(std::remove(others->begin(), others->end(), a.cfg->id), others->end());
  }
  if (remember) c.add_rejected_by(a.cfg->id);
  p_.agents.release(b, a, c.summary().conversation_id());
  p_.conversations.save(b, c);
  return true;
}

void Offers::withdraw(Store::Batch& b, Conversation& c, const std::string& reason, bool remember) {
  const std::vector<std::string> round = round_of(c);
  cancel_timer(b, c);
  for (const auto& agent_id : round) {
    if (remember) c.add_rejected_by(agent_id);
    if (AgentRt* a = p_.agents.find(c.summary().workspace_id(), agent_id)) {
      p_.agents.release(b, *a, c.summary().conversation_id());
      p_.desks.offer_withdrawn(*a, c.offer_id(), reason);
    }
  }
  c.clear_also_offered();
  p_.outbox.routing_event(b, c, v1::RoutingEvent::KIND_OFFER_EXPIRED,
                          fmt::format("{}", fmt::join(round, ",")), reason);
  p_.dispatch.enqueue(b, c, "re-queued: " + reason);
}

void Offers::take_back(Store::Batch& b, Conversation& c, const std::string& reason) {
  AgentRt* holder = p_.agents.find(c.summary().workspace_id(), c.agent_id());
  if (c.state() == v1::store::CONVERSATION_STATE_OFFERED) {
    for (const auto& other : c.also_offered()) {  // the rest of a parallel offer
      AgentRt* o = p_.agents.find(c.summary().workspace_id(), other);
      if (!o) continue;
      p_.agents.release(b, *o, c.summary().conversation_id());
      p_.desks.offer_withdrawn(*o, c.offer_id(), reason);
    }
    c.clear_also_offered();
  }
  if (c.state() == v1::store::CONVERSATION_STATE_QUEUED) {
    p_.queues.remove(b, c);
  } else if (holder && (c.state() == v1::store::CONVERSATION_STATE_OFFERED ||
                        c.state() == v1::store::CONVERSATION_STATE_ASSIGNED)) {
    p_.agents.release(b, *holder, c.summary().conversation_id());
    if (c.state() == v1::store::CONVERSATION_STATE_OFFERED) {
      cancel_timer(b, c);
      p_.desks.offer_withdrawn(*holder, c.offer_id(), reason);
    } else {
      p_.desks.conversation_gone(*holder, c.summary().conversation_id(), reason);
    }
  }
}

void Offers::cancel_timer(Store::Batch& b, const Conversation& c) {
  if (c.offer_expires_at_ms() > 0 && !c.offer_id().empty())
    p_.timers.cancel(b, c.offer_expires_at_ms(), TimerKind::kOfferExpiry,
                     c.summary().workspace_id(), c.summary().conversation_id(), c.offer_id());
}

void Offers::expired(Store::Batch& b, const Timer& t) {
  Conversation c;
  if (!p_.conversations.load(b, t.workspace, t.id, c) ||
      c.state() != v1::store::CONVERSATION_STATE_OFFERED || c.offer_id() != t.ref)
    return;
  const std::vector<std::string> round = round_of(c);
  withdraw(b, c, "offer expired", true);
  p_.dispatch.run_for(b, c);
  for (const auto& agent_id : round)  // freed capacity may fit something elsewhere
    if (AgentRt* a = p_.agents.find(t.workspace, agent_id); a && a->online())
      p_.dispatch.agent_queues(b, *a);
}

void Offers::grace_over(Store::Batch& b, const Timer& t) {
  AgentRt* a = p_.agents.find(t.workspace, t.id);
  // Stale when the desk came back (and maybe left again: another timer covers that).
  if (!a || !a->routing_id.empty() || std::to_string(a->offline_since_ms) != t.ref) return;
  const int64_t now = p_.clock.now_ms();
  std::vector<std::string> held;
  for (const auto& [cid, ch] : a->conversations) held.push_back(cid);
  std::set<std::string> queues;
  for (const auto& cid : held) {
    Conversation c;
    if (!p_.conversations.load(b, t.workspace, cid, c) ||
        c.state() != v1::store::CONVERSATION_STATE_ASSIGNED || c.agent_id() != a->cfg->id)
      continue;
    p_.agents.release(b, *a, cid);
    ++p_.counters.requeued;
    p_.outbox.routing_event(b, c, v1::RoutingEvent::KIND_REQUEUED, a->cfg->id,
                            fmt::format("agent offline for {} ms (presence grace {} ms)",
                                        now - std::stoll(t.ref), p_.cfg->router.presence_grace_ms));
    c.set_queue_due_ms(0);  // the front of its priority
    p_.dispatch.enqueue(b, c, "taken back from " + a->cfg->id + " (gone past grace)");
    queues.insert(c.summary().queue_id());
    for (const auto& q : c.extra_queues()) queues.insert(q);
  }
  for (const auto& q : queues) p_.dispatch.run(b, t.workspace, q);
}

}  // namespace omniroute::router
