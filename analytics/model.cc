#include "analytics/model.h"

#include <algorithm>

namespace omniroute::analytics {

using v1::RoutingEvent;
using v1::analytics::AgentFacts;
using v1::analytics::AgentSpan;
using v1::analytics::ConversationFacts;

namespace {

constexpr int64_t kMinuteMs = 60 * 1000, kHourMs = 60 * kMinuteMs, kDayMs = 24 * kHourMs;

bool online(const std::string& presence) {
  return presence == "available" || presence == "away";
}

std::string open_key(std::string_view ws, std::string_view id) {
  return "l/" + std::string(ws) + "/" + std::string(id);
}

void erase_one(google::protobuf::RepeatedPtrField<std::string>* list, const std::string& v) {
  for (int i = 0; i < list->size(); ++i) {
    if (list->Get(i) == v) {
      list->DeleteSubrange(i, 1);
      return;
    }
  }
}

bool contains(const google::protobuf::RepeatedPtrField<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

}  // namespace

void Model::apply(Db::Batch& b, const RoutingEvent& e) {
  if (e.workspace_id().empty()) return;
  Live& l = live_[e.workspace_id()];
  l.last_event_ms = std::max(l.last_event_ms, e.at_ms());
  if (e.kind() == RoutingEvent::KIND_PRESENCE) return presence_event(b, e);
  if (e.conversation_id().empty()) return;
  conversation_event(b, e);
}

int64_t Model::business_ms(const std::string& ws, int64_t from, int64_t to) const {
  const config::Workspace* w = cfg_->workspace(ws);
  if (!w || !w->hours) return std::max<int64_t>(0, to - from);
  return w->hours->open_ms_between(from, to);
}

void Model::conversation_event(Db::Batch& b, const RoutingEvent& e) {
  const std::string& ws = e.workspace_id();
  const std::string key = keys::conversation(ws, e.conversation_id());
  ConversationFacts c;
  std::string v;
  const bool known = b.get(key, &v) && c.ParseFromString(v);
  const int64_t at = e.at_ms();
  if (!known) {
    c.set_workspace_id(ws);
    c.set_conversation_id(e.conversation_id());
    c.set_opened_at_ms(at);
    c.set_state(ConversationFacts::STATE_QUEUED);
    b.put(keys::opened(ws, at, c.conversation_id()), "");
  }
  if (e.channel() != v1::CHANNEL_UNSPECIFIED) c.set_channel(e.channel());
  if (!e.inbox_id().empty()) c.set_inbox_id(e.inbox_id());
  if (!e.queue_id().empty()) c.set_queue_id(e.queue_id());
  if (!e.language().empty()) c.set_language(e.language());

  switch (e.kind()) {
    case RoutingEvent::KIND_OPENED:
      if (c.opened_at_ms() != at) {  // the first message came a moment before
        b.del(keys::opened(ws, c.opened_at_ms(), c.conversation_id()));
        c.set_opened_at_ms(at);
        b.put(keys::opened(ws, at, c.conversation_id()), "");
      }
      break;
    case RoutingEvent::KIND_CUSTOMER_MESSAGE:
      if (c.replied_since_customer() && c.awaiting_reply_since_ms() == 0)
        c.set_awaiting_reply_since_ms(at);
      c.set_replied_since_customer(false);
      break;
    case RoutingEvent::KIND_QUEUED:
    case RoutingEvent::KIND_REQUEUED:
      release(b, c, at);
      c.set_state(ConversationFacts::STATE_QUEUED);
      if (c.queued_since_ms() == 0) c.set_queued_since_ms(at);
      break;
    case RoutingEvent::KIND_OFFERED:
      c.set_offers(c.offers() + 1);
      break;
    case RoutingEvent::KIND_ACCEPTED:
    case RoutingEvent::KIND_FORCE_ASSIGNED:
      if (c.agent_id() != e.agent_id()) release(b, c, at);
      if (c.agent_id().empty()) hold(b, c, e.agent_id(), e.agent_bot(), at);
      c.set_state(ConversationFacts::STATE_ASSIGNED);
      c.set_queued_since_ms(0);
      if (e.agent_bot()) {
        c.set_handled_by_bot(true);
      } else {
        c.set_handled_by_person(true);
        if (c.first_accepted_at_ms() == 0) {
          c.set_first_accepted_at_ms(at);
          c.set_wait_to_accept_ms(at - c.opened_at_ms());
          c.set_first_agent_id(e.agent_id());
        }
      }
      break;
    case RoutingEvent::KIND_REJECTED:
      c.set_rejections(c.rejections() + 1);
      break;
    case RoutingEvent::KIND_OFFER_EXPIRED:
      c.set_expiries(c.expiries() + 1);
      break;
    case RoutingEvent::KIND_TRANSFERRED:
      c.set_transfers(c.transfers() + 1);
      release(b, c, at);
      break;
    case RoutingEvent::KIND_REPLIED:
      c.set_replied_since_customer(true);
      if (e.agent_bot()) {
        if (c.bot_first_response_at_ms() == 0) c.set_bot_first_response_at_ms(at);
      } else if (c.first_response_at_ms() == 0) {
        c.set_first_response_at_ms(at);
        c.set_first_response_business_ms(business_ms(ws, c.opened_at_ms(), at));
      } else if (c.awaiting_reply_since_ms() > 0) {
        c.add_next_response_ms(at - c.awaiting_reply_since_ms());
        c.add_next_response_business_ms(business_ms(ws, c.awaiting_reply_since_ms(), at));
      }
      c.set_awaiting_reply_since_ms(0);
      c.set_sla_warned(false);
      break;
    case RoutingEvent::KIND_RESOLVED:
      release(b, c, at);
      c.set_state(ConversationFacts::STATE_RESOLVED);
      c.set_resolved_at_ms(at);
      c.set_resolved_by_bot(e.agent_bot());
      c.set_resolution_business_ms(business_ms(ws, c.opened_at_ms(), at));
      c.set_queued_since_ms(0);
      c.set_awaiting_reply_since_ms(0);
      c.set_sla_warned(false);
      break;
    case RoutingEvent::KIND_REOPENED:
      c.set_reopens(c.reopens() + 1);
      c.set_resolved_at_ms(0);
      c.set_resolved_by_bot(false);
      c.set_resolution_business_ms(0);
      break;
    case RoutingEvent::KIND_SLA_WARNING:
      c.set_sla_warned(true);
      break;
    case RoutingEvent::KIND_SURVEY_SENT:
      c.set_csat_scale(e.csat_scale());
      c.set_survey_sent_at_ms(at);
      c.set_csat_agent_id(e.agent_id());
      break;
    case RoutingEvent::KIND_CSAT: {
      // The latest answer counts: its row replaces the one before.
      if (c.csat_at_ms() != 0) b.del(keys::rating(ws, c.csat_at_ms(), c.conversation_id()));
      c.set_csat_rating(static_cast<int32_t>(e.csat_rating()));
      c.set_csat_scale(e.csat_scale());
      c.set_csat_at_ms(at);
      v1::analytics::CsatRow row;
      row.set_rating(e.csat_rating());
      row.set_scale(e.csat_scale());
      row.set_agent_id(e.agent_id());
      row.set_agent_bot(e.agent_bot());
      row.set_queue_id(c.queue_id());
      row.set_channel(c.channel());
      row.set_inbox_id(c.inbox_id());
      row.set_language(c.language());
      b.put(keys::rating(ws, at, c.conversation_id()), row.SerializeAsString());
      break;
    }
    case RoutingEvent::KIND_SLA_BREACH:
      c.set_sla_breaches(c.sla_breaches() + 1);
      break;
    default:
      break;
  }
  count(b, e, c);
  // The decision trail a supervisor drills into (per-message events left out).
  if (e.kind() != RoutingEvent::KIND_CUSTOMER_MESSAGE && e.kind() != RoutingEvent::KIND_REPLIED &&
      e.kind() != RoutingEvent::KIND_DELIVERY && c.trail_count() < kMaxTrail) {
    b.put(keys::trail(ws, c.conversation_id(), c.trail_count()), e.SerializeAsString());
    c.set_trail_count(c.trail_count() + 1);
  }
  if (c.state() == ConversationFacts::STATE_RESOLVED)
    b.del(open_key(ws, c.conversation_id()));
  else
    b.put(open_key(ws, c.conversation_id()), "");
  b.put(key, c.SerializeAsString());
  update_live(c, e);
}

void Model::count(Db::Batch& b, const RoutingEvent& e, const ConversationFacts& c) {
  int kind = e.kind();
  switch (e.kind()) {
    case RoutingEvent::KIND_OPENED:
    case RoutingEvent::KIND_OFFERED:
    case RoutingEvent::KIND_ACCEPTED:
    case RoutingEvent::KIND_FORCE_ASSIGNED:
    case RoutingEvent::KIND_REJECTED:
    case RoutingEvent::KIND_OFFER_EXPIRED:
    case RoutingEvent::KIND_TRANSFERRED:
    case RoutingEvent::KIND_REOPENED:
    case RoutingEvent::KIND_SLA_BREACH:
    case RoutingEvent::KIND_REPLIED:
    case RoutingEvent::KIND_CUSTOMER_MESSAGE:
    case RoutingEvent::KIND_SURVEY_SENT:
      break;
    case RoutingEvent::KIND_RESOLVED:
      // Resolved without anyone (person or bot) ever holding it: the customer gave up.
      if (!c.handled_by_person() && !c.handled_by_bot()) kind = kAbandoned;
      break;
    default:
      return;
  }
  // By the minute: a report over any range (a shift from 06:30) counts exactly to it.
  const int64_t minute = e.at_ms() / kMinuteMs * kMinuteMs;
  const std::string k = keys::count(c.workspace_id(), minute, kind, c.queue_id(), c.channel(),
                                    c.inbox_id(), e.agent_id(), c.language(), e.agent_bot());
  std::string v;
  const uint64_t n = b.get(k, &v) ? std::stoull(v) : 0;
  b.put(k, std::to_string(n + 1));
}

AgentFacts Model::agent(Db::Batch& b, const std::string& ws, const std::string& id, bool bot) {
  AgentFacts a;
  std::string v;
  if (!b.get(keys::agent(ws, id), &v) || !a.ParseFromString(v)) {
    a.set_workspace_id(ws);
    a.set_agent_id(id);
  }
  a.set_bot(bot);
  return a;
}

void Model::save_agent(Db::Batch& b, const AgentFacts& a) {
  b.put(keys::agent(a.workspace_id(), a.agent_id()), a.SerializeAsString());
  Live::Agent& l = live_[a.workspace_id()].agents[a.agent_id()];
  l.presence = a.presence().empty() ? "offline" : a.presence();
  l.since_ms = a.presence_since_ms();
  l.holding = a.holding_size();
  l.bot = a.bot();
}

void Model::hold(Db::Batch& b, ConversationFacts& c, const std::string& agent_id, bool bot,
                 int64_t at) {
  AgentFacts a = agent(b, c.workspace_id(), agent_id, bot);
  if (!contains(a.holding(), c.conversation_id())) a.add_holding(c.conversation_id());
  if (a.busy_since_ms() == 0) a.set_busy_since_ms(at);
  save_agent(b, a);
  c.set_agent_id(agent_id);
  c.set_agent_bot(bot);
  c.set_held_since_ms(at);
}

void Model::release(Db::Batch& b, ConversationFacts& c, int64_t at) {
  if (c.agent_id().empty()) return;
  AgentFacts a = agent(b, c.workspace_id(), c.agent_id(), c.agent_bot());
  erase_one(a.mutable_holding(), c.conversation_id());
  AgentSpan handled;
  handled.set_kind(AgentSpan::KIND_HANDLED);
  handled.set_start_ms(c.held_since_ms());
  handled.set_end_ms(std::max(at, c.held_since_ms()));
  handled.set_conversation_id(c.conversation_id());
  handled.set_queue_id(c.queue_id());
  handled.set_channel(c.channel());
  span(b, c.workspace_id(), c.agent_id(), handled);
  if (a.holding().empty() && a.busy_since_ms() > 0) {
    AgentSpan busy;
    busy.set_kind(AgentSpan::KIND_BUSY);
    busy.set_start_ms(a.busy_since_ms());
    busy.set_end_ms(std::max(at, a.busy_since_ms()));
    span(b, c.workspace_id(), c.agent_id(), busy);
    a.set_busy_since_ms(0);
  }
  save_agent(b, a);
  c.clear_agent_id();
  c.set_agent_bot(false);
  c.set_held_since_ms(0);
}

// Online and busy spans are cut at UTC midnights (a report finds every span overlapping its
// range by end time); a handled span stays whole: it is one conversation handled.
void Model::span(Db::Batch& b, const std::string& ws, const std::string& agent_id, AgentSpan s) {
  const int64_t start = s.start_ms(), end = s.end_ms();
  if (s.kind() == AgentSpan::KIND_HANDLED || end <= start) {
    b.put(keys::span(ws, end, agent_id, s.kind(), start, s.conversation_id()),
          s.SerializeAsString());
    return;
  }
  for (int64_t from = start; from < end;) {
    const int64_t to = std::min(end, (from / kDayMs + 1) * kDayMs);
    s.set_start_ms(from);
    s.set_end_ms(to);
    b.put(keys::span(ws, to, agent_id, s.kind(), from, {}), s.SerializeAsString());
    from = to;
  }
}

void Model::presence_event(Db::Batch& b, const RoutingEvent& e) {
  AgentFacts a = agent(b, e.workspace_id(), e.agent_id(), e.agent_bot());
  const std::string before = a.presence();
  const std::string& now = e.presence();
  if (online(before) && !online(now) && a.presence_since_ms() > 0) {
    AgentSpan s;
    s.set_kind(AgentSpan::KIND_ONLINE);
    s.set_start_ms(a.presence_since_ms());
    s.set_end_ms(std::max(e.at_ms(), a.presence_since_ms()));
    span(b, e.workspace_id(), e.agent_id(), s);
  }
  if (online(before) != online(now) || a.presence_since_ms() == 0)
    a.set_presence_since_ms(e.at_ms());
  a.set_presence(now);
  save_agent(b, a);
}

void Model::update_live(const ConversationFacts& c, const RoutingEvent& e) {
  Live& l = live_[c.workspace_id()];
  if (c.state() == ConversationFacts::STATE_RESOLVED) {
    l.conversations.erase(c.conversation_id());
    return;
  }
  Live::Conversation& x = l.conversations[c.conversation_id()];
  x.queue = c.queue_id();
  x.inbox = c.inbox_id();
  x.channel = c.channel();
  x.agent = c.agent_id();
  x.state = c.state();
  x.queued_since_ms = c.queued_since_ms();
  if (e.kind() == RoutingEvent::KIND_OFFERED)
    x.offered = true;
  else if (e.kind() != RoutingEvent::KIND_CUSTOMER_MESSAGE &&
           e.kind() != RoutingEvent::KIND_SLA_WARNING && e.kind() != RoutingEvent::KIND_SLA_BREACH)
    x.offered = false;
  const bool awaiting_answer = c.first_response_at_ms() == 0 || c.awaiting_reply_since_ms() > 0;
  x.sla_risk = c.sla_warned() && awaiting_answer;
  x.sla_breached = c.sla_breaches() > 0 && awaiting_answer;
}

void Model::load(const Db& db) {
  live_.clear();
  db.scan("a/", [&](std::string_view, std::string_view v) {
    AgentFacts a;
    if (!a.ParseFromArray(v.data(), static_cast<int>(v.size()))) return true;
    Live::Agent& l = live_[a.workspace_id()].agents[a.agent_id()];
    l.presence = a.presence().empty() ? "offline" : a.presence();
    l.since_ms = a.presence_since_ms();
    l.holding = a.holding_size();
    l.bot = a.bot();
    return true;
  });
  db.scan("l/", [&](std::string_view k, std::string_view) {
    const std::string_view rest = k.substr(2);
    const auto slash = rest.find('/');
    std::string v;
    if (slash == std::string_view::npos ||
        !db.get(keys::conversation(rest.substr(0, slash), rest.substr(slash + 1)), &v))
      return true;
    ConversationFacts c;
    if (!c.ParseFromString(v)) return true;
    RoutingEvent none;
    update_live(c, none);
    return true;
  });
}

}  // namespace omniroute::analytics
