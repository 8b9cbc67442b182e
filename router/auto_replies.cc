#include "router/auto_replies.h"

#include <fmt/format.h>

#include "router/parts.h"

namespace omniroute::router {

using v1::store::Conversation;

void AutoReplies::substitute(std::string& text, const std::string& var, const std::string& value) {
  for (size_t at = text.find(var); at != std::string::npos; at = text.find(var, at + value.size()))
    text.replace(at, var.size(), value);
}

void AutoReplies::on_open(Store::Batch& b, Conversation& c, const v1::InboundMessage& m,
                          v1::store::Customer& customer, const config::Workspace& ws,
                          const config::Inbox& inbox) {
  if (m.auto_generated() != v1::AUTO_GENERATED_NONE) return;  // never answer a machine: no loops
  const int64_t now = p_.clock.now_ms();
  closed_hours(b, c, m, ws, now);
  acknowledge(b, c, m, customer, ws, inbox, now);
}

void AutoReplies::closed_hours(Store::Batch& b, Conversation& c, const v1::InboundMessage& m,
                               const config::Workspace& ws, int64_t now) {
  if (ws.hours->open_at(now) || c.closed_reply_sent()) return;
  auto tpl = ws.closed_replies.find(c.language());
  if (tpl == ws.closed_replies.end()) tpl = ws.closed_replies.find(ws.default_language);
  if (tpl == ws.closed_replies.end()) return;
  const int64_t opens = ws.hours->next_open(now);
  std::string text = tpl->second;
  substitute(text, "{opens_at}", opens == INT64_MAX ? "" : ws.hours->local_string(opens));
  substitute(text, "{reference}", c.summary().conversation_id());
  send(b, c, m, text);
  c.set_closed_reply_sent(true);
  p_.outbox.routing_event(
      b, c, v1::RoutingEvent::KIND_AUTO_REPLY, {},
      fmt::format("outside business hours ({}); opens {}", ws.hours->timezone(),
                  opens == INT64_MAX ? "never" : ws.hours->local_string(opens)));
}

// The reference and when the customer will be answered; not on top of the closed-hours
// reply.
void AutoReplies::acknowledge(Store::Batch& b, Conversation& c, const v1::InboundMessage& m,
                              v1::store::Customer& customer, const config::Workspace& ws,
                              const config::Inbox& inbox, int64_t now) {
  if (inbox.auto_acknowledge.empty() || c.closed_reply_sent() ||
      (customer.last_auto_ack_ms() != 0 &&
       now - customer.last_auto_ack_ms() < inbox.auto_acknowledge_window_ms))
    return;
  auto tpl = inbox.auto_acknowledge.find(c.language());
  if (tpl == inbox.auto_acknowledge.end()) tpl = inbox.auto_acknowledge.find(ws.default_language);
  if (tpl == inbox.auto_acknowledge.end()) tpl = inbox.auto_acknowledge.begin();
  std::string text = tpl->second;
  substitute(text, "{reference}", "#" + c.summary().conversation_id().substr(1));
  substitute(text, "{subject}", c.summary().subject());
  const int64_t due = c.first_response_due_ms() > 0 ? c.first_response_due_ms() - now : 0;
  std::string within = "soon";
  if (due >= 2 * 86400000LL)
    within = fmt::format("{} days", (due + 86399999) / 86400000);
  else if (due >= 3600000)
    within = fmt::format("{} hour{}", (due + 3599999) / 3600000, due > 3600000 ? "s" : "");
  else if (due > 0)
    within = fmt::format("{} minutes", (due + 59999) / 60000);
  substitute(text, "{answer_within}", within);
  send(b, c, m, text);
  customer.set_last_auto_ack_ms(now);
  p_.customers.save(b, customer);
  p_.outbox.routing_event(b, c, v1::RoutingEvent::KIND_AUTO_REPLY, {},
                          fmt::format("acknowledged automatically in {}", tpl->first));
}

void AutoReplies::send(Store::Batch& b, Conversation& c, const v1::InboundMessage& m,
                       const std::string& text) {
  const auto& s = c.summary();
  const uint64_t seq = c.message_count() + 1;
  const std::string outbound_id =
      fmt::format("{}/{}/{}", s.workspace_id(), s.conversation_id(), seq);
  v1::ConversationMessage cm;
  cm.set_author(v1::AUTHOR_SYSTEM);
  cm.set_text_body(text);
  cm.set_outbound_id(outbound_id);
  p_.conversations.append(b, c, cm);
  v1::OutboundMessage out = p_.outbox.outbound(c, outbound_id);
  out.set_text_body(text);
  out.set_in_reply_to_external_id(m.external_message_id());
  out.set_automatic(true);
  if (!s.subject().empty())
    out.set_subject(s.subject().rfind("Re:", 0) == 0 ? s.subject() : "Re: " + s.subject());
  if (s.channel() == v1::CHANNEL_EMAIL) p_.threading.email_headers(b, c, out);
  p_.outbox.send_outbound(b, out, seq);
  ++p_.counters.auto_replies;
}

}  // namespace omniroute::router
