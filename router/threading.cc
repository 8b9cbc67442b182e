#include "router/threading.h"

#include <fmt/format.h>

#include "router/keys.h"
#include "router/parts.h"

namespace omniroute::router {

using v1::store::Conversation;

namespace {
// Content-hash ids stand in for a missing Message-ID: nothing replies to them.
bool real_message_id(const std::string& id) {
  return !id.empty() && id.rfind("sha256:", 0) != 0;
}
}  // namespace

ThreadMatch Threading::find(Store::Batch& b, const v1::InboundMessage& m,
                            const config::Inbox& inbox, const std::string& customer_id,
                            const std::string& customer_root, int64_t now) {
  const std::string& ws = m.workspace_id();
  ThreadMatch t;
  t.thread_key = keys::thread(
      ws, m.inbox_id(),
      m.thread().thread_id().empty() ? "c:" + customer_id : "t:" + m.thread().thread_id());
  Conversation& c = t.conversation;
  if (inbox.channel == v1::CHANNEL_EMAIL) {
    const std::string found = email_thread(b, ws, m, customer_root, &t.note);
    if (!found.empty() && p_.conversations.load(b, ws, found, c)) {
      if (c.state() != v1::store::CONVERSATION_STATE_RESOLVED) {
        t.is_new = false;
      } else if (now - c.resolved_at_ms() <= p_.cfg->workspace(ws)->reopen_window_ms) {
        t.is_new = false;
        t.reopen = true;
      } else {
        t.previous = found;
      }
    }
    return t;
  }
  std::string v;
  if (b.get(Cf::kThreads, t.thread_key, &v) && p_.conversations.load(b, ws, v, c) &&
      c.state() != v1::store::CONVERSATION_STATE_RESOLVED)
    t.is_new = false;
  return t;
}

void Threading::remember(Store::Batch& b, const Conversation& c, const v1::InboundMessage& m,
                         bool is_new) {
  const auto& s = c.summary();
  if (s.channel() != v1::CHANNEL_EMAIL) {
    if (is_new) b.put(Cf::kThreads, c.thread_key(), s.conversation_id());
    return;
  }
  if (real_message_id(m.external_message_id()))
    b.put(Cf::kThreads, keys::email_message(s.workspace_id(), m.external_message_id()),
          s.conversation_id());
}

void Threading::close(Store::Batch& b, const Conversation& c) {
  std::string v;
  if (b.get(Cf::kThreads, c.thread_key(), &v) && v == c.summary().conversation_id())
    b.del(Cf::kThreads, c.thread_key());
}

std::string Threading::email_thread(Store::Batch& b, const std::string& ws,
                                    const v1::InboundMessage& m, const std::string& customer_root,
                                    std::string* note) {
  // What it replies to, newest first, then the ticket tag of the subject.
  std::vector<std::string> ids;
  if (!m.thread().in_reply_to().empty()) ids.push_back(m.thread().in_reply_to());
  const auto& refs = m.thread().references();
  for (int i = refs.size() - 1; i >= 0 && ids.size() < 51; --i) ids.push_back(refs[i]);
  std::string v;
  auto same_customer = [&](const std::string& conv) {
    Conversation c;
    v1::store::Customer root;
    return p_.conversations.load(b, ws, conv, c) &&
           p_.customers.root(b, ws, c.summary().customer_id(), root) &&
           root.customer_id() == customer_root;
  };
  for (const auto& id : ids) {
    std::string conv;
    if (id.rfind("outbound:", 0) == 0) {
      v1::store::DedupEntry d;
      if (b.get(Cf::kOutboundIndex, keys::scoped(ws, id.substr(9)), &v) && d.ParseFromString(v))
        conv = d.conversation_id();
    } else if (b.get(Cf::kThreads, keys::email_message(ws, id), &v)) {
      conv = v;
    }
    if (conv.empty()) continue;
    if (same_customer(conv)) return conv;
    // Someone else answered (e.g. a colleague in Cc): their own conversation.
    if (note->empty())
      *note = fmt::format("a reply to {} from another customer: a conversation of its own", conv);
  }
  if (!m.thread().ticket_tag().empty()) {
    const std::string conv = "C" + m.thread().ticket_tag();
    if (same_customer(conv)) return conv;
  }
  return {};
}

void Threading::reopen(Store::Batch& b, Conversation& c) {
  const int64_t now = p_.clock.now_ms();
  const std::string ws = c.summary().workspace_id();
  const std::string last_agent = c.agent_id();
  p_.outbox.routing_event(b, c, v1::RoutingEvent::KIND_REOPENED, last_agent,
                          fmt::format("customer replied {} s after it was resolved",
                                      (now - c.resolved_at_ms()) / 1000));
  c.set_reopen_count(c.reopen_count() + 1);
  c.set_resolved_at_ms(0);
  c.clear_rejected_by();
  c.clear_extra_queues();
  c.set_overflow_stage(0);
  p_.sla.arm_overflow(b, c, now);
  // With the same agent if available: they rank first, and the queue's sticky wait applies.
  if (!last_agent.empty() && p_.agents.find(ws, last_agent))
    p_.sla.arm_sticky(b, c, last_agent, p_.queues.cfg(ws, c.summary().queue_id()), now);
  // The customer waits for an answer again.
  p_.sla.start_next_response(b, c, now, true);
  c.set_queue_due_ms(c.next_response_due_ms() > 0 ? c.next_response_due_ms()
                                                  : INT64_C(9999999999999));
  p_.dispatch.enqueue(b, c, "reopened by the customer's reply");
  p_.dispatch.run(b, ws, c.summary().queue_id());
}

void Threading::email_headers(Store::Batch& b, const Conversation& c, v1::OutboundMessage& out) {
  const auto& s = c.summary();
  // The ticket tag, so a reply whose headers were lost still finds the conversation.
  const std::string tag = fmt::format("[#{}]", s.conversation_id().substr(1));
  if (out.subject().find(tag) == std::string::npos)
    out.set_subject(out.subject().empty() ? tag : out.subject() + " " + tag);
  // In-Reply-To: the customer's latest message; References: the conversation's messages,
  // ours as "outbound:<id>" (the connector writes them as the Message-IDs it generated).
  const uint64_t n = c.message_count();
  const uint64_t first = n > 20 ? n - 19 : 1;
  for (uint64_t seq = first; seq <= n; ++seq) {
    std::string v;
    v1::ConversationMessage m;
    if (!b.get(Cf::kMessages, keys::message(s.workspace_id(), s.conversation_id(), seq), &v) ||
        !m.ParseFromString(v))
      continue;
    std::string id;
    if (m.author() == v1::AUTHOR_CUSTOMER && real_message_id(m.external_message_id())) {
      id = m.external_message_id();
      out.mutable_thread()->set_in_reply_to(id);
      out.set_in_reply_to_external_id(id);
    } else if (!m.outbound_id().empty() && m.outbound_id() != out.outbound_id()) {
      id = "outbound:" + m.outbound_id();
    }
    if (!id.empty()) out.mutable_thread()->add_references(id);
  }
}

}  // namespace omniroute::router
