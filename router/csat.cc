#include "router/csat.h"

#include <fmt/format.h>

#include "common/utf8.h"
#include "ops/metrics.h"
#include "router/keys.h"
#include "router/parts.h"

namespace omniroute::router {

using v1::store::Conversation;

const std::string* Csat::pick(const std::map<std::string, std::string>& texts,
                              const std::string& language, const std::string& fallback) {
  for (const auto& lang : {language, fallback})
    for (const auto& [k, v] : texts)
      if (!lang.empty() && config::primary_language(k) == config::primary_language(lang)) return &v;
  return texts.empty() ? nullptr : &texts.begin()->second;
}

void Csat::on_resolve(Store::Batch& b, Conversation& c, const std::string& agent_id) {
  const auto& s = c.summary();
  const config::Workspace* ws = p_.cfg->workspace(s.workspace_id());
  const config::Inbox* inbox = ws ? ws->inbox(s.inbox_id()) : nullptr;
  if (!inbox || !inbox->csat.enabled()) return;
  // Once per conversation (a reopened one is not asked again); never to a machine.
  if (!c.csat_survey_id().empty() || !c.person_wrote()) return;
  const config::CsatSurvey& cfg = inbox->csat;
  const std::string* question = pick(cfg.question, c.language(), ws->default_language);
  const int64_t now = p_.clock.now_ms();
  const uint64_t seq = c.message_count() + 1;
  // Its outbound id, marked as a survey: a reply to it on a channel without buttons (an
  // email answering the survey's mail) can be told from a reply to an agent.
  const std::string id = fmt::format("{}/{}/{}/csat", s.workspace_id(), s.conversation_id(), seq);
  c.set_csat_survey_id(id);
  c.set_csat_agent_id(agent_id);
  c.set_csat_scale(static_cast<uint32_t>(cfg.scale));
  c.set_csat_expires_at_ms(now + cfg.window_ms);
  v1::ConversationMessage cm;
  cm.set_author(v1::AUTHOR_SYSTEM);
  cm.set_text_body(*question);
  cm.set_outbound_id(id);
  cm.set_survey(true);
  p_.conversations.append(b, c, cm);
  v1::OutboundMessage out = p_.outbox.outbound(c, id);
  out.set_text_body(*question);
  out.set_automatic(true);
  auto* sv = out.mutable_survey();
  sv->set_survey_id(id);
  sv->set_question(*question);
  sv->set_scale(static_cast<uint32_t>(cfg.scale));
  sv->set_expires_at_ms(c.csat_expires_at_ms());
  if (const std::string* t = pick(cfg.thanks, c.language(), ws->default_language))
    sv->set_thanks(*t);
  sv->set_language(c.language());
  if (!s.subject().empty())
    out.set_subject(s.subject().rfind("Re:", 0) == 0 ? s.subject() : "Re: " + s.subject());
  if (s.channel() == v1::CHANNEL_EMAIL) p_.threading.email_headers(b, c, out);
  p_.outbox.send_outbound(b, out, seq);
  p_.conversations.save(b, c);
  p_.outbox.routing_event(b, c, v1::RoutingEvent::KIND_SURVEY_SENT, agent_id,
                          fmt::format("satisfaction survey 1-{} sent", cfg.scale));
}

void Csat::answer(Store::Batch& b, const v1::CsatAnswer& a) {
  const std::string& ws_id = a.workspace_id();
  // `reason` is a bounded metric label; `why` the words for the log.
  auto refuse = [&](const char* reason, const char* why) {
    ++p_.counters.csat_refused;
    if (p_.cfg->workspace(ws_id))  // a workspace of the config: a bounded label
      ops::metrics().csat_refused.Add({{"workspace", ws_id}, {"reason", reason}}).Increment();
    p_.log->info("{}: satisfaction answer for survey {} refused: {}",
                 utf8::cut(utf8::sanitize(ws_id), 64),
                 utf8::cut(utf8::sanitize(a.survey_id()), 120), why);
  };
  const config::Workspace* ws = p_.cfg->workspace(ws_id);
  if (!ws || !ws->inbox(a.inbox_id()))
    return refuse("unknown_survey", "unknown workspace or inbox");
  // "<ws>/<conversation>/<seq>/csat": the survey names its conversation.
  const std::string& id = a.survey_id();
  const size_t first = id.find('/'), second = id.find('/', first + 1);
  if (first == std::string::npos || second == std::string::npos || id.substr(0, first) != ws_id)
    return refuse("unknown_survey", "not a survey of this workspace");
  Conversation c;
  if (!p_.conversations.load(b, ws_id, id.substr(first + 1, second - first - 1), c) ||
      c.csat_survey_id() != id)
    return refuse("unknown_survey", "no such survey");
  if (c.summary().inbox_id() != a.inbox_id() ||
      c.summary().customer_handle() != a.customer_handle())
    return refuse("not_the_customer", "answered by someone else than the customer asked");
  if (a.rating() < 1 || a.rating() > c.csat_scale())
    return refuse("off_scale", "rating out of the scale");
  const int64_t now = p_.clock.now_ms();
  if (now > c.csat_expires_at_ms()) return refuse("expired", "the survey expired");
  const std::string dedup = keys::inbound_dedup(
      ws_id, a.inbox_id(),
      "csat:" + (a.external_id().empty() ? fmt::format("{}:{}", id, a.rating()) : a.external_id()));
  std::string v;
  if (b.get(Cf::kDedup, dedup, &v)) {
    ++p_.counters.duplicates;
    return;
  }
  const bool first_answer = c.csat_rating() == 0;
  c.set_csat_rating(a.rating());
  const std::string comment = utf8::cut(utf8::sanitize(a.comment()), 2000);
  if (!comment.empty() || first_answer) c.set_csat_comment(comment);
  c.set_csat_at_ms(now);
  v1::ConversationMessage cm;
  cm.set_author(v1::AUTHOR_CUSTOMER);
  cm.set_author_id(c.summary().customer_id());
  cm.set_text_body(comment);
  cm.mutable_csat()->set_rating(a.rating());
  cm.mutable_csat()->set_scale(c.csat_scale());
  cm.set_event_id(a.event_id());
  cm.set_at_ms(now);
  cm.set_seq(p_.conversations.append(b, c, cm));
  v1::store::DedupEntry d;
  d.set_conversation_id(c.summary().conversation_id());
  d.set_seq(cm.seq());
  b.put(Cf::kDedup, dedup, d.SerializeAsString());
  ++p_.counters.csat_answers;
  p_.outbox.routing_event(b, c, v1::RoutingEvent::KIND_CSAT, c.csat_agent_id(),
                          fmt::format("rated {} of {}{}", a.rating(), c.csat_scale(),
                                      comment.empty() ? "" : " with a comment"));
  if (first_answer) thank(b, c, ws->inbox(a.inbox_id())->csat, ws->default_language);
  p_.conversations.save(b, c);
  // The agent it rates sees it in that conversation (the page keeps closed ones).
  if (AgentRt* agent = p_.agents.find(ws_id, c.csat_agent_id()); agent && agent->online()) {
    v1::AgentFrame f;
    f.mutable_customer_message()->set_conversation_id(c.summary().conversation_id());
    *f.mutable_customer_message()->mutable_message() = cm;
    p_.desks.send(*agent, std::move(f));
  }
}

// A thank-you as a message, on channels that cannot show the survey's own `thanks` live
// (web chat shows it in the widget as soon as the visitor rates).
void Csat::thank(Store::Batch& b, Conversation& c, const config::CsatSurvey& s,
                 const std::string& fallback_language) {
  if (c.summary().channel() == v1::CHANNEL_CHAT) return;
  const std::string* text = pick(s.thanks, c.language(), fallback_language);
  if (!text) return;
  const auto& sm = c.summary();
  const uint64_t seq = c.message_count() + 1;
  const std::string id = fmt::format("{}/{}/{}", sm.workspace_id(), sm.conversation_id(), seq);
  v1::ConversationMessage cm;
  cm.set_author(v1::AUTHOR_SYSTEM);
  cm.set_text_body(*text);
  cm.set_outbound_id(id);
  p_.conversations.append(b, c, cm);
  v1::OutboundMessage out = p_.outbox.outbound(c, id);
  out.set_text_body(*text);
  out.set_automatic(true);
  if (!sm.subject().empty())
    out.set_subject(sm.subject().rfind("Re:", 0) == 0 ? sm.subject() : "Re: " + sm.subject());
  if (sm.channel() == v1::CHANNEL_EMAIL) p_.threading.email_headers(b, c, out);
  p_.outbox.send_outbound(b, out, seq);
}

}  // namespace omniroute::router
