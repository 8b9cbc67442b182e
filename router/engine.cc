#include "router/engine.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "common/crypto.h"
#include "common/ids.h"

namespace omniroute::router {
namespace {

using v1::store::Conversation;
using CState = v1::store::ConversationState;

std::string ckey(const std::string& ws, const std::string& id) {
  return ws + "/" + id;
}
std::string msg_key(const std::string& ws, const std::string& conv, uint64_t seq) {
  return fmt::format("{}/{}/{:010}", ws, conv, seq);
}
std::string queue_key(const std::string& ws, const std::string& queue, int prio, uint64_t seq) {
  return fmt::format("{}/{}/{:03}/{:020}", ws, queue, prio, seq);
}
std::string offset_key(const std::string& topic, int32_t partition) {
  return fmt::format("offset/{}/{}", topic, partition);
}
// Offer ids are "<conversation>/<n>", so the conversation is known from the id alone.
std::string conversation_of_offer(const std::string& offer_id) {
  auto slash = offer_id.rfind('/');
  return slash == std::string::npos ? std::string() : offer_id.substr(0, slash);
}
const char* state_name(CState s) {
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

}  // namespace

int64_t SystemClock::now_ms() {
  return omniroute::now_ms();
}

Engine::Engine(const config::Config& cfg, Store& store, Clock& clock)
    : cfg_(cfg), store_(store), clock_(clock), log_(log::get("router")) {}

// ------------------------------------------------------------------ loading

void Engine::load() {
  const int64_t now = clock_.now_ms();
  for (const auto& ws : cfg_.workspaces) {
    for (const auto& a : ws.agents) {
      AgentRt rt;
      rt.cfg = &a;
      rt.workspace = ws.id;
      rt.idle_since_ms = 0;
      std::string v;
      v1::store::Agent rec;
      if (store_.get(Cf::kAgents, ckey(ws.id, a.id), &v) && rec.ParseFromString(v)) {
        rt.idle_since_ms = rec.idle_since_ms();
      }
      const std::string held = ckey(ws.id, a.id) + "/";
      store_.scan(Cf::kAgents, held, [&](std::string_view k, std::string_view) {
        const std::string cid(k.substr(held.size()));
        std::string cv;
        Conversation c;
        if (!store_.get(Cf::kConversations, ckey(ws.id, cid), &cv) || !c.ParseFromString(cv))
          return true;
        rt.hold(cid, c.summary().channel());
        if (c.state() == v1::store::CONVERSATION_STATE_OFFERED) {
          add_timer(c.offer_expires_at_ms(), {TimerKind::kOfferExpiry, ws.id, cid, c.offer_id()});
        }
        return true;
      });
      agents_[ckey(ws.id, a.id)] = std::move(rt);
    }
  }
  // Who serves which queue, so a decision looks at those agents only. An agent without a
  // queue list serves every queue of its workspace.
  for (auto& [k, a] : agents_) {
    const config::Workspace* ws = cfg_.workspace(a.workspace);
    if (a.cfg->queues.empty()) {
      for (const auto& q : ws->queues) queue_agents_[ckey(a.workspace, q.id)].push_back(&a);
    } else {
      for (const auto& q : a.cfg->queues) queue_agents_[ckey(a.workspace, q)].push_back(&a);
    }
  }
  size_t queued = 0;
  store_.scan(Cf::kQueue, "", [&](std::string_view k, std::string_view v) {
    // <ws>/<queue>/<prio>/<seq>
    std::string key(k);
    auto p1 = key.find('/'), p2 = key.find('/', p1 + 1), p3 = key.find('/', p2 + 1);
    if (p3 == std::string::npos) return true;
    int prio = std::stoi(key.substr(p2 + 1, p3 - p2 - 1));
    uint64_t seq = std::stoull(key.substr(p3 + 1));
    std::string cv;
    Conversation c;
    const std::string ws = key.substr(0, p1);
    if (!store_.get(Cf::kConversations, ckey(ws, std::string(v)), &cv) || !c.ParseFromString(cv)) {
      return true;
    }
    queues_[key.substr(0, p2)].emplace(prio, seq, std::string(v), c.summary().channel());
    ++queued;
    return true;
  });
  // Desks get one heartbeat timeout to come back after a restart before their open
  // offers go to someone else.
  add_timer(now + cfg_.router.heartbeat_timeout_ms, {TimerKind::kReconnectGrace, {}, {}, {}});
  add_timer(now + cfg_.router.heartbeat_interval_ms, {TimerKind::kHeartbeat, {}, {}, {}});
  log_->info("state loaded: {} agents, {} queued conversations", agents_.size(), queued);
}

std::vector<OutboxRecord> Engine::pending_outbox() {
  std::vector<OutboxRecord> out;
  store_.scan(Cf::kOutbox, "", [&](std::string_view k, std::string_view v) {
    OutboxRecord r;
    r.key = std::string(k);
    if (r.entry.ParseFromArray(v.data(), static_cast<int>(v.size()))) out.push_back(std::move(r));
    return true;
  });
  return out;
}

std::map<int32_t, int64_t> Engine::stored_offsets(const std::string& topic) {
  std::map<int32_t, int64_t> out;
  const std::string prefix = "offset/" + topic + "/";
  store_.scan(Cf::kMeta, prefix, [&](std::string_view k, std::string_view v) {
    out[std::stoi(std::string(k.substr(prefix.size())))] = std::stoll(std::string(v));
    return true;
  });
  return out;
}

size_t Engine::online_agents() const {
  size_t n = 0;
  for (const auto& [k, a] : agents_) n += a.online() ? 1 : 0;
  return n;
}

// ------------------------------------------------------------------ helpers

uint64_t Engine::next_seq(Store::Batch& b, const std::string& name) {
  auto it = seqs_.find(name);
  if (it == seqs_.end()) {
    std::string v;
    uint64_t cur = b.get(Cf::kMeta, "seq/" + name, &v) ? std::stoull(v) : 0;
    it = seqs_.emplace(name, cur).first;
  }
  ++it->second;
  dirty_seqs_.insert(name);  // written once per step, in commit()
  return it->second;
}

std::string Engine::commit(Store::Batch& b) {
  for (const auto& name : dirty_seqs_) b.put(Cf::kMeta, "seq/" + name, std::to_string(seqs_[name]));
  dirty_seqs_.clear();
  return store_.commit(b);
}

void Engine::set_offset(Store::Batch& b, const std::string& topic, int32_t partition,
                        int64_t next) {
  b.put(Cf::kMeta, offset_key(topic, partition), std::to_string(next));
}

bool Engine::load_conversation(Store::Batch& b, const std::string& ws, const std::string& id,
                               Conversation& c) {
  std::string v;
  return b.get(Cf::kConversations, ckey(ws, id), &v) && c.ParseFromString(v);
}

void Engine::save_conversation(Store::Batch& b, const Conversation& c) {
  b.put(Cf::kConversations, ckey(c.summary().workspace_id(), c.summary().conversation_id()),
        c.SerializeAsString());
}

void Engine::save_agent(Store::Batch& b, const AgentRt& a) {
  v1::store::Agent rec;
  rec.set_agent_id(a.cfg->id);
  rec.set_workspace_id(a.workspace);
  rec.set_idle_since_ms(a.idle_since_ms);
  b.put(Cf::kAgents, ckey(a.workspace, a.cfg->id), rec.SerializeAsString());
}

uint64_t Engine::append_message(Store::Batch& b, Conversation& c, v1::ConversationMessage m) {
  uint64_t seq = c.message_count() + 1;
  c.set_message_count(seq);
  m.set_seq(seq);
  if (m.at_ms() == 0) m.set_at_ms(clock_.now_ms());
  b.put(Cf::kMessages, msg_key(c.summary().workspace_id(), c.summary().conversation_id(), seq),
        m.SerializeAsString());
  return seq;
}

std::vector<v1::ConversationMessage> Engine::history(Store::Batch& b, const Conversation& c) {
  std::vector<v1::ConversationMessage> out;
  const uint64_t n = c.message_count();
  const uint64_t max = static_cast<uint64_t>(cfg_.router.max_history);
  const uint64_t first = n > max ? n - max + 1 : 1;
  for (uint64_t s = first; s <= n; ++s) {
    std::string v;
    v1::ConversationMessage m;
    if (b.get(Cf::kMessages, msg_key(c.summary().workspace_id(), c.summary().conversation_id(), s),
              &v) &&
        m.ParseFromString(v)) {
      out.push_back(std::move(m));
    }
  }
  return out;
}

v1::Assignment Engine::assignment(Store::Batch& b, const Conversation& c,
                                  const std::string& offer_id) {
  v1::Assignment a;
  *a.mutable_conversation() = c.summary();
  for (auto& m : history(b, c)) *a.add_history() = std::move(m);
  a.set_offer_id(offer_id);
  return a;
}

v1::Offer Engine::offer_frame(Store::Batch& b, const Conversation& c) {
  v1::Offer o;
  o.set_offer_id(c.offer_id());
  *o.mutable_conversation() = c.summary();
  o.set_expires_at_ms(c.offer_expires_at_ms());
  for (uint64_t s = c.message_count(); s >= 1; --s) {
    std::string v;
    v1::ConversationMessage m;
    if (b.get(Cf::kMessages, msg_key(c.summary().workspace_id(), c.summary().conversation_id(), s),
              &v) &&
        m.ParseFromString(v) && m.author() == v1::AUTHOR_CUSTOMER) {
      o.set_preview(m.text_body().substr(0, 140));
      break;
    }
  }
  return o;
}

Engine::AgentRt* Engine::agent(const std::string& ws, const std::string& id) {
  auto it = agents_.find(ckey(ws, id));
  return it == agents_.end() ? nullptr : &it->second;
}

Engine::AgentRt* Engine::session(const std::string& rid) {
  auto it = sessions_.find(rid);
  if (it == sessions_.end()) return nullptr;
  auto a = agents_.find(it->second);
  return a == agents_.end() ? nullptr : &a->second;
}

// ------------------------------------------------------------------ outputs

void Engine::send_to(const std::string& rid, v1::AgentFrame f) {
  frames_.push_back({rid, std::move(f)});
}

void Engine::send(const AgentRt& a, v1::AgentFrame f) {
  if (a.routing_id.empty()) return;  // offline: the desk gets it all on its next Welcome
  send_to(a.routing_id, std::move(f));
}

void Engine::error_to(const std::string& rid, v1::Error::Code code, const std::string& msg,
                      const std::string& ref) {
  v1::AgentFrame f;
  f.mutable_error()->set_code(code);
  f.mutable_error()->set_message(msg);
  f.mutable_error()->set_ref_id(ref);
  send_to(rid, std::move(f));
}

void Engine::produce(Store::Batch& b, const std::string& topic, const std::string& key,
                     const std::string& value) {
  OutboxRecord r;
  r.key = fmt::format("{:020}", next_seq(b, "outbox"));
  r.entry.set_topic(topic);
  r.entry.set_key(key);
  r.entry.set_value(value);
  b.put(Cf::kOutbox, r.key, r.entry.SerializeAsString());
  outbox_.push_back(std::move(r));
}

void Engine::routing_event(Store::Batch& b, const Conversation& c, v1::RoutingEvent::Kind kind,
                           const std::string& agent_id, const std::string& reason,
                           const std::vector<std::string>& candidates) {
  v1::RoutingEvent e;
  e.set_event_id(fmt::format("{}/{}/{}", c.summary().workspace_id(), c.summary().conversation_id(),
                             next_seq(b, "routing")));
  e.set_workspace_id(c.summary().workspace_id());
  e.set_conversation_id(c.summary().conversation_id());
  e.set_kind(kind);
  e.set_queue_id(c.summary().queue_id());
  e.set_agent_id(agent_id);
  e.set_offer_id(c.offer_id());
  e.set_reason(reason);
  for (const auto& cand : candidates) e.add_candidates(cand);
  e.set_at_ms(clock_.now_ms());
  e.set_channel(c.summary().channel());
  // Decisions at info; per-message events (replies, delivery states) at debug, so a busy
  // router does not spend itself on logging.
  const auto level =
      kind == v1::RoutingEvent::KIND_REPLIED || kind == v1::RoutingEvent::KIND_DELIVERY
          ? spdlog::level::debug
          : spdlog::level::info;
  if (log_->should_log(level)) {
    log_->log(
        level, "{}/{} {} {}{}{}", c.summary().workspace_id(), c.summary().conversation_id(),
        v1::RoutingEvent::Kind_Name(kind).substr(5),
        agent_id.empty() ? "" : "agent=" + agent_id + " ", reason,
        candidates.empty() ? "" : fmt::format(" candidates=[{}]", fmt::join(candidates, ",")));
  }
  produce(b, cfg_.kafka.topics.routing, c.summary().workspace_id(), e.SerializeAsString());
}

void Engine::dead_letter(Store::Batch& b, const std::string& topic, int32_t partition,
                         int64_t offset, std::string_view key, std::string_view value,
                         const std::string& reason) {
  ++counters_.dead_letters;
  log_->warn("dead letter {}/{}@{}: {}", topic, partition, offset, reason);
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
  dl.set_at_ms(clock_.now_ms());
  produce(b, cfg_.kafka.topics.dlq, std::string(key.substr(0, 1024)), dl.SerializeAsString());
}

// ------------------------------------------------------------------ inbound

void Engine::apply_record(Store::Batch& b, const std::string& topic, int32_t partition,
                          int64_t offset, std::string_view key, std::string_view value) {
  set_offset(b, topic, partition, offset + 1);
  if (static_cast<int64_t>(value.size()) > cfg_.router.max_record_bytes) {
    dead_letter(b, topic, partition, offset, key, value,
                fmt::format("record of {} bytes exceeds router.max_record_bytes", value.size()));
    return;
  }
  v1::Envelope env;
  if (!env.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    dead_letter(b, topic, partition, offset, key, value, "undecodable Envelope");
    return;
  }
  switch (env.payload_case()) {
    case v1::Envelope::kMessage: {
      const auto& m = env.message();
      const config::Workspace* ws = cfg_.workspace(m.workspace_id());
      if (!ws) {
        dead_letter(b, topic, partition, offset, key, value,
                    "unknown workspace '" + m.workspace_id() + "'");
        return;
      }
      if (!ws->inbox(m.inbox_id())) {
        dead_letter(b, topic, partition, offset, key, value,
                    "unknown inbox '" + m.inbox_id() + "'");
        return;
      }
      if (m.external_message_id().empty() || m.customer_handle().empty()) {
        dead_letter(b, topic, partition, offset, key, value,
                    "message without external_message_id or customer_handle");
        return;
      }
      on_message(b, m);
      return;
    }
    case v1::Envelope::kDeliveryStatus:
      on_delivery_status(b, env.delivery_status());
      return;
    case v1::Envelope::kSignal:
      return;  // typing/read: not stored (forwarding to desks comes with the chat channel)
    default:
      dead_letter(b, topic, partition, offset, key, value, "Envelope without payload");
  }
}

void Engine::on_message(Store::Batch& b, const v1::InboundMessage& m) {
  const std::string& ws = m.workspace_id();
  const config::Inbox* inbox = cfg_.workspace(ws)->inbox(m.inbox_id());
  const std::string dedup_key =
      fmt::format("m/{}/{}/{}", ws, m.inbox_id(), m.external_message_id());
  std::string v;
  if (b.get(Cf::kDedup, dedup_key, &v)) {
    ++counters_.duplicates;
    log_->debug("{}: duplicate external id in inbox {} dropped", ws, m.inbox_id());
    return;
  }
  ++counters_.messages;
  const int64_t now = clock_.now_ms();

  // Identity: the channel handle resolves to a customer.
  const std::string handle_key =
      fmt::format("{}/{}:{}", ws, channel_name(inbox->channel), m.customer_handle());
  v1::store::Customer customer;
  bool customer_changed = false;
  if (!(b.get(Cf::kCustomers, handle_key, &v) && customer.ParseFromString(v))) {
    customer.set_customer_id(fmt::format("U{}", next_seq(b, "customer")));
    customer.set_workspace_id(ws);
    customer.add_handles(fmt::format("{}:{}", channel_name(inbox->channel), m.customer_handle()));
    customer.set_created_at_ms(now);
    customer_changed = true;
  }
  if (!m.customer_display_name().empty() && m.customer_display_name() != customer.display_name()) {
    customer.set_display_name(m.customer_display_name());
    customer_changed = true;
  }
  if (customer_changed) b.put(Cf::kCustomers, handle_key, customer.SerializeAsString());

  // Threading: the integrator's thread id, else one open conversation per customer and inbox.
  const std::string thread_key = m.thread().thread_id().empty() ? "c:" + customer.customer_id()
                                                                : "t:" + m.thread().thread_id();
  const std::string tkey = fmt::format("{}/{}/{}", ws, m.inbox_id(), thread_key);
  Conversation c;
  bool is_new = true;
  if (b.get(Cf::kThreads, tkey, &v) && load_conversation(b, ws, v, c) &&
      c.state() != v1::store::CONVERSATION_STATE_RESOLVED) {
    is_new = false;
  }
  if (is_new) {
    ++counters_.conversations;
    c.Clear();
    auto* s = c.mutable_summary();
    s->set_conversation_id(fmt::format("C{}", next_seq(b, "conversation")));
    s->set_workspace_id(ws);
    s->set_inbox_id(m.inbox_id());
    s->set_channel(inbox->channel);
    s->set_customer_id(customer.customer_id());
    s->set_customer_handle(m.customer_handle());
    s->set_customer_display_name(customer.display_name());
    s->set_subject(m.subject());
    s->set_queue_id(inbox->queue);
    s->set_created_at_ms(now);
    c.set_thread_key(tkey);
    b.put(Cf::kThreads, tkey, s->conversation_id());
  }
  v1::ConversationMessage cm;
  cm.set_author(v1::AUTHOR_CUSTOMER);
  cm.set_author_id(customer.customer_id());
  cm.set_text_body(m.text_body());
  cm.set_html_body(m.html_body());
  cm.set_subject(m.subject());
  *cm.mutable_attachments() = m.attachments();
  cm.set_external_message_id(m.external_message_id());
  cm.set_event_id(m.event_id());
  cm.set_at_ms(now);
  uint64_t seq = append_message(b, c, cm);
  cm.set_seq(seq);
  v1::store::DedupEntry d;
  d.set_conversation_id(c.summary().conversation_id());
  d.set_seq(seq);
  b.put(Cf::kDedup, dedup_key, d.SerializeAsString());

  if (is_new) {
    routing_event(b, c, v1::RoutingEvent::KIND_OPENED, {},
                  "new conversation from " + channel_name(inbox->channel));
    enqueue(b, c, "inbox default queue " + inbox->queue);
    dispatch(b, ws, inbox->queue);
    return;
  }
  save_conversation(b, c);
  // A message in an existing conversation decides nothing: no routing event, a debug line.
  log_->debug("{}/{} message {} while {}", ws, c.summary().conversation_id(), seq,
              state_name(c.state()));
  if (c.state() == v1::store::CONVERSATION_STATE_ASSIGNED) {
    if (AgentRt* a = agent(ws, c.agent_id())) {
      v1::AgentFrame f;
      f.mutable_customer_message()->set_conversation_id(c.summary().conversation_id());
      *f.mutable_customer_message()->mutable_message() = cm;
      send(*a, std::move(f));
    }
  }
}

void Engine::on_delivery_status(Store::Batch& b, const v1::DeliveryStatus& s) {
  std::string v;
  v1::store::DedupEntry where;
  if (!(b.get(Cf::kOutboundIndex, ckey(s.workspace_id(), s.outbound_id()), &v) &&
        where.ParseFromString(v))) {
    log_->warn("{}: delivery status for unknown outbound {}", s.workspace_id(), s.outbound_id());
    return;
  }
  const std::string mk = msg_key(s.workspace_id(), where.conversation_id(), where.seq());
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
  ++counters_.delivery_updates;
  Conversation c;
  if (!load_conversation(b, s.workspace_id(), where.conversation_id(), c)) return;
  routing_event(b, c, v1::RoutingEvent::KIND_DELIVERY, m.author_id(),
                fmt::format("outbound {} {}", s.outbound_id(),
                            v1::DeliveryStatus::State_Name(s.state()).substr(6)));
  if (AgentRt* a = agent(s.workspace_id(), m.author_id())) {
    v1::AgentFrame f;
    auto* u = f.mutable_delivery_update();
    u->set_conversation_id(where.conversation_id());
    u->set_outbound_id(s.outbound_id());
    u->set_state(s.state());
    u->set_detail(s.detail());
    send(*a, std::move(f));
  }
}

// ------------------------------------------------------------------ routing

void Engine::enqueue(Store::Batch& b, Conversation& c, const std::string& reason) {
  const auto& s = c.summary();
  if (c.queue_seq() == 0) c.set_queue_seq(next_seq(b, "queue"));
  c.set_state(v1::store::CONVERSATION_STATE_QUEUED);
  c.clear_agent_id();
  queues_[ckey(s.workspace_id(), s.queue_id())].emplace(0, c.queue_seq(), s.conversation_id(),
                                                        s.channel());
  b.put(Cf::kQueue, queue_key(s.workspace_id(), s.queue_id(), 0, c.queue_seq()),
        s.conversation_id());
  save_conversation(b, c);
  routing_event(b, c, v1::RoutingEvent::KIND_QUEUED, {}, reason);
}

void Engine::dispatch_agent_queues(Store::Batch& b, const AgentRt& a) {
  const config::Workspace* ws = cfg_.workspace(a.workspace);
  if (a.cfg->queues.empty()) {
    for (const auto& q : ws->queues) dispatch(b, a.workspace, q.id);
  } else {
    for (const auto& q : a.cfg->queues) dispatch(b, a.workspace, q);
  }
}

void Engine::dispatch(Store::Batch& b, const std::string& ws, const std::string& queue) {
  auto qit = queues_.find(ckey(ws, queue));
  if (qit == queues_.end() || qit->second.empty()) return;
  auto& q = qit->second;
  std::vector<AgentRt*> pool;
  for (AgentRt* a : queue_agents_[ckey(ws, queue)]) {
    if (a->online()) pool.push_back(a);
  }
  auto room_left = [&] {
    for (const AgentRt* a : pool) {
      for (const auto& [ch, cap] : a->cfg->capacity) {
        if (a->has_room(ch)) return true;
      }
    }
    return false;
  };
  std::vector<AgentRt*> eligible;
  for (auto it = q.begin(); it != q.end() && room_left();) {
    const v1::Channel ch = std::get<3>(*it);
    // Skip without reading the conversation when nobody has room on its channel.
    if (std::none_of(pool.begin(), pool.end(),
                     [ch](const AgentRt* a) { return a->has_room(ch); })) {
      ++it;
      continue;
    }
    const std::string conv_id = std::get<2>(*it);
    Conversation c;
    if (!load_conversation(b, ws, conv_id, c) ||
        c.state() != v1::store::CONVERSATION_STATE_QUEUED) {
      b.del(Cf::kQueue, queue_key(ws, queue, std::get<0>(*it), std::get<1>(*it)));
      it = q.erase(it);
      continue;
    }
    eligible.clear();
    const auto& rej = c.rejected_by();
    for (AgentRt* a : pool) {
      if (!a->has_room(ch)) continue;
      if (std::find(rej.begin(), rej.end(), a->cfg->id) != rej.end()) continue;
      eligible.push_back(a);
    }
    if (eligible.empty()) {
      ++it;
      continue;
    }
    // Longest idle first; ties by id so decisions are reproducible. The trail names the
    // best few candidates in order.
    const size_t shown = std::min<size_t>(eligible.size(), 8);
    std::partial_sort(eligible.begin(), eligible.begin() + static_cast<std::ptrdiff_t>(shown),
                      eligible.end(), [](const AgentRt* x, const AgentRt* y) {
                        return std::tie(x->idle_since_ms, x->cfg->id) <
                               std::tie(y->idle_since_ms, y->cfg->id);
                      });
    std::vector<std::string> names;
    for (size_t i = 0; i < shown; ++i) names.push_back(eligible[i]->cfg->id);
    b.del(Cf::kQueue, queue_key(ws, queue, std::get<0>(*it), std::get<1>(*it)));
    it = q.erase(it);
    offer(b, c, *eligible.front(), names);
  }
}

void Engine::offer(Store::Batch& b, Conversation& c, AgentRt& a,
                   const std::vector<std::string>& candidates) {
  ++counters_.offers;
  const int64_t now = clock_.now_ms();
  c.set_offer_count(c.offer_count() + 1);
  c.set_offer_id(fmt::format("{}/{}", c.summary().conversation_id(), c.offer_count()));
  c.set_state(v1::store::CONVERSATION_STATE_OFFERED);
  c.set_agent_id(a.cfg->id);
  c.set_offer_expires_at_ms(now + cfg_.router.offer_timeout_ms);
  save_conversation(b, c);
  a.hold(c.summary().conversation_id(), c.summary().channel());
  b.put(Cf::kAgents, ckey(a.workspace, a.cfg->id) + "/" + c.summary().conversation_id(), "");
  a.idle_since_ms = now;
  save_agent(b, a);
  add_timer(c.offer_expires_at_ms(),
            {TimerKind::kOfferExpiry, a.workspace, c.summary().conversation_id(), c.offer_id()});
  routing_event(b, c, v1::RoutingEvent::KIND_OFFERED, a.cfg->id,
                "longest idle agent with free capacity", candidates);
  v1::AgentFrame f;
  *f.mutable_offer() = offer_frame(b, c);
  send(a, std::move(f));
}

void Engine::release(Store::Batch& b, AgentRt& a, const std::string& conversation_id) {
  a.drop(conversation_id);
  b.del(Cf::kAgents, ckey(a.workspace, a.cfg->id) + "/" + conversation_id);
  a.idle_since_ms = clock_.now_ms();
  save_agent(b, a);
}

void Engine::withdraw_offer(Store::Batch& b, Conversation& c, const std::string& reason,
                            bool remember) {
  const std::string agent_id = c.agent_id();
  AgentRt* a = agent(c.summary().workspace_id(), agent_id);
  if (remember) c.add_rejected_by(agent_id);
  if (a) {
    release(b, *a, c.summary().conversation_id());
    v1::AgentFrame f;
    f.mutable_offer_withdrawn()->set_offer_id(c.offer_id());
    f.mutable_offer_withdrawn()->set_reason(reason);
    send(*a, std::move(f));
  }
  routing_event(b, c, v1::RoutingEvent::KIND_OFFER_EXPIRED, agent_id, reason);
  enqueue(b, c, "re-queued: " + reason);
}

// ------------------------------------------------------------------ desks

void Engine::apply_desk(Store::Batch& b, const std::string& rid, std::string_view bytes) {
  v1::AgentFrame f;
  if (!f.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    error_to(rid, v1::Error::CODE_BAD_FRAME, "undecodable AgentFrame", {});
    return;
  }
  if (f.kind_case() == v1::AgentFrame::kHello) {
    on_hello(b, rid, f.hello());
    return;
  }
  AgentRt* a = session(rid);
  if (!a) {
    error_to(rid, v1::Error::CODE_UNKNOWN_SESSION, "no session for this connection: send Hello",
             {});
    return;
  }
  a->last_seen_ms = clock_.now_ms();
  switch (f.kind_case()) {
    case v1::AgentFrame::kHeartbeat:
      return;
    case v1::AgentFrame::kPresence:
      on_presence(b, *a, f.presence().presence());
      return;
    case v1::AgentFrame::kAccept:
      on_accept(b, *a, f.accept());
      return;
    case v1::AgentFrame::kReject:
      on_reject(b, *a, f.reject());
      return;
    case v1::AgentFrame::kReply:
      on_reply(b, *a, f.reply());
      return;
    case v1::AgentFrame::kResolve:
      on_resolve(b, *a, f.resolve());
      return;
    default:
      error_to(rid, v1::Error::CODE_INVALID, "frame kind not accepted from a desk", {});
  }
}

void Engine::on_hello(Store::Batch& b, const std::string& rid, const v1::Hello& h) {
  AgentRt* a = agent(h.workspace_id(), h.agent_id());
  if (h.protocol_version() != 1) {
    error_to(rid, v1::Error::CODE_UNAUTHORIZED,
             "unsupported protocol_version (this router speaks 1)", {});
    return;
  }
  if (!a || (!a->cfg->token.empty() && !crypto::constant_time_equal(a->cfg->token, h.token()))) {
    log_->warn("hello refused for {}/{}", h.workspace_id(), h.agent_id());
    error_to(rid, v1::Error::CODE_UNAUTHORIZED, "unknown agent or bad token", {});
    return;
  }
  const int64_t now = clock_.now_ms();
  if (a->routing_id == rid && now - a->welcomed_at_ms < cfg_.router.heartbeat_timeout_ms) {
    // The desk repeats Hello while its Welcome is on the way: another Welcome (the agent's
    // whole state) per repeat would pile up in the socket. The session stays as it is.
    a->last_seen_ms = now;
    return;
  }
  if (!a->routing_id.empty() && a->routing_id != rid) sessions_.erase(a->routing_id);
  sessions_.erase(rid);  // a connection re-saying Hello as another agent drops the old binding
  for (auto& [k, other] : agents_) {
    if (&other != a && other.routing_id == rid) other.routing_id.clear();
  }
  a->routing_id = rid;
  sessions_[rid] = ckey(a->workspace, a->cfg->id);
  a->presence = h.presence() == v1::PRESENCE_UNSPECIFIED ? v1::PRESENCE_AVAILABLE : h.presence();
  a->last_seen_ms = a->last_sent_ms = a->welcomed_at_ms = now;
  log_->info("{}/{} desk connected ({}), {} open conversations", a->workspace, a->cfg->id,
             h.desk().substr(0, 64), a->conversations.size());
  v1::AgentFrame f;
  auto* w = f.mutable_welcome();
  w->set_session_id(new_uuid());
  w->set_heartbeat_interval_ms(static_cast<uint32_t>(cfg_.router.heartbeat_interval_ms));
  w->set_heartbeat_timeout_ms(static_cast<uint32_t>(cfg_.router.heartbeat_timeout_ms));
  for (const auto& [cid, ch] : a->conversations) {
    Conversation c;
    if (!load_conversation(b, a->workspace, cid, c) || c.agent_id() != a->cfg->id) continue;
    if (c.state() == v1::store::CONVERSATION_STATE_ASSIGNED) {
      *w->add_open_conversations() = assignment(b, c, {});
    } else if (c.state() == v1::store::CONVERSATION_STATE_OFFERED) {
      *w->add_pending_offers() = offer_frame(b, c);
    }
  }
  send_to(rid, std::move(f));
  if (a->online()) dispatch_agent_queues(b, *a);
}

void Engine::on_presence(Store::Batch& b, AgentRt& a, v1::Presence p) {
  if (p == v1::PRESENCE_OFFLINE) {
    desk_gone(b, a, "desk signed off");
    return;
  }
  if (p != v1::PRESENCE_AVAILABLE && p != v1::PRESENCE_AWAY) {
    error_to(a.routing_id, v1::Error::CODE_INVALID, "unknown presence", {});
    return;
  }
  log_->info("{}/{} presence {}", a.workspace, a.cfg->id, v1::Presence_Name(p));
  a.presence = p;
  if (a.online()) dispatch_agent_queues(b, a);
}

void Engine::desk_gone(Store::Batch& b, AgentRt& a, const std::string& why) {
  log_->info("{}/{} desk offline: {}", a.workspace, a.cfg->id, why);
  sessions_.erase(a.routing_id);
  a.routing_id.clear();
  a.presence = v1::PRESENCE_OFFLINE;
  // Open offers go to someone else at once; accepted conversations stay with the agent.
  std::vector<std::string> offered;
  for (const auto& [cid, ch] : a.conversations) offered.push_back(cid);
  std::set<std::string> queues;
  for (const auto& cid : offered) {
    Conversation c;
    if (!load_conversation(b, a.workspace, cid, c)) continue;
    if (c.state() == v1::store::CONVERSATION_STATE_OFFERED && c.agent_id() == a.cfg->id) {
      withdraw_offer(b, c, "agent offline: " + why, false);
      queues.insert(c.summary().queue_id());
    }
  }
  for (const auto& q : queues) dispatch(b, a.workspace, q);
}

void Engine::on_accept(Store::Batch& b, AgentRt& a, const v1::Accept& m) {
  Conversation c;
  const std::string cid = conversation_of_offer(m.offer_id());
  if (cid.empty() || !load_conversation(b, a.workspace, cid, c)) {
    error_to(a.routing_id, v1::Error::CODE_NOT_FOUND, "unknown offer", m.offer_id());
    return;
  }
  if (c.agent_id() == a.cfg->id && c.offer_id() == m.offer_id()) {
    if (c.state() == v1::store::CONVERSATION_STATE_ASSIGNED) {
      // A repeated Accept (e.g. re-sent after a reconnect) gets the same Assignment.
      v1::AgentFrame f;
      *f.mutable_assignment() = assignment(b, c, m.offer_id());
      send(a, std::move(f));
      return;
    }
    if (c.state() == v1::store::CONVERSATION_STATE_OFFERED) {
      ++counters_.accepts;
      c.set_state(v1::store::CONVERSATION_STATE_ASSIGNED);
      c.set_accepted_count(c.accepted_count() + 1);
      save_conversation(b, c);
      std::string v;
      v1::store::Customer cust;
      const std::string hk =
          fmt::format("{}/{}:{}", a.workspace, channel_name(c.summary().channel()),
                      c.summary().customer_handle());
      if (b.get(Cf::kCustomers, hk, &v) && cust.ParseFromString(v)) {
        cust.set_last_agent_id(a.cfg->id);
        b.put(Cf::kCustomers, hk, cust.SerializeAsString());
      }
      routing_event(b, c, v1::RoutingEvent::KIND_ACCEPTED, a.cfg->id, "offer accepted");
      v1::AgentFrame f;
      *f.mutable_assignment() = assignment(b, c, m.offer_id());
      send(a, std::move(f));
      return;
    }
  }
  v1::AgentFrame f;
  f.mutable_offer_withdrawn()->set_offer_id(m.offer_id());
  f.mutable_offer_withdrawn()->set_reason("offer is no longer valid");
  send(a, std::move(f));
}

void Engine::on_reject(Store::Batch& b, AgentRt& a, const v1::Reject& m) {
  Conversation c;
  const std::string cid = conversation_of_offer(m.offer_id());
  if (cid.empty() || !load_conversation(b, a.workspace, cid, c) ||
      c.state() != v1::store::CONVERSATION_STATE_OFFERED || c.offer_id() != m.offer_id() ||
      c.agent_id() != a.cfg->id) {
    return;  // stale reject: nothing to undo
  }
  release(b, a, cid);
  c.add_rejected_by(a.cfg->id);
  routing_event(b, c, v1::RoutingEvent::KIND_REJECTED, a.cfg->id,
                "rejected: " + m.reason().substr(0, 200));
  enqueue(b, c, "re-queued after rejection");
  dispatch(b, a.workspace, c.summary().queue_id());
}

void Engine::on_reply(Store::Batch& b, AgentRt& a, const v1::Reply& m) {
  if (m.reply_id().empty() || (m.text_body().empty() && m.attachments().empty())) {
    error_to(a.routing_id, v1::Error::CODE_INVALID,
             "reply needs reply_id and a text_body or attachments", m.reply_id());
    return;
  }
  const std::string dk = fmt::format("r/{}/{}/{}", a.workspace, a.cfg->id, m.reply_id());
  std::string v;
  v1::store::DedupEntry d;
  if (b.get(Cf::kDedup, dk, &v) && d.ParseFromString(v)) {
    v1::AgentFrame f;  // a re-sent Reply: acknowledge again, publish nothing
    auto* ack = f.mutable_reply_ack();
    ack->set_conversation_id(d.conversation_id());
    ack->set_reply_id(m.reply_id());
    ack->set_outbound_id(d.outbound_id());
    ack->set_seq(d.seq());
    send(a, std::move(f));
    return;
  }
  Conversation c;
  if (!load_conversation(b, a.workspace, m.conversation_id(), c)) {
    error_to(a.routing_id, v1::Error::CODE_NOT_FOUND, "unknown conversation", m.conversation_id());
    return;
  }
  if (c.state() != v1::store::CONVERSATION_STATE_ASSIGNED || c.agent_id() != a.cfg->id) {
    error_to(a.routing_id, v1::Error::CODE_CONFLICT, "conversation is not assigned to you",
             m.conversation_id());
    return;
  }
  ++counters_.replies;
  const auto& s = c.summary();
  v1::ConversationMessage cm;
  cm.set_author(v1::AUTHOR_AGENT);
  cm.set_author_id(a.cfg->id);
  cm.set_text_body(m.text_body());
  cm.set_html_body(m.html_body());
  *cm.mutable_attachments() = m.attachments();
  uint64_t seq = c.message_count() + 1;
  const std::string outbound_id =
      fmt::format("{}/{}/{}", s.workspace_id(), s.conversation_id(), seq);
  cm.set_outbound_id(outbound_id);
  append_message(b, c, cm);
  save_conversation(b, c);

  v1::OutboundMessage out;
  out.set_outbound_id(outbound_id);
  out.set_workspace_id(s.workspace_id());
  out.set_inbox_id(s.inbox_id());
  out.set_channel(s.channel());
  out.set_conversation_id(s.conversation_id());
  out.set_customer_handle(s.customer_handle());
  out.set_agent_id(a.cfg->id);
  out.set_agent_display_name(a.cfg->name);
  if (!s.subject().empty())
    out.set_subject(s.subject().rfind("Re:", 0) == 0 ? s.subject() : "Re: " + s.subject());
  out.set_text_body(m.text_body());
  out.set_html_body(m.html_body());
  *out.mutable_attachments() = m.attachments();
  // Thread keys are <ws>/<inbox>/t:<integrator thread id> or <ws>/<inbox>/c:<customer>.
  const std::string& tk = c.thread_key();
  if (auto p2 = tk.find('/', tk.find('/') + 1);
      p2 != std::string::npos && tk.compare(p2 + 1, 2, "t:") == 0) {
    out.mutable_thread()->set_thread_id(tk.substr(p2 + 3));
  }
  out.set_created_at_ms(clock_.now_ms());
  produce(b, cfg_.kafka.topics.outbound(s.channel()), s.workspace_id(), out.SerializeAsString());

  d.set_conversation_id(s.conversation_id());
  d.set_seq(seq);
  d.set_outbound_id(outbound_id);
  b.put(Cf::kDedup, dk, d.SerializeAsString());
  b.put(Cf::kOutboundIndex, ckey(s.workspace_id(), outbound_id), d.SerializeAsString());
  routing_event(b, c, v1::RoutingEvent::KIND_REPLIED, a.cfg->id,
                fmt::format("reply {} as outbound {}", seq, outbound_id));

  v1::AgentFrame f;
  auto* ack = f.mutable_reply_ack();
  ack->set_conversation_id(s.conversation_id());
  ack->set_reply_id(m.reply_id());
  ack->set_outbound_id(outbound_id);
  ack->set_seq(seq);
  send(a, std::move(f));
}

void Engine::on_resolve(Store::Batch& b, AgentRt& a, const v1::Resolve& m) {
  Conversation c;
  if (!load_conversation(b, a.workspace, m.conversation_id(), c)) {
    error_to(a.routing_id, v1::Error::CODE_NOT_FOUND, "unknown conversation", m.conversation_id());
    return;
  }
  if (c.state() == v1::store::CONVERSATION_STATE_RESOLVED && c.agent_id() == a.cfg->id) {
    v1::AgentFrame f;
    f.mutable_resolved()->set_conversation_id(m.conversation_id());
    send(a, std::move(f));
    return;
  }
  if (c.state() != v1::store::CONVERSATION_STATE_ASSIGNED || c.agent_id() != a.cfg->id) {
    error_to(a.routing_id, v1::Error::CODE_CONFLICT, "conversation is not assigned to you",
             m.conversation_id());
    return;
  }
  ++counters_.resolves;
  c.set_state(v1::store::CONVERSATION_STATE_RESOLVED);
  c.set_resolved_at_ms(clock_.now_ms());
  std::string v;
  if (b.get(Cf::kThreads, c.thread_key(), &v) && v == c.summary().conversation_id())
    b.del(Cf::kThreads, c.thread_key());
  save_conversation(b, c);
  release(b, a, c.summary().conversation_id());
  routing_event(b, c, v1::RoutingEvent::KIND_RESOLVED, a.cfg->id, "resolved by agent");
  v1::AgentFrame f;
  f.mutable_resolved()->set_conversation_id(m.conversation_id());
  send(a, std::move(f));
  dispatch_agent_queues(b, a);
}

// ------------------------------------------------------------------ timers

int64_t Engine::next_timer_ms() const {
  return timers_.empty() ? INT64_MAX : timers_.begin()->first;
}

void Engine::apply_timers(Store::Batch& b) {
  const int64_t now = clock_.now_ms();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    Timer t = std::move(timers_.begin()->second);
    timers_.erase(timers_.begin());
    switch (t.kind) {
      case TimerKind::kOfferExpiry: {
        Conversation c;
        if (load_conversation(b, t.workspace, t.id, c) &&
            c.state() == v1::store::CONVERSATION_STATE_OFFERED && c.offer_id() == t.ref) {
          withdraw_offer(b, c, "offer expired", true);
          dispatch(b, t.workspace, c.summary().queue_id());
        }
        break;
      }
      case TimerKind::kReconnectGrace: {
        for (auto& [k, a] : agents_) {
          if (a.routing_id.empty() && !a.conversations.empty())
            desk_gone(b, a, "did not reconnect after restart");
        }
        break;
      }
      case TimerKind::kHeartbeat: {
        for (auto& [k, a] : agents_) {
          if (a.routing_id.empty()) continue;
          if (now - a.last_seen_ms > cfg_.router.heartbeat_timeout_ms) {
            desk_gone(b, a, fmt::format("no heartbeat for {} ms", now - a.last_seen_ms));
            continue;
          }
          v1::AgentFrame f;
          f.mutable_heartbeat();
          send(a, std::move(f));
        }
        add_timer(now + cfg_.router.heartbeat_interval_ms, {TimerKind::kHeartbeat, {}, {}, {}});
        break;
      }
    }
  }
}

}  // namespace omniroute::router
