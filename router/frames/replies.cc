// Reply frames: Reply (an answer to the customer, acknowledged once durable) and Typing.
#include <fmt/format.h>

#include "router/frames/frames.h"
#include "router/keys.h"
#include "router/parts.h"

namespace omniroute::router::frames {
namespace {

// Checked before anything is stored or acknowledged: a reply that cannot become one Kafka
// record must be refused now, not acknowledged and then stuck in the outbox.
Status check(const Parts& p, const v1::Reply& m) {
  if (static_cast<int64_t>(m.ByteSizeLong()) > p.cfg->router.max_reply_bytes)
    return {Errc::kTooLarge, fmt::format("reply of {} bytes is over router.max_reply_bytes ({})",
                                         m.ByteSizeLong(), p.cfg->router.max_reply_bytes)};
  if (m.reply_id().rfind("note/", 0) == 0)
    return {Errc::kInvalid, "reply ids starting with note/ are reserved"};
  if (m.reply_id().empty() ||
      (m.text_body().empty() && m.attachments().empty() && !m.has_message_template()))
    return {Errc::kInvalid,
            "reply needs reply_id and a text_body, attachments or a message_template"};
  if (m.has_message_template() &&
      (m.message_template().name().empty() || m.message_template().language().empty() ||
       m.message_template().parameters_size() > 100))
    return {Errc::kInvalid,
            "message_template needs a name and a language (and at most 100 parameters)"};
  return {};
}

void ack(Parts& p, const AgentRt& a, const std::string& reply_id, const v1::store::DedupEntry& d) {
  v1::AgentFrame f;
  auto* ack = f.mutable_reply_ack();
  ack->set_conversation_id(d.conversation_id());
  ack->set_reply_id(reply_id);
  ack->set_outbound_id(d.outbound_id());
  ack->set_seq(d.seq());
  p.desks.send(a, std::move(f));
}

}  // namespace

void reply(Parts& p, Store::Batch& b, AgentRt& a, const v1::AgentFrame& f) {
  const v1::Reply& m = f.reply();
  if (Status bad = check(p, m)) return p.desks.refuse(a, bad, m.reply_id());
  const std::string dk = keys::reply_dedup(a.workspace, a.cfg->id, m.reply_id());
  std::string v;
  v1::store::DedupEntry d;
  if (b.get(Cf::kDedup, dk, &v) && d.ParseFromString(v))
    return ack(p, a, m.reply_id(), d);  // a re-sent Reply: acknowledge again, publish nothing
  v1::store::Conversation c;
  if (Status st = p.conversations.load_assigned(b, a, m.conversation_id(), c))
    return p.desks.refuse(a, st, m.conversation_id());
  ++p.counters.replies;
  const auto& s = c.summary();
  v1::ConversationMessage cm;
  cm.set_author(v1::AUTHOR_AGENT);
  cm.set_author_id(a.cfg->id);
  cm.set_text_body(m.text_body());
  if (m.has_message_template() && m.text_body().empty()) {
    // The history shows what was sent: the template and its values.
    const auto& t = m.message_template();
    cm.set_text_body(fmt::format("[template {} ({})] {}", t.name(), t.language(),
                                 fmt::join(t.parameters(), " | ")));
  }
  cm.set_html_body(m.html_body());
  *cm.mutable_attachments() = m.attachments();
  const uint64_t seq = c.message_count() + 1;
  const std::string outbound_id =
      fmt::format("{}/{}/{}", s.workspace_id(), s.conversation_id(), seq);
  cm.set_outbound_id(outbound_id);
  p.conversations.append(b, c, cm);
  // An answer meets the first-response and next-response targets.
  if (c.first_response_at_ms() == 0) c.set_first_response_at_ms(p.clock.now_ms());
  p.sla.answered(b, c);
  p.conversations.save(b, c);

  v1::OutboundMessage out = p.outbox.outbound(c, outbound_id);
  out.set_agent_id(a.cfg->id);
  out.set_agent_display_name(a.cfg->name);
  if (!s.subject().empty())
    out.set_subject(s.subject().rfind("Re:", 0) == 0 ? s.subject() : "Re: " + s.subject());
  if (s.channel() == v1::CHANNEL_EMAIL) p.threading.email_headers(b, c, out);
  out.set_text_body(m.text_body());
  out.set_html_body(m.html_body());
  *out.mutable_attachments() = m.attachments();
  if (m.has_message_template()) *out.mutable_message_template() = m.message_template();
  if (auto thread = keys::integrator_thread(c.thread_key()); !thread.empty())
    out.mutable_thread()->set_thread_id(std::string(thread));
  p.outbox.send_outbound(b, out, seq);

  d.set_conversation_id(s.conversation_id());
  d.set_seq(seq);
  d.set_outbound_id(outbound_id);
  b.put(Cf::kDedup, dk, d.SerializeAsString());
  p.outbox.routing_event(b, c, v1::RoutingEvent::KIND_REPLIED, a.cfg->id,
                         fmt::format("reply {} as outbound {}", seq, outbound_id));
  ack(p, a, m.reply_id(), d);
}

void typing(Parts& p, Store::Batch& b, AgentRt& a, const v1::AgentFrame& f) {
  v1::store::Conversation c;
  if (!p.conversations.load(b, a.workspace, f.typing().conversation_id(), c) ||
      c.state() != v1::store::CONVERSATION_STATE_ASSIGNED || c.agent_id() != a.cfg->id)
    return;  // stale or not theirs: typing is not worth an error
  v1::ChannelNotice n;
  n.set_kind(v1::ChannelNotice::KIND_TYPING);
  n.set_on(f.typing().on());
  p.outbox.notice(b, c, n, a.cfg);
}

}  // namespace omniroute::router::frames
