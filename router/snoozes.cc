#include "router/snoozes.h"

#include <fmt/format.h>

#include "router/parts.h"

namespace omniroute::router {

using v1::store::Conversation;

namespace {
constexpr int64_t kMaxSnoozeMs = 90LL * 24 * 3600 * 1000;
}

void Snoozes::updated(const Conversation& c, const std::string& reason) {
  if (c.state() != v1::store::CONVERSATION_STATE_ASSIGNED) return;
  AgentRt* a = p_.agents.find(c.summary().workspace_id(), c.agent_id());
  if (!a) return;
  v1::AgentFrame f;
  *f.mutable_conversation_updated()->mutable_conversation() = p_.conversations.summary(c);
  f.mutable_conversation_updated()->set_reason(reason);
  p_.desks.send(*a, std::move(f));
}

void Snoozes::clear(Store::Batch& b, Conversation& c) {
  auto* s = c.mutable_summary();
  if (s->snoozed_until_ms() > 0)
    p_.timers.cancel(b, s->snoozed_until_ms(), TimerKind::kSnooze, s->workspace_id(),
                     s->conversation_id(), std::to_string(s->snoozed_until_ms()));
  s->set_snoozed_until_ms(0);
  s->set_snoozed_until_customer(false);
}

Status Snoozes::snooze(Store::Batch& b, AgentRt& a, Conversation& c, int64_t until_ms,
                       bool until_customer) {
  const int64_t now = p_.clock.now_ms();
  if (until_ms != 0 && (until_ms <= now || until_ms > now + kMaxSnoozeMs))
    return {Errc::kInvalid, "until_ms must be in the future, at most 90 days ahead"};
  const bool was = c.summary().snoozed_until_ms() > 0 || c.summary().snoozed_until_customer();
  clear(b, c);
  auto* s = c.mutable_summary();
  std::string what;
  if (until_ms > 0) {
    s->set_snoozed_until_ms(until_ms);
    p_.timers.add_durable(b, until_ms,
                          {TimerKind::kSnooze,
                           s->workspace_id(),
                           s->conversation_id(),
                           std::to_string(until_ms),
                           {}});
    what = fmt::format("snoozed for {} s", (until_ms - now) / 1000);
  } else if (until_customer) {
    s->set_snoozed_until_customer(true);
    what = "snoozed until the customer writes";
  } else {
    what = was ? "woken by the agent" : "not snoozed";
  }
  if (until_customer && until_ms > 0) s->set_snoozed_until_customer(true);
  p_.conversations.save(b, c);
  p_.log->info("{}/{} {} by {}", s->workspace_id(), s->conversation_id(), what, a.cfg->id);
  updated(c, until_ms > 0 || until_customer ? "snoozed" : "woken");
  return {};
}

void Snoozes::customer_wrote(Store::Batch& b, Conversation& c) {
  if (c.summary().snoozed_until_ms() == 0 && !c.summary().snoozed_until_customer()) return;
  clear(b, c);
  updated(c, "woken: customer wrote");
}

void Snoozes::fire(Store::Batch& b, const Timer& t) {
  Conversation c;
  if (!p_.conversations.load(b, t.workspace, t.id, c)) return;
  if (std::to_string(c.summary().snoozed_until_ms()) != t.ref) return;  // changed meanwhile
  c.mutable_summary()->set_snoozed_until_ms(0);
  c.mutable_summary()->set_snoozed_until_customer(false);
  p_.conversations.save(b, c);
  p_.log->info("{}/{} snooze over", t.workspace, t.id);
  updated(c, "woken: time");
}

}  // namespace omniroute::router
