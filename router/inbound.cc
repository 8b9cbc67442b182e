#include "router/inbound.h"

#include <fmt/format.h>

#include "router/classifier.h"
#include "router/keys.h"
#include "router/parts.h"

namespace omniroute::router {

using v1::store::Conversation;

void Inbound::apply_record(Store::Batch& b, const std::string& topic, int32_t partition,
                           int64_t offset, std::string_view key, std::string_view value) {
  b.put(Cf::kMeta, keys::offset(topic, partition), std::to_string(offset + 1));
  auto dead = [&](const std::string& why) {
    p_.outbox.dead_letter(b, topic, partition, offset, key, value, why);
  };
  if (static_cast<int64_t>(value.size()) > p_.cfg->router.max_record_bytes)
    return dead(fmt::format("record of {} bytes exceeds router.max_record_bytes", value.size()));
  v1::Envelope env;
  if (!env.ParseFromArray(value.data(), static_cast<int>(value.size())))
    return dead("undecodable Envelope");
  switch (env.payload_case()) {
    case v1::Envelope::kMessage: {
      const auto& m = env.message();
      const config::Workspace* ws = p_.cfg->workspace(m.workspace_id());
      if (!ws) return dead("unknown workspace '" + m.workspace_id() + "'");
      if (!ws->inbox(m.inbox_id())) return dead("unknown inbox '" + m.inbox_id() + "'");
      if (m.external_message_id().empty() || m.customer_handle().empty())
        return dead("message without external_message_id or customer_handle");
      return message(b, m);
    }
    case v1::Envelope::kDeliveryStatus:
      return delivery_status(b, env.delivery_status());
    case v1::Envelope::kSignal:
      return signal(b, env.signal());  // typing reaches the agent; never stored
    case v1::Envelope::kCsat:
      return p_.csat.answer(b, env.csat());
    default:
      return dead("Envelope without payload");
  }
}

void Inbound::message(Store::Batch& b, const v1::InboundMessage& m) {
  const std::string& ws = m.workspace_id();
  const config::Inbox& inbox = *p_.cfg->workspace(ws)->inbox(m.inbox_id());
  // Dedup: a connector re-publishing after a crash sends the same external id again.
  const std::string dedup_key = keys::inbound_dedup(ws, m.inbox_id(), m.external_message_id());
  std::string v;
  if (b.get(Cf::kDedup, dedup_key, &v)) {
    ++p_.counters.duplicates;
    p_.log->debug("{}: duplicate external id in inbox {} dropped", ws, m.inbox_id());
    return;
  }
  ++p_.counters.messages;
  const int64_t now = p_.clock.now_ms();
  if (bounce(b, m, inbox, dedup_key)) return;
  Who who = p_.identity.resolve(b, m, inbox, now);
  ThreadMatch t = p_.threading.find(b, m, inbox, who.customer.direct.customer_id(),
                                    who.customer.root.customer_id(), now);
  Conversation& c = t.conversation;
  if (t.is_new) {
    create(b, t, m, inbox, who, now);
  } else if (!t.reopen && c.first_response_at_ms() > 0 && c.next_response_due_ms() == 0 &&
             c.state() != v1::store::CONVERSATION_STATE_RESOLVED) {
    // The customer wrote again after an answer: the next-response clock starts.
    p_.sla.start_next_response(b, c, now, false);
  }
  const v1::ConversationMessage cm = record(b, c, m, who, dedup_key, t.is_new, now);
  if (m.auto_generated() == v1::AUTO_GENERATED_NONE) c.set_person_wrote(true);
  if (t.is_new || t.reopen) c.set_arrived_at_ms(m.received_at_ms() > 0 ? m.received_at_ms() : now);
  for (const auto& what : who.link_notes)
    p_.outbox.routing_event(b, c, v1::RoutingEvent::KIND_LINKED, {}, what, {},
                            who.customer.direct.customer_id());
  if (!t.note.empty()) p_.outbox.routing_event(b, c, v1::RoutingEvent::KIND_MESSAGE, {}, t.note);
  p_.outbox.routing_event(b, c, v1::RoutingEvent::KIND_CUSTOMER_MESSAGE, {},
                          fmt::format("message {}", cm.seq()));
  if (t.is_new) {
    p_.customers.add_conversation(b, ws, who.customer.direct.customer_id(), now,
                                  c.summary().conversation_id());
    if (!t.previous.empty())
      p_.outbox.routing_event(
          b, c, v1::RoutingEvent::KIND_MESSAGE, {},
          fmt::format("follows {} (resolved before the reopen window)", t.previous));
    return open(b, c, m, who.customer.root);
  }
  if (t.reopen) return p_.threading.reopen(b, c);
  forward(b, c, cm);
}

bool Inbound::bounce(Store::Batch& b, const v1::InboundMessage& m, const config::Inbox& inbox,
                     const std::string& dedup_key) {
  if (m.auto_generated() != v1::AUTO_GENERATED_BOUNCE) return false;
  const auto& meta = m.provider_metadata();
  auto orig = meta.find("bounce_original_message_id");
  if (orig == meta.end() || orig->second.rfind("outbound:", 0) != 0) return false;
  auto get = [&](const char* k) {
    auto it = meta.find(k);
    return it == meta.end() ? std::string() : it->second;
  };
  v1::DeliveryStatus st;
  st.set_workspace_id(m.workspace_id());
  st.set_inbox_id(m.inbox_id());
  st.set_channel(inbox.channel);
  st.set_outbound_id(orig->second.substr(9));
  st.set_state(v1::DeliveryStatus::STATE_FAILED);
  st.set_detail(
      fmt::format("bounced{}{}", get("bounce_status").empty() ? "" : " " + get("bounce_status"),
                  get("bounce_diagnostic").empty() ? "" : ": " + get("bounce_diagnostic")));
  st.set_at_ms(p_.clock.now_ms());
  b.put(Cf::kDedup, dedup_key, v1::store::DedupEntry().SerializeAsString());
  delivery_status(b, st);
  return true;
}

void Inbound::create(Store::Batch& b, ThreadMatch& t, const v1::InboundMessage& m,
                     const config::Inbox& inbox, const Who& who, int64_t now) {
  ++p_.counters.conversations;
  Conversation& c = t.conversation;
  c.Clear();
  auto* s = c.mutable_summary();
  s->set_conversation_id(fmt::format("C{}", p_.outbox.next_seq(b, "conversation")));
  s->set_workspace_id(m.workspace_id());
  s->set_inbox_id(m.inbox_id());
  s->set_channel(inbox.channel);
  s->set_customer_id(who.customer.direct.customer_id());
  s->set_customer_handle(m.customer_handle());
  s->set_customer_display_name(who.customer.root.display_name());
  s->set_subject(m.subject());
  s->set_queue_id(inbox.queue);
  s->set_created_at_ms(now);
  if (inbox.channel != v1::CHANNEL_EMAIL) c.set_thread_key(t.thread_key);
  c.set_previous_conversation_id(t.previous);
}

v1::ConversationMessage Inbound::record(Store::Batch& b, Conversation& c,
                                        const v1::InboundMessage& m, const Who& who,
                                        const std::string& dedup_key, bool is_new, int64_t now) {
  v1::ConversationMessage cm;
  cm.set_author(v1::AUTHOR_CUSTOMER);
  cm.set_author_id(who.customer.direct.customer_id());
  cm.set_text_body(m.text_body());
  cm.set_html_body(m.html_body());
  cm.set_subject(m.subject());
  *cm.mutable_attachments() = m.attachments();
  cm.set_external_message_id(m.external_message_id());
  cm.set_event_id(m.event_id());
  cm.set_at_ms(now);
  const uint64_t seq = p_.conversations.append(b, c, cm);
  cm.set_seq(seq);
  v1::store::DedupEntry d;
  d.set_conversation_id(c.summary().conversation_id());
  d.set_seq(seq);
  b.put(Cf::kDedup, dedup_key, d.SerializeAsString());
  p_.threading.remember(b, c, m, is_new);
  return cm;
}

void Inbound::open(Store::Batch& b, Conversation& c, const v1::InboundMessage& m,
                   v1::store::Customer& customer) {
  const std::string& ws_id = m.workspace_id();
  const config::Workspace& ws = *p_.cfg->workspace(ws_id);
  const config::Inbox& inbox = *ws.inbox(m.inbox_id());
  const int64_t now = p_.clock.now_ms();
  std::map<std::string, std::string> attrs(customer.attributes().begin(),
                                           customer.attributes().end());
  const Classification cl = classify(ws, inbox, m, customer.language(), attrs);
  c.set_language(cl.language);
  c.set_language_source(cl.language_source);
  c.set_priority(cl.priority);
  c.set_rule(cl.rule);
  for (const auto& [skill, level] : cl.skills) (*c.mutable_skills())[skill] = level;
  c.mutable_summary()->set_queue_id(cl.queue);
  if (customer.language().empty() && cl.language_source == "detected") {
    customer.set_language(cl.language);
    p_.customers.save(b, customer);
  }
  p_.outbox.routing_event(b, c, v1::RoutingEvent::KIND_OPENED, {},
                          "new conversation from " + channel_name(inbox.channel));
  p_.outbox.routing_event(b, c, v1::RoutingEvent::KIND_CLASSIFIED, {}, cl.reason);
  if (const config::SlaPolicy* pol = ws.sla_for(inbox.channel, c.priority()))
    p_.sla.start(b, c, *pol, now);
  p_.auto_replies.on_open(b, c, m, customer, ws, inbox);

  // Sticky: the agent who served this customer recently gets it, waited for a while.
  const config::Queue* q = ws.queue(cl.queue);
  if (q && q->sticky_window_ms > 0 && !customer.last_agent_id().empty() &&
      now - customer.last_served_ms() <= q->sticky_window_ms &&
      p_.agents.find(ws_id, customer.last_agent_id()))
    p_.sla.arm_sticky(b, c, customer.last_agent_id(), q, now);
  // Overflow steps, counted from the moment it entered the queue.
  p_.sla.arm_overflow(b, c, now);
  c.set_queue_due_ms(c.first_response_due_ms() > 0 ? c.first_response_due_ms()
                                                   : INT64_C(9999999999999));
  p_.dispatch.enqueue(b, c,
                      cl.rule.empty() ? "inbox default queue " + cl.queue
                                      : "rule '" + cl.rule + "' -> queue " + cl.queue);
  // Bot-first: a connected bot desk with room gets it before any human. It answers, or
  // hands it back with Transfer{to_queue_id, note: the reason}; then humans get it (bots
  // never get human-queue work, and the bot is remembered as having had it).
  if (q && !q->bot.empty()) {
    AgentRt* bot = p_.agents.find(ws_id, q->bot);
    if (bot && bot->online() && bot->has_room(c.summary().channel())) {
      p_.queues.remove(b, c);
      v1::RoutingEvent::Candidate cand;
      cand.set_agent_id(bot->cfg->id);
      cand.set_eligible(true);
      cand.set_reason("the queue's bot");
      p_.offers.offer(b, c, *bot, "bot-first queue " + q->id, {cand});
      return;
    }
  }
  p_.dispatch.run_for(b, c);
}

void Inbound::forward(Store::Batch& b, Conversation& c, const v1::ConversationMessage& cm) {
  p_.snoozes.customer_wrote(b, c);
  p_.conversations.save(b, c);
  // A message in an existing conversation decides nothing: no routing event, a debug line.
  p_.log->debug("{}/{} message {} while {}", c.summary().workspace_id(),
                c.summary().conversation_id(), cm.seq(), state_name(c.state()));
  if (c.state() != v1::store::CONVERSATION_STATE_ASSIGNED) return;
  if (AgentRt* a = p_.agents.find(c.summary().workspace_id(), c.agent_id())) {
    v1::AgentFrame f;
    f.mutable_customer_message()->set_conversation_id(c.summary().conversation_id());
    *f.mutable_customer_message()->mutable_message() = cm;
    f.mutable_customer_message()->set_sla_due_at_ms(p_.conversations.summary(c).sla_due_at_ms());
    p_.desks.send(*a, std::move(f));
  }
}

void Inbound::delivery_status(Store::Batch& b, const v1::DeliveryStatus& s) {
  std::string v;
  v1::store::DedupEntry where;
  if (!(b.get(Cf::kOutboundIndex, keys::scoped(s.workspace_id(), s.outbound_id()), &v) &&
        where.ParseFromString(v))) {
    p_.log->warn("{}: delivery status for unknown outbound {}", s.workspace_id(), s.outbound_id());
    return;
  }
  const std::string mk = keys::message(s.workspace_id(), where.conversation_id(), where.seq());
  v1::ConversationMessage m;
  if (!(b.get(Cf::kMessages, mk, &v) && m.ParseFromString(v))) return;
  // States only move forward; a late DEFERRED never hides SENT, FAILED is final.
  auto rank = [](v1::DeliveryStatus::State st) {
    switch (st) {
      case v1::DeliveryStatus::STATE_DEFERRED:
        return 1;
      case v1::DeliveryStatus::STATE_SENT:
        return 2;
      case v1::DeliveryStatus::STATE_DELIVERED:
        return 3;
      case v1::DeliveryStatus::STATE_READ:
        return 4;
      case v1::DeliveryStatus::STATE_FAILED:
        return 5;
      default:
        return 0;
    }
  };
  const int rn = rank(s.state()), rc = rank(m.delivery());
  if (rn == 0 || rn < rc || (rn == rc && rn != 1)) return;
  m.set_delivery(s.state());
  m.set_delivery_detail(s.detail());
  b.put(Cf::kMessages, mk, m.SerializeAsString());
  ++p_.counters.delivery_updates;
  Conversation c;
  if (!p_.conversations.load(b, s.workspace_id(), where.conversation_id(), c)) return;
  p_.outbox.routing_event(b, c, v1::RoutingEvent::KIND_DELIVERY, m.author_id(),
                          fmt::format("outbound {} {}", s.outbound_id(),
                                      v1::DeliveryStatus::State_Name(s.state()).substr(6)));
  if (AgentRt* a = p_.agents.find(s.workspace_id(), m.author_id())) {
    v1::AgentFrame f;
    auto* u = f.mutable_delivery_update();
    u->set_conversation_id(where.conversation_id());
    u->set_outbound_id(s.outbound_id());
    u->set_state(s.state());
    u->set_detail(s.detail());
    p_.desks.send(*a, std::move(f));
  }
}

void Inbound::signal(Store::Batch& b, const v1::Signal& s) {
  if (s.kind() != v1::Signal::KIND_TYPING) return;
  const config::Workspace* w = p_.cfg->workspace(s.workspace_id());
  const config::Inbox* inbox = w ? w->inbox(s.inbox_id()) : nullptr;
  if (!inbox) return;
  std::string customer_id, conv_id;
  if (!b.get(
          Cf::kCustomers,
          keys::customer_handle(s.workspace_id(), fmt::format("{}:{}", channel_name(inbox->channel),
                                                              s.customer_handle())),
          &customer_id))
    return;
  if (!b.get(Cf::kThreads, keys::thread(s.workspace_id(), s.inbox_id(), "c:" + customer_id),
             &conv_id))
    return;
  Conversation c;
  if (!p_.conversations.load(b, s.workspace_id(), conv_id, c) ||
      c.state() != v1::store::CONVERSATION_STATE_ASSIGNED)
    return;
  if (AgentRt* a = p_.agents.find(s.workspace_id(), c.agent_id()); a && a->online()) {
    v1::AgentFrame f;
    f.mutable_typing()->set_conversation_id(conv_id);
    f.mutable_typing()->set_on(s.ref_id() != "off");
    p_.desks.send(*a, std::move(f));
  }
}

}  // namespace omniroute::router
