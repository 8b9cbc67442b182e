// Conversation frames: Resolve, Transfer (to an agent or a queue) and ForceAssign (a
// supervisor's choice).
#include <algorithm>

#include <fmt/format.h>

#include "router/frames/frames.h"
#include "router/parts.h"

namespace omniroute::router::frames {

using v1::store::Conversation;

void resolve(Parts& p, Store::Batch& b, AgentRt& a, const v1::AgentFrame& f) {
  const v1::Resolve& m = f.resolve();
  Conversation c;
  if (!p.conversations.load(b, a.workspace, m.conversation_id(), c))
    return p.desks.refuse(a, {Errc::kNotFound, "unknown conversation"}, m.conversation_id());
  v1::AgentFrame done;
  done.mutable_resolved()->set_conversation_id(m.conversation_id());
  if (c.state() == v1::store::CONVERSATION_STATE_RESOLVED && c.agent_id() == a.cfg->id)
    return p.desks.send(a, std::move(done));  // repeated: the same answer
  if (c.state() != v1::store::CONVERSATION_STATE_ASSIGNED || c.agent_id() != a.cfg->id)
    return p.desks.refuse(a, {Errc::kConflict, "conversation is not assigned to you"},
                          m.conversation_id());
  ++p.counters.resolves;
  c.set_state(v1::store::CONVERSATION_STATE_RESOLVED);
  c.set_resolved_at_ms(p.clock.now_ms());
  p.snoozes.clear(b, c);
  p.sla.resolved(b, c);
  p.threading.close(b, c);
  p.conversations.save(b, c);
  p.agents.release(b, a, c.summary().conversation_id());
  p.outbox.routing_event(b, c, v1::RoutingEvent::KIND_RESOLVED, a.cfg->id, "resolved by agent");
  v1::ChannelNotice n;
  n.set_kind(v1::ChannelNotice::KIND_RESOLVED);
  p.outbox.notice(b, c, n, a.cfg);
  p.csat.on_resolve(b, c, a.cfg->id);
  p.desks.send(a, std::move(done));
  p.dispatch.agent_queues(b, a);
}

namespace {

void to_agent(Parts& p, Store::Batch& b, AgentRt& a, Conversation& c, const v1::Transfer& m,
              const std::string& text) {
  AgentRt* to = p.agents.find(a.workspace, m.to_agent_id());
  if (!to || to == &a)
    return p.desks.refuse(a, {Errc::kInvalid, "no such other agent in this workspace"},
                          m.conversation_id());
  // A person chose them: skills and languages are theirs to judge; presence, shift and
  // capacity are not.
  std::string why;
  if (!p.agents.can_hold(*to, c.summary().channel(), true, &why))
    return p.desks.refuse(
        a, {Errc::kConflict, fmt::format("{} cannot take it now: {}", to->cfg->id, why)},
        m.conversation_id());
  p.agents.release(b, a, c.summary().conversation_id());
  p.snoozes.clear(b, c);
  p.conversations.note(b, c, text);
  p.outbox.routing_event(
      b, c, v1::RoutingEvent::KIND_TRANSFERRED, a.cfg->id,
      fmt::format("transfer to agent {}{}", to->cfg->id, m.note().empty() ? "" : " (with a note)"));
  p.desks.conversation_gone(a, c.summary().conversation_id(), "transferred to " + to->cfg->id);
  v1::RoutingEvent::Candidate cand;
  cand.set_agent_id(to->cfg->id);
  cand.set_eligible(true);
  cand.set_reason("chosen by " + a.cfg->id);
  p.offers.offer(b, c, *to, "transfer from " + a.cfg->id, {cand});
  p.dispatch.agent_queues(b, a);
}

// `c` belongs to `q` from now: its skills, and its overflow chain counted from now.
void into_queue(Parts& p, Store::Batch& b, Conversation& c, const config::Queue& q) {
  p.sla.cancel_overflow(b, c);
  c.mutable_summary()->set_queue_id(q.id);
  c.mutable_skills()->clear();
  for (const auto& [skill, level] : q.skills) (*c.mutable_skills())[skill] = level;
  c.clear_extra_queues();
  c.set_overflow_stage(0);
  p.sla.arm_overflow(b, c, p.clock.now_ms());
  c.clear_sticky_agent_id();
}

void to_queue(Parts& p, Store::Batch& b, AgentRt& a, Conversation& c, const v1::Transfer& m,
              const std::string& text) {
  const config::Queue* q = p.cfg->workspace(a.workspace)->queue(m.to_queue_id());
  if (!q)
    return p.desks.refuse(a, {Errc::kInvalid, "no such queue in this workspace"},
                          m.conversation_id());
  p.agents.release(b, a, c.summary().conversation_id());
  p.snoozes.clear(b, c);
  p.conversations.note(b, c, text);
  into_queue(p, b, c, *q);
  if (std::find(c.rejected_by().begin(), c.rejected_by().end(), a.cfg->id) == c.rejected_by().end())
    c.add_rejected_by(a.cfg->id);  // not straight back to the sender
  p.desks.conversation_gone(a, c.summary().conversation_id(), "transferred to queue " + q->id);
  p.outbox.routing_event(
      b, c, v1::RoutingEvent::KIND_TRANSFERRED, a.cfg->id,
      fmt::format("transfer to queue {}{}", q->id, m.note().empty() ? "" : " (with a note)"));
  p.dispatch.enqueue(b, c, fmt::format("transfer by {} to queue {}", a.cfg->id, q->id));
  p.dispatch.run(b, a.workspace, q->id);
  p.dispatch.agent_queues(b, a);
}

}  // namespace

void transfer(Parts& p, Store::Batch& b, AgentRt& a, const v1::AgentFrame& f) {
  const v1::Transfer& m = f.transfer();
  if (static_cast<int64_t>(m.ByteSizeLong()) > p.cfg->router.max_reply_bytes)
    return p.desks.refuse(
        a,
        {Errc::kTooLarge,
         fmt::format("transfer note of {} bytes is over router.max_reply_bytes ({})",
                     m.ByteSizeLong(), p.cfg->router.max_reply_bytes)},
        m.conversation_id());
  Conversation c;
  if (Status st = p.conversations.load_assigned(b, a, m.conversation_id(), c))
    return p.desks.refuse(a, st, m.conversation_id());
  const std::string text =
      fmt::format("Transferred by {}{}", a.cfg->id, m.note().empty() ? "" : ": " + m.note());
  if (!m.to_agent_id().empty()) return to_agent(p, b, a, c, m, text);
  to_queue(p, b, a, c, m, text);
}

namespace {

// A supervisor moves a conversation to a queue: whoever holds it or has its offer loses it,
// and it waits in the queue (at its arrival place) for whoever the queue offers it to.
void move_to_queue(Parts& p, Store::Batch& b, AgentRt& a, Conversation& c,
                   const v1::ForceAssign& m) {
  const config::Queue* q = p.cfg->workspace(a.workspace)->queue(m.to_queue_id());
  if (!q || !m.agent_id().empty())
    return p.desks.refuse(a,
                          {Errc::kInvalid, q ? "name an agent or a queue, not both"
                                             : "no such queue in this workspace"},
                          m.conversation_id());
  const std::string previous = c.agent_id();
  p.offers.take_back(b, c, "moved to queue " + q->id + " by supervisor " + a.cfg->id);
  p.snoozes.clear(b, c);
  p.conversations.note(b, c,
                       fmt::format("Moved to queue {} by supervisor {}{}", q->id, a.cfg->id,
                                   m.note().empty() ? "" : ": " + m.note()));
  into_queue(p, b, c, *q);
  if (!previous.empty() &&
      std::find(c.rejected_by().begin(), c.rejected_by().end(), previous) == c.rejected_by().end())
    c.add_rejected_by(previous);  // moved away from them: not straight back
  p.outbox.routing_event(b, c, v1::RoutingEvent::KIND_TRANSFERRED, a.cfg->id,
                         fmt::format("moved to queue {} by supervisor {}{}", q->id, a.cfg->id,
                                     previous.empty() ? "" : " (was with " + previous + ")"));
  p.dispatch.enqueue(b, c, fmt::format("moved by supervisor {} to queue {}", a.cfg->id, q->id));
  p.dispatch.run(b, a.workspace, q->id);
  if (AgentRt* prev = p.agents.find(a.workspace, previous); prev && prev->online())
    p.dispatch.agent_queues(b, *prev);
}

}  // namespace

void force_assign(Parts& p, Store::Batch& b, AgentRt& a, const v1::AgentFrame& f) {
  const v1::ForceAssign& m = f.force_assign();
  if (!a.cfg->supervisor)
    return p.desks.refuse(a, {Errc::kUnauthorized, "only supervisors may force-assign"},
                          m.conversation_id());
  Conversation c;
  if (!p.conversations.load(b, a.workspace, m.conversation_id(), c) ||
      c.state() == v1::store::CONVERSATION_STATE_RESOLVED)
    return p.desks.refuse(a, {Errc::kNotFound, "no open conversation with this id"},
                          m.conversation_id());
  if (!m.to_queue_id().empty()) return move_to_queue(p, b, a, c, m);
  AgentRt* to = p.agents.find(a.workspace, m.agent_id());
  if (!to)
    return p.desks.refuse(a, {Errc::kInvalid, "no such agent in this workspace"},
                          m.conversation_id());
  if (c.agent_id() == to->cfg->id && c.state() == v1::store::CONVERSATION_STATE_ASSIGNED) return;
  std::string why;
  const bool held_by_target = Offers::in_round(c, to->cfg->id);
  if (!held_by_target && !p.agents.can_hold(*to, c.summary().channel(), false, &why))
    return p.desks.refuse(
        a, {Errc::kConflict, fmt::format("{} cannot take it now: {}", to->cfg->id, why)},
        m.conversation_id());
  const std::string previous = c.agent_id();
  p.offers.take_back(b, c, "reassigned by supervisor " + a.cfg->id);
  p.snoozes.clear(b, c);
  p.conversations.note(b, c,
                       fmt::format("Assigned to {} by supervisor {}{}", to->cfg->id, a.cfg->id,
                                   m.note().empty() ? "" : ": " + m.note()));
  c.set_offer_count(c.offer_count() + 1);
  c.set_offer_id(fmt::format("{}/{}", c.summary().conversation_id(), c.offer_count()));
  c.set_state(v1::store::CONVERSATION_STATE_ASSIGNED);
  c.set_agent_id(to->cfg->id);
  c.set_accepted_count(c.accepted_count() + 1);
  p.conversations.save(b, c);
  p.agents.hold(b, *to, c.summary().conversation_id(), c.summary().channel());
  p.outbox.routing_event(b, c, v1::RoutingEvent::KIND_FORCE_ASSIGNED, to->cfg->id,
                         fmt::format("force-assigned by supervisor {}{}", a.cfg->id,
                                     previous.empty() ? "" : " (was " + previous + ")"));
  v1::AgentFrame out;
  *out.mutable_assignment() = p.conversations.assignment(b, c, c.offer_id());
  p.desks.send(*to, std::move(out));
  if (AgentRt* prev = p.agents.find(a.workspace, previous); prev && prev != to && prev->online())
    p.dispatch.agent_queues(b, *prev);
}

}  // namespace omniroute::router::frames
