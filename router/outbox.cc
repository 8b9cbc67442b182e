#include "router/outbox.h"

#include "ops/metrics.h"

#include <fmt/format.h>

#include "router/keys.h"
#include "router/parts.h"

namespace omniroute::router {

uint64_t Outbox::next_seq(Store::Batch& b, const std::string& name) {
  auto it = seqs_.find(name);
  if (it == seqs_.end()) {
    std::string v;
    uint64_t cur = b.get(Cf::kMeta, keys::seq(name), &v) ? std::stoull(v) : 0;
    it = seqs_.emplace(name, cur).first;
  }
  ++it->second;
  dirty_seqs_.insert(name);  // written once per step, in flush_seqs()
  return it->second;
}

void Outbox::flush_seqs(Store::Batch& b) {
  for (const auto& name : dirty_seqs_)
    b.put(Cf::kMeta, keys::seq(name), std::to_string(seqs_[name]));
  dirty_seqs_.clear();
}

void Outbox::produce(Store::Batch& b, const std::string& topic, const std::string& key,
                     const std::string& value) {
  OutboxRecord r;
  r.key = fmt::format("{:020}", next_seq(b, "outbox"));
  r.entry.set_topic(topic);
  r.entry.set_key(key);
  r.entry.set_value(value);
  b.put(Cf::kOutbox, r.key, r.entry.SerializeAsString());
  records_.push_back(std::move(r));
}

void Outbox::routing_event(Store::Batch& b, const v1::store::Conversation& c,
                           v1::RoutingEvent::Kind kind, const std::string& agent_id,
                           const std::string& reason,
                           const std::vector<v1::RoutingEvent::Candidate>& considered,
                           const std::string& customer_id) {
  v1::RoutingEvent e;
  e.set_customer_id(customer_id);
  const uint64_t seq = next_seq(b, "routing");
  e.set_event_id(
      fmt::format("{}/{}/{}", c.summary().workspace_id(), c.summary().conversation_id(), seq));
  e.set_workspace_id(c.summary().workspace_id());
  e.set_conversation_id(c.summary().conversation_id());
  e.set_kind(kind);
  e.set_queue_id(c.summary().queue_id());
  e.set_agent_id(agent_id);
  e.set_offer_id(c.offer_id());
  e.set_reason(reason);
  for (const auto& cand : considered) {
    if (cand.eligible()) e.add_candidates(cand.agent_id());
    *e.add_considered() = cand;
  }
  e.set_at_ms(p_.clock.now_ms());
  e.set_channel(c.summary().channel());
  e.set_inbox_id(c.summary().inbox_id());
  if (!agent_id.empty()) {
    const AgentRt* a = p_.agents.find(c.summary().workspace_id(), agent_id);
    e.set_agent_bot(a && a->bot);
  }
  {
    auto& counters = event_counters_[{c.summary().workspace_id(), kind}];
    if (counters.empty()) {
      auto& m = ops::metrics();
      const std::string& ws = c.summary().workspace_id();
      counters.push_back(
          &m.routing_events.Add({{"workspace", ws}, {"kind", ops::routing_kind_label(kind)}}));
      if (kind == v1::RoutingEvent::KIND_SLA_WARNING || kind == v1::RoutingEvent::KIND_SLA_BREACH)
        counters.push_back(&m.sla_events.Add(
            {{"workspace", ws},
             {"kind", kind == v1::RoutingEvent::KIND_SLA_WARNING ? "warning" : "breach"}}));
    }
    for (auto* counter : counters) counter->Increment();
  }
  e.set_priority(c.priority());
  e.set_language(c.language());
  if (kind == v1::RoutingEvent::KIND_SURVEY_SENT || kind == v1::RoutingEvent::KIND_CSAT) {
    e.set_csat_scale(c.csat_scale());
    if (kind == v1::RoutingEvent::KIND_CSAT) e.set_csat_rating(c.csat_rating());
  }
  // Decisions at info; per-message events (replies, delivery states) at debug, so a busy
  // router does not spend itself on logging.
  const auto level = kind == v1::RoutingEvent::KIND_REPLIED ||
                             kind == v1::RoutingEvent::KIND_DELIVERY ||
                             kind == v1::RoutingEvent::KIND_CUSTOMER_MESSAGE
                         ? spdlog::level::debug
                         : spdlog::level::info;
  if (p_.log->should_log(level)) {
    p_.log->log(level, "{}/{} {} {}{}{}", c.summary().workspace_id(), c.summary().conversation_id(),
                v1::RoutingEvent::Kind_Name(kind).substr(5),
                agent_id.empty() ? "" : "agent=" + agent_id + " ", reason,
                e.candidates().empty()
                    ? ""
                    : fmt::format(" candidates=[{}]", fmt::join(e.candidates(), ",")));
  }
  const std::string value = e.SerializeAsString();
  // Decisions also go to the conversation's trail, for `omniroute inspect conversation`.
  if (level == spdlog::level::info && !c.summary().conversation_id().empty())
    trail(b, c, seq, value);
  produce(b, p_.cfg->kafka.topics.routing, c.summary().workspace_id(), value);
}

void Outbox::presence_event(Store::Batch& b, const AgentRt& a) {
  v1::RoutingEvent e;
  e.set_event_id(fmt::format("{}/~{}/{}", a.workspace, a.id, next_seq(b, "routing")));
  e.set_workspace_id(a.workspace);
  e.set_kind(v1::RoutingEvent::KIND_PRESENCE);
  e.set_agent_id(a.id);
  e.set_agent_bot(a.bot);
  e.set_presence(a.routing_id.empty()                   ? "offline"
                 : a.presence == v1::PRESENCE_AVAILABLE ? "available"
                                                        : "away");
  e.set_at_ms(p_.clock.now_ms());
  p_.log->debug("{}/{} presence {}", a.workspace, a.id, e.presence());
  produce(b, p_.cfg->kafka.topics.routing, a.workspace, e.SerializeAsString());
}

// Trail entries count up per conversation from the routing event that started it (so a
// trail written before the count existed still sorts first); the count record holds
// "<first> <last>", and the oldest entries go once there are more than router.max_trail.
void Outbox::trail(Store::Batch& b, const v1::store::Conversation& c, uint64_t seq,
                   const std::string& value) {
  const auto& ws = c.summary().workspace_id();
  const auto& id = c.summary().conversation_id();
  const std::string count_key = keys::trail_count(ws, id);
  uint64_t first = seq, last = seq;
  std::string v;
  if (b.get(Cf::kTrail, count_key, &v)) {
    unsigned long long f = 0, l = 0;
    if (std::sscanf(v.c_str(), "%llu %llu", &f, &l) == 2) {
      first = f;
      last = l + 1;
    }
  }
  b.put(Cf::kTrail, keys::trail(ws, id, last), value);
  const uint64_t max = static_cast<uint64_t>(std::max(1, p_.cfg->router.max_trail));
  while (last - first + 1 > max) b.del(Cf::kTrail, keys::trail(ws, id, first++));
  b.put(Cf::kTrail, count_key, fmt::format("{} {}", first, last));
}

void Outbox::dead_letter(Store::Batch& b, const std::string& topic, int32_t partition,
                         int64_t offset, std::string_view key, std::string_view value,
                         const std::string& reason) {
  ++p_.counters.dead_letters;
  p_.log->warn("dead letter {}/{}@{}: {}", topic, partition, offset, reason);
  v1::DeadLetter dl;
  dl.set_source_topic(topic);
  dl.set_source_partition(partition);
  dl.set_source_offset(offset);
  dl.set_key(std::string(key.substr(0, 1024)));
  constexpr size_t kMaxValue = 64 * 1024;
  dl.set_value(std::string(value.substr(0, kMaxValue)));
  dl.set_value_truncated(value.size() > kMaxValue);
  dl.set_reason(reason);
  dl.set_component("router");
  dl.set_at_ms(p_.clock.now_ms());
  produce(b, p_.cfg->kafka.topics.dlq, std::string(key.substr(0, 1024)), dl.SerializeAsString());
}

v1::OutboundMessage Outbox::outbound(const v1::store::Conversation& c,
                                     const std::string& outbound_id) {
  const auto& s = c.summary();
  v1::OutboundMessage out;
  out.set_outbound_id(outbound_id);
  out.set_workspace_id(s.workspace_id());
  out.set_inbox_id(s.inbox_id());
  out.set_channel(s.channel());
  out.set_conversation_id(s.conversation_id());
  out.set_customer_handle(s.customer_handle());
  out.set_created_at_ms(p_.clock.now_ms());
  return out;
}

void Outbox::send_outbound(Store::Batch& b, const v1::OutboundMessage& out, uint64_t seq) {
  produce(b, p_.cfg->kafka.topics.outbound(out.channel()), out.workspace_id(),
          out.SerializeAsString());
  if (seq == 0) return;
  v1::store::DedupEntry d;
  d.set_conversation_id(out.conversation_id());
  d.set_seq(seq);
  d.set_outbound_id(out.outbound_id());
  b.put(Cf::kOutboundIndex, keys::scoped(out.workspace_id(), out.outbound_id()),
        d.SerializeAsString());
}

void Outbox::notice(Store::Batch& b, const v1::store::Conversation& c, const v1::ChannelNotice& n,
                    const config::Agent* from) {
  const auto& s = c.summary();
  if (s.channel() != v1::CHANNEL_CHAT) return;
  v1::OutboundMessage out =
      outbound(c, fmt::format("{}/{}/n{}-{}", s.workspace_id(), s.conversation_id(),
                              p_.clock.now_ms(), ++notice_seq_));
  if (from) {
    out.set_agent_id(from->id);
    out.set_agent_display_name(from->name.empty() ? from->id : from->name);
  }
  *out.mutable_notice() = n;
  send_outbound(b, out, 0);
}

void Outbox::refused(Store::Batch& b, const OutboxRecord& r, const std::string& reason) {
  b.del(Cf::kOutbox, r.key);
  const std::string& topic = r.entry.topic();
  p_.log->error("outbox record {} for {} refused by Kafka: {}; sent to the DLQ", r.key, topic,
                reason);
  if (topic != p_.cfg->kafka.topics.dlq) {
    dead_letter(b, topic, -1, -1, r.entry.key(), r.entry.value(),
                "Kafka refused the record: " + reason);
  }
  if (topic.rfind(p_.cfg->kafka.topics.outbound_prefix, 0) != 0) return;
  v1::OutboundMessage out;
  if (!out.ParseFromString(r.entry.value()) || out.outbound_id().empty()) return;
  v1::DeliveryStatus s;
  s.set_workspace_id(out.workspace_id());
  s.set_inbox_id(out.inbox_id());
  s.set_channel(out.channel());
  s.set_outbound_id(out.outbound_id());
  s.set_conversation_id(out.conversation_id());
  s.set_state(v1::DeliveryStatus::STATE_FAILED);
  s.set_detail("not sent: Kafka refused the message (" + reason + ")");
  s.set_at_ms(p_.clock.now_ms());
  p_.inbound.delivery_status(b, s);
}

std::vector<OutboxRecord> Outbox::pending() {
  std::vector<OutboxRecord> out;
  p_.store.scan(Cf::kOutbox, "", [&](std::string_view k, std::string_view v) {
    OutboxRecord r;
    r.key = std::string(k);
    if (r.entry.ParseFromArray(v.data(), static_cast<int>(v.size()))) out.push_back(std::move(r));
    return true;
  });
  return out;
}

}  // namespace omniroute::router
