// What agents keep on their conversations and for themselves: internal notes (history
// only, never sent), labels, snooze, and canned responses.
#include <algorithm>

#include <fmt/format.h>

#include "router/frames/frames.h"
#include "router/keys.h"
#include "router/parts.h"

namespace omniroute::router::frames {

namespace {

constexpr int kMaxLabels = 20;
constexpr size_t kMaxLabel = 64;

bool label_ok(const std::string& l) {
  return !l.empty() && l.size() <= kMaxLabel &&
         std::none_of(l.begin(), l.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

void note_added(Parts& p, const AgentRt& a, const std::string& note_id,
                const v1::ConversationMessage& m, const std::string& conversation_id) {
  v1::AgentFrame f;
  auto* n = f.mutable_note_added();
  n->set_conversation_id(conversation_id);
  n->set_note_id(note_id);
  *n->mutable_message() = m;
  p.desks.send(a, std::move(f));
}

}  // namespace

void note(Parts& p, Store::Batch& b, AgentRt& a, const v1::AgentFrame& f) {
  const v1::Note& m = f.note();
  if (m.note_id().empty() || m.note_id().size() > 128 || m.text().empty())
    return p.desks.refuse(a, {Errc::kInvalid, "note needs note_id (at most 128 bytes) and text"},
                          m.note_id());
  if (static_cast<int64_t>(m.text().size()) > p.cfg->router.max_reply_bytes)
    return p.desks.refuse(a, {Errc::kTooLarge, "note over router.max_reply_bytes"}, m.note_id());
  // Notes share the replies' dedup family under their own prefix: a re-sent note is
  // answered again, stored once.
  const std::string dk = keys::reply_dedup(a.workspace, a.cfg->id, "note/" + m.note_id());
  std::string v;
  v1::store::DedupEntry d;
  if (b.get(Cf::kDedup, dk, &v) && d.ParseFromString(v)) {
    v1::ConversationMessage stored;
    if (b.get(Cf::kMessages, keys::message(a.workspace, d.conversation_id(), d.seq()), &v) &&
        stored.ParseFromString(v))
      note_added(p, a, m.note_id(), stored, d.conversation_id());
    return;
  }
  v1::store::Conversation c;
  if (Status st = p.conversations.load_assigned(b, a, m.conversation_id(), c))
    return p.desks.refuse(a, st, m.note_id());
  v1::ConversationMessage cm;
  cm.set_author(v1::AUTHOR_AGENT);
  cm.set_author_id(a.cfg->id);
  cm.set_internal(true);
  cm.set_note_id(m.note_id());
  cm.set_text_body(m.text());
  const uint64_t seq = p.conversations.append(b, c, cm);
  p.conversations.save(b, c);
  d.set_conversation_id(m.conversation_id());
  d.set_seq(seq);
  b.put(Cf::kDedup, dk, d.SerializeAsString());
  if (b.get(Cf::kMessages, keys::message(a.workspace, m.conversation_id(), seq), &v))
    cm.ParseFromString(v);  // as stored: with its seq and time
  note_added(p, a, m.note_id(), cm, m.conversation_id());
}

void set_labels(Parts& p, Store::Batch& b, AgentRt& a, const v1::AgentFrame& f) {
  const v1::SetLabels& m = f.set_labels();
  if (m.labels_size() > kMaxLabels)
    return p.desks.refuse(a, {Errc::kInvalid, "at most 20 labels"}, m.conversation_id());
  std::vector<std::string> labels;
  for (const auto& l : m.labels()) {
    if (!label_ok(l))
      return p.desks.refuse(a, {Errc::kInvalid, "a label is 1 to 64 bytes, no control characters"},
                            m.conversation_id());
    if (std::find(labels.begin(), labels.end(), l) == labels.end()) labels.push_back(l);
  }
  v1::store::Conversation c;
  if (Status st = p.conversations.load_assigned(b, a, m.conversation_id(), c))
    return p.desks.refuse(a, st, m.conversation_id());
  auto* s = c.mutable_summary();
  s->clear_labels();
  for (auto& l : labels) s->add_labels(std::move(l));
  p.conversations.save(b, c);
  p.snoozes.updated(c, "labels");
}

void snooze(Parts& p, Store::Batch& b, AgentRt& a, const v1::AgentFrame& f) {
  const v1::Snooze& m = f.snooze();
  v1::store::Conversation c;
  if (Status st = p.conversations.load_assigned(b, a, m.conversation_id(), c))
    return p.desks.refuse(a, st, m.conversation_id());
  if (Status st = p.snoozes.snooze(b, a, c, m.until_ms(), m.until_customer_writes()))
    return p.desks.refuse(a, st, m.conversation_id());
}

void save_canned(Parts& p, Store::Batch& b, AgentRt& a, const v1::AgentFrame& f) {
  const v1::CannedResponse& r = f.save_canned().response();
  if (Status st = p.canned.save(b, a, r)) return p.desks.refuse(a, st, r.canned_id());
}

void delete_canned(Parts& p, Store::Batch& b, AgentRt& a, const v1::AgentFrame& f) {
  const std::string& id = f.delete_canned().canned_id();
  if (Status st = p.canned.remove(b, a, id)) return p.desks.refuse(a, st, id);
}

}  // namespace omniroute::router::frames
