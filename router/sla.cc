#include "router/sla.h"

#include <algorithm>

#include <fmt/format.h>

#include "router/parts.h"

namespace omniroute::router {

using v1::store::Conversation;

namespace {
int64_t due_of(const Conversation& c, const std::string& target) {
  if (target == "first_response") return c.first_response_due_ms();
  if (target == "next_response") return c.next_response_due_ms();
  return c.resolution_due_ms();
}
}  // namespace

const config::SlaPolicy* Sla::policy_of(const Conversation& c) const {
  const config::Workspace* ws = p_.cfg->workspace(c.summary().workspace_id());
  for (const auto& p : ws->sla)
    if (p.name == c.sla_policy()) return &p;
  return ws->sla_for(c.summary().channel(), c.priority());
}

void Sla::arm(Store::Batch& b, const Conversation& c, const std::string& target, int64_t start,
              int64_t due, int64_t target_ms) {
  const config::SlaPolicy* pol = policy_of(c);
  const double frac = pol ? pol->warning_fraction : 0.8;
  const std::string& ws = c.summary().workspace_id();
  const std::string& id = c.summary().conversation_id();
  if (frac < 1.0) {
    p_.timers.add_durable(b, start + static_cast<int64_t>(static_cast<double>(target_ms) * frac),
                          {TimerKind::kSla, ws, id, fmt::format("{}/warn/{}", target, due), {}});
  }
  p_.timers.add_durable(b, due,
                        {TimerKind::kSla, ws, id, fmt::format("{}/breach/{}", target, due), {}});
}

void Sla::cancel(Store::Batch& b, const Conversation& c, const std::string& target, int64_t due) {
  if (due <= 0) return;
  const config::SlaPolicy* pol = policy_of(c);
  const std::string& ws = c.summary().workspace_id();
  const std::string& id = c.summary().conversation_id();
  p_.timers.cancel(b, due, TimerKind::kSla, ws, id, fmt::format("{}/breach/{}", target, due));
  if (!pol) return;
  const int64_t target_ms = target == "first_response"  ? pol->first_response_ms
                            : target == "next_response" ? pol->next_response_ms
                                                        : pol->resolution_ms;
  if (pol->warning_fraction < 1.0) {
    const int64_t warn_at =
        due - target_ms +
        static_cast<int64_t>(static_cast<double>(target_ms) * pol->warning_fraction);
    p_.timers.cancel(b, warn_at, TimerKind::kSla, ws, id, fmt::format("{}/warn/{}", target, due));
  }
}

void Sla::start(Store::Batch& b, Conversation& c, const config::SlaPolicy& pol, int64_t now) {
  c.set_sla_policy(pol.name);
  if (pol.first_response_ms > 0) {
    c.set_first_response_due_ms(now + pol.first_response_ms);
    arm(b, c, "first_response", now, c.first_response_due_ms(), pol.first_response_ms);
  }
  if (pol.resolution_ms > 0) {
    c.set_resolution_due_ms(now + pol.resolution_ms);
    arm(b, c, "resolution", now, c.resolution_due_ms(), pol.resolution_ms);
  }
}

void Sla::start_next_response(Store::Batch& b, Conversation& c, int64_t now, bool fallback_first) {
  const config::SlaPolicy* pol = policy_of(c);
  if (!pol) return;
  const int64_t target =
      pol->next_response_ms > 0 || !fallback_first ? pol->next_response_ms : pol->first_response_ms;
  if (target <= 0) return;
  c.set_next_response_due_ms(now + target);
  arm(b, c, "next_response", now, c.next_response_due_ms(), target);
}

void Sla::answered(Store::Batch& b, Conversation& c) {
  cancel(b, c, "first_response", c.first_response_due_ms());
  cancel(b, c, "next_response", c.next_response_due_ms());
  c.set_first_response_due_ms(0);
  c.set_next_response_due_ms(0);
}

void Sla::resolved(Store::Batch& b, Conversation& c) {
  cancel(b, c, "first_response", c.first_response_due_ms());
  cancel(b, c, "next_response", c.next_response_due_ms());
  cancel(b, c, "resolution", c.resolution_due_ms());
  cancel_overflow(b, c);
  c.set_first_response_due_ms(0);
  c.set_next_response_due_ms(0);
  c.set_resolution_due_ms(0);
}

void Sla::raise_priority(Store::Batch& b, Conversation& c, const std::string& why) {
  if (c.priority() >= 9) return;
  const bool queued = c.state() == v1::store::CONVERSATION_STATE_QUEUED;
  if (queued) p_.queues.remove(b, c);
  c.set_priority(c.priority() + 1);
  if (queued) p_.queues.put(b, c);
  p_.conversations.save(b, c);
  p_.log->debug("{}/{} priority {} ({})", c.summary().workspace_id(), c.summary().conversation_id(),
                c.priority(), why);
}

void Sla::arm_overflow(Store::Batch& b, Conversation& c, int64_t since) {
  c.set_overflow_since_ms(since);
  const config::Queue* q = p_.queues.cfg(c.summary().workspace_id(), c.summary().queue_id());
  if (!q) return;
  for (size_t i = 0; i < q->overflow.size(); ++i) {
    p_.timers.add_durable(b, since + q->overflow[i].after_ms,
                          {TimerKind::kOverflow,
                           c.summary().workspace_id(),
                           c.summary().conversation_id(),
                           std::to_string(i + 1),
                           {}});
  }
}

void Sla::cancel_overflow(Store::Batch& b, const Conversation& c) {
  const config::Queue* q = p_.queues.cfg(c.summary().workspace_id(), c.summary().queue_id());
  if (!q) return;
  const int64_t since =
      c.overflow_since_ms() > 0 ? c.overflow_since_ms() : c.summary().created_at_ms();
  for (size_t i = c.overflow_stage(); i < q->overflow.size(); ++i)
    p_.timers.cancel(b, since + q->overflow[i].after_ms, TimerKind::kOverflow,
                     c.summary().workspace_id(), c.summary().conversation_id(),
                     std::to_string(i + 1));
}

void Sla::arm_sticky(Store::Batch& b, Conversation& c, const std::string& agent,
                     const config::Queue* q, int64_t now) {
  const int64_t wait = q ? q->sticky_wait_ms : 0;
  c.set_sticky_agent_id(agent);
  c.set_sticky_until_ms(now + wait);
  if (wait > 0) {
    p_.timers.add_durable(b, c.sticky_until_ms(),
                          {TimerKind::kSticky,
                           c.summary().workspace_id(),
                           c.summary().conversation_id(),
                           std::to_string(c.sticky_until_ms()),
                           {}});
  }
}

void Sla::fire_sla(Store::Batch& b, const Timer& t) {
  const int64_t now = p_.clock.now_ms();
  // ref = <target>/<warn|breach>/<due>: stale when the target was met or moved.
  const auto p1 = t.ref.find('/'), p2 = t.ref.rfind('/');
  if (p1 == std::string::npos || p2 == p1) return;
  const std::string target = t.ref.substr(0, p1);
  const bool breach = t.ref.compare(p1 + 1, p2 - p1 - 1, "breach") == 0;
  const int64_t due = std::stoll(t.ref.substr(p2 + 1));
  Conversation c;
  if (!p_.conversations.load(b, t.workspace, t.id, c) ||
      c.state() == v1::store::CONVERSATION_STATE_RESOLVED || due_of(c, target) != due)
    return;
  const std::string mark = fmt::format("{}@{}", target, due);
  if (breach) {
    ++p_.counters.sla_breaches;
    c.add_sla_breached(mark);
    p_.conversations.save(b, c);
    p_.outbox.routing_event(b, c, v1::RoutingEvent::KIND_SLA_BREACH, c.agent_id(),
                            fmt::format("{} target of policy '{}' passed {} ms ago", target,
                                        c.sla_policy(), now - due));
  } else {
    ++p_.counters.sla_warnings;
    c.add_sla_warned(mark);
    p_.conversations.save(b, c);
    p_.outbox.routing_event(
        b, c, v1::RoutingEvent::KIND_SLA_WARNING, c.agent_id(),
        fmt::format("{} due in {} ms (policy '{}'); priority raised to {}", target, due - now,
                    c.sla_policy(), std::min(9, c.priority() + 1)));
  }
  raise_priority(b, c, "SLA " + std::string(breach ? "breach" : "warning"));
  if (c.state() == v1::store::CONVERSATION_STATE_QUEUED) p_.dispatch.run_for(b, c);
}

void Sla::fire_overflow(Store::Batch& b, const Timer& t) {
  Conversation c;
  if (!p_.conversations.load(b, t.workspace, t.id, c) ||
      c.state() == v1::store::CONVERSATION_STATE_RESOLVED)
    return;
  const config::Queue* q = p_.cfg->workspace(t.workspace)->queue(c.summary().queue_id());
  const uint32_t stage = static_cast<uint32_t>(std::stoul(t.ref));
  if (!q || stage > q->overflow.size() || stage <= c.overflow_stage()) return;
  const bool queued = c.state() == v1::store::CONVERSATION_STATE_QUEUED;
  if (queued) p_.queues.remove(b, c);
  const auto& step = q->overflow[stage - 1];
  for (const auto& target : step.queues) {
    if (target != c.summary().queue_id() &&
        std::find(c.extra_queues().begin(), c.extra_queues().end(), target) ==
            c.extra_queues().end())
      c.add_extra_queues(target);
  }
  c.set_overflow_stage(stage);
  if (queued) p_.queues.put(b, c);
  p_.conversations.save(b, c);
  ++p_.counters.overflows;
  p_.outbox.routing_event(
      b, c, v1::RoutingEvent::KIND_OVERFLOW, {},
      fmt::format(
          "step {} after {} s: {}{}", stage, step.after_ms / 1000,
          step.queues.empty() ? std::string("no more queues")
                              : "also queues " + fmt::format("{}", fmt::join(step.queues, ",")),
          step.relax_skills > 0 ? fmt::format(", skill levels relaxed by {}", step.relax_skills)
                                : std::string()));
  if (queued) p_.dispatch.run_for(b, c);
}

void Sla::fire_sticky(Store::Batch& b, const Timer& t) {
  Conversation c;
  if (!p_.conversations.load(b, t.workspace, t.id, c) ||
      c.state() != v1::store::CONVERSATION_STATE_QUEUED ||
      std::to_string(c.sticky_until_ms()) != t.ref)
    return;
  p_.outbox.routing_event(b, c, v1::RoutingEvent::KIND_QUEUED, {},
                          "stopped waiting for " + c.sticky_agent_id() + " (sticky wait over)");
  p_.dispatch.run_for(b, c);
}

}  // namespace omniroute::router
