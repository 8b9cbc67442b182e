#include "router/conversations.h"

#include <fmt/format.h>

#include "router/keys.h"
#include "router/parts.h"

namespace omniroute::router {

using v1::store::Conversation;

const char* state_name(v1::store::ConversationState s) {
  switch (s) {
    case v1::store::CONVERSATION_STATE_QUEUED:
      return "queued";
    case v1::store::CONVERSATION_STATE_OFFERED:
      return "offered";
    case v1::store::CONVERSATION_STATE_ASSIGNED:
      return "assigned";
    case v1::store::CONVERSATION_STATE_RESOLVED:
      return "resolved";
    default:
      return "unknown";
  }
}

bool Conversations::load(Store::Batch& b, const std::string& ws, const std::string& id,
                         Conversation& c) {
  std::string v;
  return b.get(Cf::kConversations, keys::scoped(ws, id), &v) && c.ParseFromString(v);
}

void Conversations::save(Store::Batch& b, const Conversation& c) {
  b.put(Cf::kConversations, keys::scoped(c.summary().workspace_id(), c.summary().conversation_id()),
        c.SerializeAsString());
}

uint64_t Conversations::append(Store::Batch& b, Conversation& c, v1::ConversationMessage m) {
  uint64_t seq = c.message_count() + 1;
  c.set_message_count(seq);
  m.set_seq(seq);
  if (m.at_ms() == 0) m.set_at_ms(p_.clock.now_ms());
  b.put(Cf::kMessages,
        keys::message(c.summary().workspace_id(), c.summary().conversation_id(), seq),
        m.SerializeAsString());
  return seq;
}

void Conversations::note(Store::Batch& b, Conversation& c, const std::string& text) {
  v1::ConversationMessage cm;
  cm.set_author(v1::AUTHOR_SYSTEM);
  cm.set_text_body(text.substr(0, 2000));
  append(b, c, cm);
}

Status Conversations::load_assigned(Store::Batch& b, const AgentRt& a, const std::string& id,
                                    Conversation& c) {
  if (!load(b, a.workspace, id, c)) return {Errc::kNotFound, "unknown conversation"};
  if (c.state() != v1::store::CONVERSATION_STATE_ASSIGNED || c.agent_id() != a.cfg->id)
    return {Errc::kConflict, "conversation is not assigned to you"};
  return {};
}

std::vector<v1::ConversationMessage> Conversations::messages(Store::Batch& b, const std::string& ws,
                                                             const std::string& id, uint64_t first,
                                                             uint64_t last) {
  std::vector<std::string> keys;
  for (uint64_t s = first; s <= last; ++s) keys.push_back(keys::message(ws, id, s));
  std::vector<v1::ConversationMessage> out;
  out.reserve(keys.size());
  b.get_sorted(Cf::kMessages, keys, [&](size_t, std::string_view v) {
    v1::ConversationMessage m;
    if (m.ParseFromArray(v.data(), static_cast<int>(v.size()))) out.push_back(std::move(m));
  });
  return out;
}

std::vector<v1::ConversationMessage> Conversations::history(Store::Batch& b,
                                                            const Conversation& c) {
  const uint64_t n = c.message_count();
  const uint64_t max = static_cast<uint64_t>(p_.cfg->router.max_history);
  return messages(b, c.summary().workspace_id(), c.summary().conversation_id(),
                  n > max ? n - max + 1 : 1, n);
}

v1::ConversationSummary Conversations::summary(const Conversation& c) const {
  v1::ConversationSummary s = c.summary();
  s.set_language(c.language());
  int64_t due = c.first_response_at_ms() == 0 ? c.first_response_due_ms() : 0;
  if (c.next_response_due_ms() > 0 && (due == 0 || c.next_response_due_ms() < due))
    due = c.next_response_due_ms();
  s.set_sla_due_at_ms(due);
  return s;
}

v1::Assignment Conversations::assignment(Store::Batch& b, const Conversation& c,
                                         const std::string& offer_id) {
  v1::Assignment a;
  *a.mutable_conversation() = summary(c);
  for (auto& m : history(b, c)) *a.add_history() = std::move(m);
  a.set_offer_id(offer_id);
  // The customer's earlier conversations, on any channel of the linked group.
  const size_t max_conv = static_cast<size_t>(p_.cfg->router.customer_history_conversations);
  v1::store::Customer root;
  const std::string& ws = c.summary().workspace_id();
  auto& customers = p_.customers;
  const bool known = customers.root(b, ws, c.summary().customer_id(), root);
  if (known) {
    auto* who = a.mutable_customer();
    who->set_customer_id(root.customer_id());
    who->set_display_name(root.display_name());
    who->set_language(root.language());
    *who->mutable_attributes() = root.attributes();
    for (const auto& id : customers.group(b, ws, root.customer_id())) {
      who->add_linked_customer_ids(id);
      v1::store::Customer one;
      if (customers.load(b, ws, id, one))
        for (const auto& h : one.handles()) who->add_handles(h);
    }
  }
  if (max_conv > 0 && known) {
    const auto ids =
        customers.conversations(ws, customers.group(b, ws, root.customer_id()), max_conv + 1);
    for (const auto& id : ids) {
      Conversation past;
      if (id == c.summary().conversation_id() || !load(b, ws, id, past)) continue;
      if (static_cast<size_t>(a.customer_history_size()) >= max_conv) break;
      auto* p = a.add_customer_history();
      *p->mutable_conversation() = past.summary();
      p->set_state(state_name(past.state()));
      p->set_agent_id(past.agent_id());
      const uint64_t n = past.message_count();
      const uint64_t keep = static_cast<uint64_t>(p_.cfg->router.customer_history_messages);
      const uint64_t first = n > keep ? n - keep + 1 : 1;
      p->set_history_truncated(first > 1);
      for (auto& m : messages(b, ws, id, first, n)) *p->add_history() = std::move(m);
    }
  }
  return a;
}

v1::Offer Conversations::offer_frame(Store::Batch& b, const Conversation& c) {
  v1::Offer o;
  o.set_offer_id(c.offer_id());
  *o.mutable_conversation() = summary(c);
  o.set_expires_at_ms(c.offer_expires_at_ms());
  for (uint64_t s = c.message_count(); s >= 1; --s) {
    std::string v;
    v1::ConversationMessage m;
    if (b.get(Cf::kMessages,
              keys::message(c.summary().workspace_id(), c.summary().conversation_id(), s), &v) &&
        m.ParseFromString(v) && m.author() == v1::AUTHOR_CUSTOMER) {
      o.set_preview(m.text_body().substr(0, 140));
      break;
    }
  }
  return o;
}

}  // namespace omniroute::router
