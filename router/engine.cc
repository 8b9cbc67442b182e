#include "router/engine.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include <fmt/format.h>

#include "common/crypto.h"
#include "common/ids.h"
#include "router/classifier.h"

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
std::string queue_key(const std::string& ws, const std::string& queue, int prio, int64_t due,
                      uint64_t seq) {
  return fmt::format("{}/{}/{}/{:013}/{:020}", ws, queue, 9 - prio, std::max<int64_t>(due, 0), seq);
}
std::string trail_key(const std::string& ws, const std::string& conv, uint64_t seq) {
  return fmt::format("{}/{}/{:020}", ws, conv, seq);
}
int64_t sla_due_of(const Conversation& c, const std::string& target) {
  if (target == "first_response") return c.first_response_due_ms();
  if (target == "next_response") return c.next_response_due_ms();
  return c.resolution_due_ms();
}
std::string offset_key(const std::string& topic, int32_t partition) {
  return fmt::format("offset/{}/{}", topic, partition);
}
// Offer ids are "<conversation>/<n>", so the conversation is known from the id alone.
std::string conversation_of_offer(const std::string& offer_id) {
  auto slash = offer_id.rfind('/');
  return slash == std::string::npos ? std::string() : offer_id.substr(0, slash);
}
// Whether `agent` is offered `c` right now (alone or in a parallel offer).
bool in_round(const v1::store::Conversation& c, const std::string& agent) {
  return c.state() == v1::store::CONVERSATION_STATE_OFFERED &&
         (c.agent_id() == agent || std::find(c.also_offered().begin(), c.also_offered().end(),
                                             agent) != c.also_offered().end());
}
// Everyone offered `c` in the current round, the primary first.
std::vector<std::string> round_of(const v1::store::Conversation& c) {
  std::vector<std::string> out;
  if (!c.agent_id().empty()) out.push_back(c.agent_id());
  for (const auto& a : c.also_offered()) out.push_back(a);
  return out;
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
    : cfg_(&cfg), store_(store), clock_(clock), log_(log::get("router")), customers_(store) {}

// ------------------------------------------------------------------ loading

void Engine::index_config() {
  queue_cfgs_.clear();
  queue_agents_.clear();
  for (const auto& ws : cfg_->workspaces)
    for (const auto& q : ws.queues) queue_cfgs_[ckey(ws.id, q.id)] = &q;
  // Who serves which queue, so a decision looks at those agents only. An agent without a
  // queue list serves every queue of its workspace.
  for (auto& [k, a] : agents_) {
    const config::Workspace* ws = cfg_->workspace(a.workspace);
    if (a.cfg->queues.empty()) {
      for (const auto& q : ws->queues) queue_agents_[ckey(a.workspace, q.id)].push_back(&a);
    } else {
      for (const auto& q : a.cfg->queues) queue_agents_[ckey(a.workspace, q)].push_back(&a);
    }
  }
}

std::string Engine::reconfigure(Store::Batch& b, std::shared_ptr<const config::Config> next) {
  // What the new config may not drop: queues with waiting conversations, agents holding
  // conversations. Refused as a whole, so the running config stays consistent.
  std::vector<std::string> problems;
  for (const auto& [key, waiting] : queues_) {
    if (waiting.empty()) continue;
    const auto slash = key.find('/');
    const config::Workspace* ws = next->workspace(key.substr(0, slash));
    if (!ws || !ws->queue(key.substr(slash + 1)))
      problems.push_back(fmt::format("queue {} has {} waiting conversations", key, waiting.size()));
  }
  for (const auto& [key, a] : agents_) {
    const config::Workspace* ws = next->workspace(a.workspace);
    if ((!ws || !ws->agent(a.cfg->id)) && !a.conversations.empty())
      problems.push_back(
          fmt::format("agent {} holds {} conversations", key, a.conversations.size()));
  }
  if (!problems.empty())
    return fmt::format("{}: transfer or finish them first", fmt::join(problems, "; "));

  const int64_t now = clock_.now_ms();
  cfg_ = next.get();
  // Agents: keep the runtime state (presence, session, load) of those that stay.
  for (auto it = agents_.begin(); it != agents_.end();) {
    AgentRt& a = it->second;
    const config::Workspace* ws = cfg_->workspace(a.workspace);
    const config::Agent* ac = ws ? ws->agent(a.cfg->id) : nullptr;
    if (!ac) {
      if (!a.routing_id.empty()) {
        error_to(a.routing_id, v1::Error::CODE_UNAUTHORIZED, "agent removed from the configuration",
                 {});
        sessions_.erase(a.routing_id);
      }
      log_->info("{} removed by the new configuration", it->first);
      it = agents_.erase(it);
      continue;
    }
    a.cfg = ac;
    a.set_capacity();
    ++it;
  }
  for (const auto& ws : cfg_->workspaces) {
    for (const auto& ac : ws.agents) {
      if (agents_.count(ckey(ws.id, ac.id))) continue;
      AgentRt rt;
      rt.cfg = &ac;
      rt.set_capacity();
      rt.workspace = ws.id;
      std::string v;
      v1::store::Agent rec;
      if (b.get(Cf::kAgents, ckey(ws.id, ac.id), &v) && rec.ParseFromString(v))
        rt.idle_since_ms = rec.idle_since_ms();
      agents_[ckey(ws.id, ac.id)] = std::move(rt);
      log_->info("{}/{} added by the new configuration", ws.id, ac.id);
    }
  }
  index_config();
  end_revoked_sessions(b);
  // Shift boundaries follow the new schedules.
  for (auto it = timers_.begin(); it != timers_.end();)
    it = it->second.kind == TimerKind::kShift ? timers_.erase(it) : std::next(it);
  for (auto& [k, a] : agents_) arm_shift(a, now);
  owned_cfg_ = std::move(next);  // the previous config is released only now
  // Capacity, skills, shifts or agents may have changed: whatever can move now, moves.
  std::vector<std::pair<std::string, std::string>> waiting;
  for (const auto& [key, q] : queues_) {
    if (q.empty()) continue;
    const auto slash = key.find('/');
    waiting.emplace_back(key.substr(0, slash), key.substr(slash + 1));
  }
  for (const auto& [ws, q] : waiting) dispatch(b, ws, q);
  return "";
}

void Engine::load() {
  const int64_t now = clock_.now_ms();
  if (std::string err = Customers::upgrade(store_); !err.empty())
    log_->error("upgrading stored customers failed (linking may miss old handles): {}", err);
  for (const auto& ws : cfg_->workspaces) {
    for (const auto& a : ws.agents) {
      AgentRt rt;
      rt.cfg = &a;
      rt.set_capacity();
      rt.workspace = ws.id;
      rt.idle_since_ms = 0;
      std::string v;
      v1::store::Agent rec;
      if (store_.get(Cf::kAgents, ckey(ws.id, a.id), &v) && rec.ParseFromString(v)) {
        rt.idle_since_ms = rec.idle_since_ms();
        rt.offline_since_ms = rec.offline_since_ms();
      }
      const std::string held = ckey(ws.id, a.id) + "/";
      store_.scan(Cf::kAgents, held, [&](std::string_view k, std::string_view) {
        const std::string cid(k.substr(held.size()));
        std::string cv;
        Conversation c;
        if (!store_.get(Cf::kConversations, ckey(ws.id, cid), &cv) || !c.ParseFromString(cv))
          return true;
        rt.hold(cid, c.summary().channel());
        return true;
      });
      agents_[ckey(ws.id, a.id)] = std::move(rt);
    }
  }
  index_config();
  size_t queued = 0;
  store_.scan(Cf::kQueue, "", [&](std::string_view k, std::string_view v) {
    // <ws>/<queue>/<9-prio>/<due>/<seq>
    std::string key(k);
    auto p1 = key.find('/'), p2 = key.find('/', p1 + 1), p3 = key.find('/', p2 + 1),
         p4 = key.find('/', p3 + 1);
    if (p4 == std::string::npos) return true;
    const int inv_prio = std::stoi(key.substr(p2 + 1, p3 - p2 - 1));
    const int64_t due = std::stoll(key.substr(p3 + 1, p4 - p3 - 1));
    const uint64_t seq = std::stoull(key.substr(p4 + 1));
    std::string cv;
    Conversation c;
    const std::string ws = key.substr(0, p1);
    if (!store_.get(Cf::kConversations, ckey(ws, std::string(v)), &cv) || !c.ParseFromString(cv)) {
      return true;
    }
    queues_[key.substr(0, p2)].emplace(inv_prio - 9, due, seq, std::string(v),
                                       c.summary().channel());
    ++queued;
    return true;
  });
  size_t durable = 0;
  store_.scan(Cf::kTimers, "", [&](std::string_view k, std::string_view) {
    // <due:013>/<kind>/<ws>/<id>/<ref>
    std::string key(k);
    size_t p[4];
    size_t from = 0;
    for (auto& x : p) {
      x = key.find('/', from);
      if (x == std::string::npos) return true;
      from = x + 1;
    }
    Timer t;
    t.kind = static_cast<TimerKind>(std::stoi(key.substr(p[0] + 1, p[1] - p[0] - 1)));
    t.workspace = key.substr(p[1] + 1, p[2] - p[1] - 1);
    t.id = key.substr(p[2] + 1, p[3] - p[2] - 1);
    t.ref = key.substr(p[3] + 1);
    t.key = key;
    add_timer(std::stoll(key.substr(0, p[0])), std::move(t));
    ++durable;
    return true;
  });
  for (auto& [k, a] : agents_) arm_shift(a, now);
  store_.scan(Cf::kMeta, "rr/", [&](std::string_view k, std::string_view v) {
    rr_cursor_[std::string(k.substr(3))] = std::string(v);
    return true;
  });
  // Desks get one heartbeat timeout to come back after a restart before their open
  // offers go to someone else.
  add_timer(now + cfg_->router.heartbeat_timeout_ms, {TimerKind::kReconnectGrace, {}, {}, {}});
  add_timer(now + cfg_->router.heartbeat_interval_ms, {TimerKind::kHeartbeat, {}, {}, {}});
  log_->info("state loaded: {} agents, {} queued conversations, {} timers", agents_.size(), queued,
             durable);
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

std::optional<Store::CommitError> Engine::try_commit(Store::Batch& b) {
  for (const auto& name : dirty_seqs_) b.put(Cf::kMeta, "seq/" + name, std::to_string(seqs_[name]));
  dirty_seqs_.clear();
  return store_.try_commit(b);
}

std::string Engine::commit(Store::Batch& b) {
  auto e = try_commit(b);
  return e ? e->message : std::string();
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
  rec.set_offline_since_ms(a.offline_since_ms);
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
  const uint64_t max = static_cast<uint64_t>(cfg_->router.max_history);
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
  // The customer's earlier conversations, on any channel of the linked group.
  const size_t max_conv = static_cast<size_t>(cfg_->router.customer_history_conversations);
  v1::store::Customer root;
  const std::string& ws = c.summary().workspace_id();
  if (max_conv > 0 && customers_.root(b, ws, c.summary().customer_id(), root)) {
    const auto ids =
        customers_.conversations(ws, customers_.group(b, ws, root.customer_id()), max_conv + 1);
    for (const auto& id : ids) {
      Conversation past;
      if (id == c.summary().conversation_id() || !load_conversation(b, ws, id, past)) continue;
      if (static_cast<size_t>(a.customer_history_size()) >= max_conv) break;
      auto* p = a.add_customer_history();
      *p->mutable_conversation() = past.summary();
      p->set_state(state_name(past.state()));
      p->set_agent_id(past.agent_id());
      const uint64_t n = past.message_count();
      const uint64_t keep = static_cast<uint64_t>(cfg_->router.customer_history_messages);
      const uint64_t first = n > keep ? n - keep + 1 : 1;
      p->set_history_truncated(first > 1);
      for (uint64_t s = first; s <= n; ++s) {
        std::string v;
        v1::ConversationMessage m;
        if (b.get(Cf::kMessages, msg_key(ws, id, s), &v) && m.ParseFromString(v))
          *p->add_history() = std::move(m);
      }
    }
  }
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
  e.set_at_ms(clock_.now_ms());
  e.set_channel(c.summary().channel());
  e.set_priority(c.priority());
  e.set_language(c.language());
  // Decisions at info; per-message events (replies, delivery states) at debug, so a busy
  // router does not spend itself on logging.
  const auto level =
      kind == v1::RoutingEvent::KIND_REPLIED || kind == v1::RoutingEvent::KIND_DELIVERY
          ? spdlog::level::debug
          : spdlog::level::info;
  if (log_->should_log(level)) {
    log_->log(level, "{}/{} {} {}{}{}", c.summary().workspace_id(), c.summary().conversation_id(),
              v1::RoutingEvent::Kind_Name(kind).substr(5),
              agent_id.empty() ? "" : "agent=" + agent_id + " ", reason,
              e.candidates().empty()
                  ? ""
                  : fmt::format(" candidates=[{}]", fmt::join(e.candidates(), ",")));
  }
  const std::string value = e.SerializeAsString();
  // Decisions also go to the conversation's trail, for `omniroute inspect conversation`.
  if (level == spdlog::level::info && !c.summary().conversation_id().empty()) {
    b.put(Cf::kTrail, trail_key(c.summary().workspace_id(), c.summary().conversation_id(), seq),
          value);
  }
  produce(b, cfg_->kafka.topics.routing, c.summary().workspace_id(), value);
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
  produce(b, cfg_->kafka.topics.dlq, std::string(key.substr(0, 1024)), dl.SerializeAsString());
}

// ------------------------------------------------------------------ inbound

void Engine::apply_record(Store::Batch& b, const std::string& topic, int32_t partition,
                          int64_t offset, std::string_view key, std::string_view value) {
  set_offset(b, topic, partition, offset + 1);
  if (static_cast<int64_t>(value.size()) > cfg_->router.max_record_bytes) {
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
      const config::Workspace* ws = cfg_->workspace(m.workspace_id());
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
      on_signal(b, env.signal());  // typing reaches the agent; never stored
      return;
    default:
      dead_letter(b, topic, partition, offset, key, value, "Envelope without payload");
  }
}

void Engine::on_message(Store::Batch& b, const v1::InboundMessage& m) {
  const std::string& ws = m.workspace_id();
  const config::Inbox* inbox = cfg_->workspace(ws)->inbox(m.inbox_id());
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
  // A bounce of one of our messages is a delivery status, not a conversation.
  if (m.auto_generated() == v1::AUTO_GENERATED_BOUNCE) {
    auto orig = m.provider_metadata().find("bounce_original_message_id");
    if (orig != m.provider_metadata().end() && orig->second.rfind("outbound:", 0) == 0) {
      auto get = [&](const char* k) {
        auto it = m.provider_metadata().find(k);
        return it == m.provider_metadata().end() ? std::string() : it->second;
      };
      v1::DeliveryStatus st;
      st.set_workspace_id(ws);
      st.set_inbox_id(m.inbox_id());
      st.set_channel(inbox->channel);
      st.set_outbound_id(orig->second.substr(9));
      st.set_state(v1::DeliveryStatus::STATE_FAILED);
      st.set_detail(
          fmt::format("bounced{}{}", get("bounce_status").empty() ? "" : " " + get("bounce_status"),
                      get("bounce_diagnostic").empty() ? "" : ": " + get("bounce_diagnostic")));
      st.set_at_ms(now);
      b.put(Cf::kDedup, dedup_key, v1::store::DedupEntry().SerializeAsString());
      on_delivery_status(b, st);
      return;
    }
  }

  // Identity: the channel handle resolves to a customer; verified identities (the handle
  // itself on email and phone channels, and what the connector vouches for) link customers
  // across channels. The group's root holds the shared profile.
  Customers::Resolved who = customers_.resolve(
      b, ws, fmt::format("{}:{}", channel_name(inbox->channel), m.customer_handle()), now,
      [&] { return fmt::format("U{}", next_seq(b, "customer")); });
  std::vector<std::string> link_notes;
  auto observe = [&](const v1::Identity& id) {
    bool linked = false;
    std::string what = customers_.observe(b, ws, who, id, &linked);
    if (linked)
      link_notes.push_back(std::move(what));
    else if (!what.empty())
      log_->debug("{}: {}", ws, what);
  };
  {
    v1::Identity own;
    own.set_verified(!m.handle_unverified());
    own.set_value(m.customer_handle());
    if (inbox->channel == v1::CHANNEL_EMAIL) own.set_kind(v1::Identity::KIND_EMAIL);
    if (inbox->channel == v1::CHANNEL_SMS || inbox->channel == v1::CHANNEL_WHATSAPP)
      own.set_kind(v1::Identity::KIND_PHONE);
    if (own.kind() != v1::Identity::KIND_UNSPECIFIED) observe(own);
    int n = 0;
    for (const auto& id : m.identities())
      if (++n <= Customers::kMaxIdentities) observe(id);
  }
  v1::store::Customer& customer = who.root;  // the shared profile
  bool customer_changed = false;
  if (!m.customer_display_name().empty() && m.customer_display_name() != customer.display_name()) {
    customer.set_display_name(m.customer_display_name());
    customer_changed = true;
  }
  if (!m.language().empty() && config::primary_language(m.language()) != customer.language()) {
    customer.set_language(config::primary_language(m.language()));
    customer_changed = true;
  }
  for (const auto& [k, val] : m.customer_attributes()) {
    auto it = customer.attributes().find(k);
    if (customer.attributes_size() >= 64 && it == customer.attributes().end()) break;
    if (it == customer.attributes().end() || it->second != val) {
      (*customer.mutable_attributes())[k.substr(0, 64)] = val.substr(0, 256);
      customer_changed = true;
    }
  }
  if (customer_changed) customers_.save(b, customer);

  // Threading. Email: the Message-IDs it replies to, or the ticket tag (email_thread);
  // a resolved conversation reopens within the workspace's reopen window. Elsewhere: the
  // integrator's thread id, else one open conversation per customer and inbox.
  const bool email = inbox->channel == v1::CHANNEL_EMAIL;
  const std::string thread_key = m.thread().thread_id().empty() ? "c:" + who.direct.customer_id()
                                                                : "t:" + m.thread().thread_id();
  const std::string tkey = fmt::format("{}/{}/{}", ws, m.inbox_id(), thread_key);
  Conversation c;
  bool is_new = true, reopen = false;
  std::string previous, thread_note;
  if (email) {
    const std::string found = email_thread(b, ws, m, who.root.customer_id(), &thread_note);
    if (!found.empty() && load_conversation(b, ws, found, c)) {
      if (c.state() != v1::store::CONVERSATION_STATE_RESOLVED) {
        is_new = false;
      } else if (now - c.resolved_at_ms() <= cfg_->workspace(ws)->reopen_window_ms) {
        is_new = false;
        reopen = true;
      } else {
        previous = found;
      }
    }
  } else if (b.get(Cf::kThreads, tkey, &v) && load_conversation(b, ws, v, c) &&
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
    s->set_customer_id(who.direct.customer_id());
    s->set_customer_handle(m.customer_handle());
    s->set_customer_display_name(customer.display_name());
    s->set_subject(m.subject());
    s->set_queue_id(inbox->queue);
    s->set_created_at_ms(now);
    if (!email) {
      c.set_thread_key(tkey);
      b.put(Cf::kThreads, tkey, s->conversation_id());
    }
    c.set_previous_conversation_id(previous);
  } else if (!reopen && c.first_response_at_ms() > 0 && c.next_response_due_ms() == 0 &&
             c.state() != v1::store::CONVERSATION_STATE_RESOLVED) {
    // The customer wrote again after an answer: the next-response clock starts.
    const config::SlaPolicy* pol = policy_of(c);
    if (pol && pol->next_response_ms > 0) {
      c.set_next_response_due_ms(now + pol->next_response_ms);
      arm_sla(b, c, "next_response", now, c.next_response_due_ms(), pol->next_response_ms);
    }
  }
  v1::ConversationMessage cm;
  cm.set_author(v1::AUTHOR_CUSTOMER);
  cm.set_author_id(who.direct.customer_id());
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
  // Email: every message's Message-ID leads back to its conversation (replies to it,
  // references to it).
  if (email && m.external_message_id().rfind("sha256:", 0) != 0)
    b.put(Cf::kThreads, fmt::format("{}/m:{}", ws, m.external_message_id()),
          c.summary().conversation_id());

  for (const auto& what : link_notes) {
    v1::RoutingEvent::Kind kind = v1::RoutingEvent::KIND_LINKED;
    routing_event(b, c, kind, {}, what, {}, who.direct.customer_id());
  }
  if (!thread_note.empty()) routing_event(b, c, v1::RoutingEvent::KIND_MESSAGE, {}, thread_note);
  if (is_new) {
    customers_.add_conversation(b, ws, who.direct.customer_id(), now,
                                c.summary().conversation_id());
    if (!previous.empty())
      routing_event(b, c, v1::RoutingEvent::KIND_MESSAGE, {},
                    fmt::format("follows {} (resolved before the reopen window)", previous));
    open_conversation(b, c, m, customer);
    return;
  }
  if (reopen) {
    reopen_conversation(b, c);
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

std::string Engine::email_thread(Store::Batch& b, const std::string& ws,
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
    return load_conversation(b, ws, conv, c) &&
           customers_.root(b, ws, c.summary().customer_id(), root) &&
           root.customer_id() == customer_root;
  };
  for (const auto& id : ids) {
    std::string conv;
    if (id.rfind("outbound:", 0) == 0) {
      v1::store::DedupEntry d;
      if (b.get(Cf::kOutboundIndex, ckey(ws, id.substr(9)), &v) && d.ParseFromString(v))
        conv = d.conversation_id();
    } else if (b.get(Cf::kThreads, fmt::format("{}/m:{}", ws, id), &v)) {
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

void Engine::reopen_conversation(Store::Batch& b, Conversation& c) {
  const int64_t now = clock_.now_ms();
  const std::string ws = c.summary().workspace_id();
  const std::string last_agent = c.agent_id();
  routing_event(b, c, v1::RoutingEvent::KIND_REOPENED, last_agent,
                fmt::format("customer replied {} s after it was resolved",
                            (now - c.resolved_at_ms()) / 1000));
  c.set_reopen_count(c.reopen_count() + 1);
  c.set_resolved_at_ms(0);
  c.clear_rejected_by();
  c.clear_extra_queues();
  c.set_overflow_stage(0);
  arm_overflow(b, c, now);
  // With the same agent if available: they rank first, and the queue's sticky wait applies.
  const config::Queue* q = queue_cfg(ws, c.summary().queue_id());
  if (!last_agent.empty() && agent(ws, last_agent)) {
    c.set_sticky_agent_id(last_agent);
    c.set_sticky_until_ms(now + (q ? q->sticky_wait_ms : 0));
    if (q && q->sticky_wait_ms > 0)
      add_durable_timer(b, c.sticky_until_ms(),
                        {TimerKind::kSticky,
                         ws,
                         c.summary().conversation_id(),
                         std::to_string(c.sticky_until_ms()),
                         {}});
  }
  // The customer waits for an answer again.
  if (const config::SlaPolicy* pol = policy_of(c)) {
    const int64_t target =
        pol->next_response_ms > 0 ? pol->next_response_ms : pol->first_response_ms;
    if (target > 0) {
      c.set_next_response_due_ms(now + target);
      arm_sla(b, c, "next_response", now, c.next_response_due_ms(), target);
    }
  }
  c.set_queue_due_ms(c.next_response_due_ms() > 0 ? c.next_response_due_ms()
                                                  : INT64_C(9999999999999));
  enqueue(b, c, "reopened by the customer's reply");
  dispatch(b, ws, c.summary().queue_id());
}

void Engine::substitute(std::string& text, const std::string& var, const std::string& value) {
  for (size_t at = text.find(var); at != std::string::npos; at = text.find(var, at + value.size()))
    text.replace(at, var.size(), value);
}

void Engine::automatic_message(Store::Batch& b, Conversation& c, const v1::InboundMessage& m,
                               const std::string& text) {
  const auto& s = c.summary();
  const uint64_t seq = c.message_count() + 1;
  const std::string outbound_id =
      fmt::format("{}/{}/{}", s.workspace_id(), s.conversation_id(), seq);
  v1::ConversationMessage cm;
  cm.set_author(v1::AUTHOR_SYSTEM);
  cm.set_text_body(text);
  cm.set_outbound_id(outbound_id);
  append_message(b, c, cm);
  v1::OutboundMessage out;
  out.set_outbound_id(outbound_id);
  out.set_workspace_id(s.workspace_id());
  out.set_inbox_id(s.inbox_id());
  out.set_channel(s.channel());
  out.set_conversation_id(s.conversation_id());
  out.set_customer_handle(s.customer_handle());
  out.set_text_body(text);
  out.set_in_reply_to_external_id(m.external_message_id());
  out.set_automatic(true);
  out.set_created_at_ms(clock_.now_ms());
  if (!s.subject().empty())
    out.set_subject(s.subject().rfind("Re:", 0) == 0 ? s.subject() : "Re: " + s.subject());
  if (s.channel() == v1::CHANNEL_EMAIL) email_threading(b, c, out);
  produce(b, cfg_->kafka.topics.outbound(s.channel()), s.workspace_id(), out.SerializeAsString());
  v1::store::DedupEntry d;
  d.set_conversation_id(s.conversation_id());
  d.set_seq(seq);
  d.set_outbound_id(outbound_id);
  b.put(Cf::kOutboundIndex, ckey(s.workspace_id(), outbound_id), d.SerializeAsString());
  ++counters_.auto_replies;
}

void Engine::open_conversation(Store::Batch& b, Conversation& c, const v1::InboundMessage& m,
                               v1::store::Customer& customer) {
  const std::string& ws_id = m.workspace_id();
  const config::Workspace& ws = *cfg_->workspace(ws_id);
  const config::Inbox& inbox = *ws.inbox(m.inbox_id());
  const int64_t now = clock_.now_ms();
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
    customers_.save(b, customer);
  }
  routing_event(b, c, v1::RoutingEvent::KIND_OPENED, {},
                "new conversation from " + channel_name(inbox.channel));
  routing_event(b, c, v1::RoutingEvent::KIND_CLASSIFIED, {}, cl.reason);

  // SLA targets of the first matching policy.
  if (const config::SlaPolicy* pol = ws.sla_for(inbox.channel, c.priority())) {
    c.set_sla_policy(pol->name);
    if (pol->first_response_ms > 0) {
      c.set_first_response_due_ms(now + pol->first_response_ms);
      arm_sla(b, c, "first_response", now, c.first_response_due_ms(), pol->first_response_ms);
    }
    if (pol->resolution_ms > 0) {
      c.set_resolution_due_ms(now + pol->resolution_ms);
      arm_sla(b, c, "resolution", now, c.resolution_due_ms(), pol->resolution_ms);
    }
  }

  // Outside business hours: tell the customer when they will be answered, once.
  if (!ws.hours->open_at(now) && !c.closed_reply_sent() &&
      m.auto_generated() == v1::AUTO_GENERATED_NONE) {  // never answer a machine: no loops
    auto tpl = ws.closed_replies.find(c.language());
    if (tpl == ws.closed_replies.end()) tpl = ws.closed_replies.find(ws.default_language);
    if (tpl != ws.closed_replies.end()) {
      const int64_t opens = ws.hours->next_open(now);
      std::string text = tpl->second;
      substitute(text, "{opens_at}", opens == INT64_MAX ? "" : ws.hours->local_string(opens));
      substitute(text, "{reference}", c.summary().conversation_id());
      automatic_message(b, c, m, text);
      c.set_closed_reply_sent(true);
      routing_event(b, c, v1::RoutingEvent::KIND_AUTO_REPLY, {},
                    fmt::format("outside business hours ({}); opens {}", ws.hours->timezone(),
                                opens == INT64_MAX ? "never" : ws.hours->local_string(opens)));
    }
  }
  // The inbox's acknowledgement: the reference and when the customer will be answered
  // (never to a machine, at most one per customer per window, not on top of the
  // closed-hours reply).
  if (!inbox.auto_acknowledge.empty() && !c.closed_reply_sent() &&
      m.auto_generated() == v1::AUTO_GENERATED_NONE &&
      (customer.last_auto_ack_ms() == 0 ||
       now - customer.last_auto_ack_ms() >= inbox.auto_acknowledge_window_ms)) {
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
    automatic_message(b, c, m, text);
    customer.set_last_auto_ack_ms(now);
    customers_.save(b, customer);
    routing_event(b, c, v1::RoutingEvent::KIND_AUTO_REPLY, {},
                  fmt::format("acknowledged automatically in {}", tpl->first));
  }

  // Sticky: the agent who served this customer recently gets it, waited for a while.
  const config::Queue* q = ws.queue(cl.queue);
  if (q && q->sticky_window_ms > 0 && !customer.last_agent_id().empty() &&
      now - customer.last_served_ms() <= q->sticky_window_ms &&
      agent(ws_id, customer.last_agent_id())) {
    c.set_sticky_agent_id(customer.last_agent_id());
    c.set_sticky_until_ms(now + q->sticky_wait_ms);
    if (q->sticky_wait_ms > 0) {
      add_durable_timer(b, c.sticky_until_ms(),
                        {TimerKind::kSticky,
                         ws_id,
                         c.summary().conversation_id(),
                         std::to_string(c.sticky_until_ms()),
                         {}});
    }
  }
  // Overflow steps, counted from the moment it entered the queue.
  arm_overflow(b, c, now);
  c.set_queue_due_ms(c.first_response_due_ms() > 0 ? c.first_response_due_ms()
                                                   : INT64_C(9999999999999));
  enqueue(b, c,
          cl.rule.empty() ? "inbox default queue " + cl.queue
                          : "rule '" + cl.rule + "' -> queue " + cl.queue);
  // Bot-first: a connected bot desk with room gets it before any human. It answers, or
  // hands it back with Transfer{to_queue_id, note: the reason}; then humans get it (bots
  // never get human-queue work, and the bot is remembered as having had it).
  if (q && !q->bot.empty()) {
    AgentRt* bot = agent(ws_id, q->bot);
    if (bot && bot->online() && bot->has_room(c.summary().channel())) {
      queue_remove(b, c);
      v1::RoutingEvent::Candidate cand;
      cand.set_agent_id(bot->cfg->id);
      cand.set_eligible(true);
      cand.set_reason("the queue's bot");
      offer(b, c, *bot, "bot-first queue " + q->id, {cand});
      return;
    }
  }
  dispatch(b, ws_id, cl.queue);
  for (const auto& extra : c.extra_queues()) dispatch(b, ws_id, extra);
}

void Engine::arm_sla(Store::Batch& b, const Conversation& c, const std::string& target,
                     int64_t start, int64_t due, int64_t target_ms) {
  const config::SlaPolicy* pol = policy_of(c);
  const double frac = pol ? pol->warning_fraction : 0.8;
  const std::string& ws = c.summary().workspace_id();
  const std::string& id = c.summary().conversation_id();
  if (frac < 1.0) {
    add_durable_timer(b, start + static_cast<int64_t>(static_cast<double>(target_ms) * frac),
                      {TimerKind::kSla, ws, id, fmt::format("{}/warn/{}", target, due), {}});
  }
  add_durable_timer(b, due,
                    {TimerKind::kSla, ws, id, fmt::format("{}/breach/{}", target, due), {}});
}

const config::SlaPolicy* Engine::policy_of(const Conversation& c) const {
  const config::Workspace* ws = cfg_->workspace(c.summary().workspace_id());
  for (const auto& p : ws->sla)
    if (p.name == c.sla_policy()) return &p;
  return ws->sla_for(c.summary().channel(), c.priority());
}

void Engine::cancel_timer(Store::Batch& b, int64_t due, TimerKind kind, const std::string& ws,
                          const std::string& id, const std::string& ref) {
  const std::string key = fmt::format("{:013}/{}/{}/{}/{}", std::max<int64_t>(due, 0),
                                      static_cast<int>(kind), ws, id, ref);
  b.del(Cf::kTimers, key);
  auto range = timers_.equal_range(std::make_pair(due, key));
  timers_.erase(range.first, range.second);
}

void Engine::cancel_offer_timer(Store::Batch& b, const Conversation& c) {
  if (c.offer_expires_at_ms() > 0 && !c.offer_id().empty())
    cancel_timer(b, c.offer_expires_at_ms(), TimerKind::kOfferExpiry, c.summary().workspace_id(),
                 c.summary().conversation_id(), c.offer_id());
}

// A met (or moot) SLA target: its warning and breach timers go, so the timers family only
// holds what can still fire.
void Engine::cancel_sla(Store::Batch& b, const Conversation& c, const std::string& target,
                        int64_t due) {
  if (due <= 0) return;
  const config::SlaPolicy* pol = policy_of(c);
  const std::string& ws = c.summary().workspace_id();
  const std::string& id = c.summary().conversation_id();
  cancel_timer(b, due, TimerKind::kSla, ws, id, fmt::format("{}/breach/{}", target, due));
  if (!pol) return;
  const int64_t target_ms = target == "first_response"  ? pol->first_response_ms
                            : target == "next_response" ? pol->next_response_ms
                                                        : pol->resolution_ms;
  if (pol->warning_fraction < 1.0) {
    const int64_t warn_at =
        due - target_ms +
        static_cast<int64_t>(static_cast<double>(target_ms) * pol->warning_fraction);
    cancel_timer(b, warn_at, TimerKind::kSla, ws, id, fmt::format("{}/warn/{}", target, due));
  }
}

void Engine::add_durable_timer(Store::Batch& b, int64_t due, Timer t) {
  t.key = fmt::format("{:013}/{}/{}/{}/{}", std::max<int64_t>(due, 0), static_cast<int>(t.kind),
                      t.workspace, t.id, t.ref);
  b.put(Cf::kTimers, t.key, "");
  add_timer(due, std::move(t));
}

void Engine::arm_shift(AgentRt& a, int64_t now) {
  if (!a.cfg->shift) return;
  const int64_t next = a.cfg->shift->next_change(now);
  if (next != INT64_MAX) add_timer(next, {TimerKind::kShift, a.workspace, a.cfg->id, {}, {}});
}

void Engine::queue_put(Store::Batch& b, const Conversation& c) {
  const auto& s = c.summary();
  auto put = [&](const std::string& queue) {
    queues_[ckey(s.workspace_id(), queue)].emplace(-c.priority(), c.queue_due_ms(), c.queue_seq(),
                                                   s.conversation_id(), s.channel());
    b.put(Cf::kQueue,
          queue_key(s.workspace_id(), queue, c.priority(), c.queue_due_ms(), c.queue_seq()),
          s.conversation_id());
  };
  put(s.queue_id());
  for (const auto& q : c.extra_queues()) put(q);
}

void Engine::queue_remove(Store::Batch& b, const Conversation& c) {
  const auto& s = c.summary();
  auto remove = [&](const std::string& queue) {
    auto it = queues_.find(ckey(s.workspace_id(), queue));
    if (it != queues_.end()) {
      it->second.erase(
          {-c.priority(), c.queue_due_ms(), c.queue_seq(), s.conversation_id(), s.channel()});
    }
    b.del(Cf::kQueue,
          queue_key(s.workspace_id(), queue, c.priority(), c.queue_due_ms(), c.queue_seq()));
  };
  remove(s.queue_id());
  for (const auto& q : c.extra_queues()) remove(q);
}

void Engine::enqueue(Store::Batch& b, Conversation& c, const std::string& reason) {
  if (c.queue_seq() == 0) c.set_queue_seq(next_seq(b, "queue"));
  c.set_state(v1::store::CONVERSATION_STATE_QUEUED);
  c.clear_agent_id();
  c.set_queued_at_ms(clock_.now_ms());
  queue_put(b, c);
  save_conversation(b, c);
  routing_event(b, c, v1::RoutingEvent::KIND_QUEUED, {}, reason);
}

void Engine::raise_priority(Store::Batch& b, Conversation& c, const std::string& why) {
  if (c.priority() >= 9) return;
  const bool queued = c.state() == v1::store::CONVERSATION_STATE_QUEUED;
  if (queued) queue_remove(b, c);
  c.set_priority(c.priority() + 1);
  if (queued) queue_put(b, c);
  save_conversation(b, c);
  log_->debug("{}/{} priority {} ({})", c.summary().workspace_id(), c.summary().conversation_id(),
              c.priority(), why);
}

void Engine::dispatch_agent_queues(Store::Batch& b, const AgentRt& a) {
  const config::Workspace* ws = cfg_->workspace(a.workspace);
  if (a.cfg->queues.empty()) {
    for (const auto& q : ws->queues) dispatch(b, a.workspace, q.id);
  } else {
    for (const auto& q : a.cfg->queues) dispatch(b, a.workspace, q);
  }
}

int Engine::relaxed_levels(const Conversation& c) const {
  if (c.overflow_stage() == 0) return 0;
  const config::Queue* q = queue_cfg(c.summary().workspace_id(), c.summary().queue_id());
  int r = 0;
  for (uint32_t i = 0; q && i < c.overflow_stage() && i < q->overflow.size(); ++i)
    r += q->overflow[i].relax_skills;
  return r;
}

const config::Queue* Engine::queue_cfg(const std::string& ws, const std::string& queue) const {
  auto it = queue_cfgs_.find(ckey(ws, queue));
  return it == queue_cfgs_.end() ? nullptr : it->second;
}

Engine::Unfit Engine::fit(const AgentRt& a, const Conversation& c, int64_t now,
                          std::string* why) const {
  // The reason in words is built only when the caller wants it (the trail).
  auto say = [why](Unfit u, auto&& text) {
    if (why) *why = text();
    return u;
  };
  if (a.routing_id.empty()) return say(Unfit::kOffline, [&] { return fmt::format("offline"); });
  if (a.presence != v1::PRESENCE_AVAILABLE)
    return say(Unfit::kAway, [&] { return fmt::format("away"); });
  if (a.bot)
    return say(Unfit::kBot, [&] { return fmt::format("bot desk (bot-first queues only)"); });
  if (!a.on_shift(now)) return say(Unfit::kOffShift, [&] { return fmt::format("off shift"); });
  const auto& rej = c.rejected_by();
  if (std::find(rej.begin(), rej.end(), a.id) != rej.end())
    return say(Unfit::kRejected, [&] { return fmt::format("rejected or let it expire before"); });
  const int relax = c.skills().empty() ? 0 : relaxed_levels(c);
  for (const auto& [skill, level] : c.skills()) {
    const int need = level - relax;
    if (need <= 0) continue;
    auto have = a.cfg->skills.find(skill);
    const int lvl = have == a.cfg->skills.end() ? 0 : have->second;
    if (lvl < need)
      return say(Unfit::kSkill,
                 [&] { return fmt::format("needs {} >= {} (has {})", skill, need, lvl); });
  }
  if (!c.language().empty() && !a.speaks_any &&
      std::find(a.cfg->languages.begin(), a.cfg->languages.end(), c.language()) ==
          a.cfg->languages.end())
    return say(Unfit::kLanguage, [&] { return fmt::format("does not speak {}", c.language()); });
  const v1::Channel ch = c.summary().channel();
  if (a.total_capacity > 0 && a.total_load >= a.total_capacity)
    return say(Unfit::kTotalFull, [&] {
      return fmt::format("at total capacity {}/{}", a.total_load, a.total_capacity);
    });
  const int limit = a.capacity[static_cast<size_t>(ch)];
  if (a.load_on(ch) >= limit)
    return say(Unfit::kChannelFull, [&] {
      return fmt::format("{} full {}/{}", channel_name(ch), a.load_on(ch), limit);
    });
  if (!c.sticky_agent_id().empty() && c.sticky_agent_id() != a.id && now < c.sticky_until_ms())
    return say(Unfit::kSticky, [&] {
      return fmt::format("waiting for {} (sticky) until {}", c.sticky_agent_id(),
                         c.sticky_until_ms());
    });
  if (why) why->clear();
  return Unfit::kOk;
}

bool Engine::can_hold(const AgentRt& a, const Conversation& c, bool need_shift,
                      std::string* why) const {
  const v1::Channel ch = c.summary().channel();
  auto cap = a.cfg->capacity.find(ch);
  const int limit = cap == a.cfg->capacity.end() ? 0 : cap->second;
  if (a.routing_id.empty())
    *why = "offline";
  else if (a.presence != v1::PRESENCE_AVAILABLE)
    *why = "away";
  else if (a.cfg->bot)
    *why = "a bot desk";
  else if (need_shift && !a.on_shift(clock_.now_ms()))
    *why = "off shift";
  else if (a.cfg->total_capacity > 0 && a.total_load >= a.cfg->total_capacity)
    *why = fmt::format("at total capacity {}/{}", a.total_load, a.cfg->total_capacity);
  else if (a.load_on(ch) >= limit)
    *why = fmt::format("{} full {}/{}", channel_name(ch), a.load_on(ch), limit);
  else
    return true;
  return false;
}

void Engine::dispatch(Store::Batch& b, const std::string& ws, const std::string& queue) {
  auto qit = queues_.find(ckey(ws, queue));
  if (qit == queues_.end() || qit->second.empty()) return;
  auto& q = qit->second;
  const int64_t now = clock_.now_ms();
  const config::Queue* qcfg = queue_cfg(ws, queue);
  const std::string qk = ckey(ws, queue);
  const std::vector<AgentRt*>& serving = queue_agents_[qk];
  std::string& cursor = rr_cursor_[qk];
  std::vector<AgentRt*> pool;
  for (AgentRt* a : serving) {
    if (a->online() && !a->bot && a->on_shift(now)) pool.push_back(a);
  }
  // Whether anyone in the pool has room at all: recomputed only after an offer.
  auto room_left = [&] {
    return std::any_of(pool.begin(), pool.end(),
                       [](const AgentRt* a) { return a->has_any_room(); });
  };
  bool room = room_left();
  std::vector<AgentRt*> eligible, unfit;
  // Each agent's rank key is computed once, then only the best few are put in order.
  struct Ranked {
    bool not_sticky;
    int64_t k1, k2;
    std::string_view id;
    AgentRt* agent;
    bool operator<(const Ranked& o) const {
      return std::tie(not_sticky, k1, k2, id) < std::tie(o.not_sticky, o.k1, o.k2, o.id);
    }
  };
  std::vector<Ranked> ranked;
  for (auto it = q.begin(); it != q.end() && room;) {
    const v1::Channel ch = std::get<4>(*it);
    // Skip without reading the conversation when nobody has room on its channel.
    if (std::none_of(pool.begin(), pool.end(),
                     [ch](const AgentRt* a) { return a->has_room(ch); })) {
      ++it;
      continue;
    }
    const std::string conv_id = std::get<3>(*it);
    Conversation c;
    if (!load_conversation(b, ws, conv_id, c) ||
        c.state() != v1::store::CONVERSATION_STATE_QUEUED) {
      b.del(Cf::kQueue,
            queue_key(ws, queue, -std::get<0>(*it), std::get<1>(*it), std::get<2>(*it)));
      it = q.erase(it);
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    eligible.clear();
    unfit.clear();
    for (AgentRt* a : pool) {
      if (fit(*a, c, now, nullptr) == Unfit::kOk)
        eligible.push_back(a);
      else if (unfit.size() < 16)
        unfit.push_back(a);
    }
    if (eligible.empty()) {
      counters_.decision_ns +=
          static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::steady_clock::now() - t0)
                                    .count());
      ++counters_.decisions;
      ++it;
      continue;
    }
    // Order: the sticky agent first, then the queue's strategy; ties by id so decisions
    // are reproducible.
    const auto strategy = qcfg ? qcfg->strategy : config::Strategy::kLongestIdle;
    ranked.clear();
    for (AgentRt* a : eligible) {
      const bool sticky = a->id == c.sticky_agent_id();
      switch (strategy) {
        case config::Strategy::kLeastBusy:
          ranked.push_back({!sticky, a->total_load, a->idle_since_ms, a->id, a});
          break;
        case config::Strategy::kRoundRobin:
          // The next id after the last one offered, wrapping around.
          ranked.push_back({!sticky, a->id <= cursor ? 1 : 0, 0, a->id, a});
          break;
        default:
          ranked.push_back({!sticky, a->idle_since_ms, 0, a->id, a});
      }
    }
    const size_t shown = std::min<size_t>(eligible.size(), 8);
    std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(shown),
                      ranked.end());
    for (size_t i = 0; i < shown; ++i) eligible[i] = ranked[i].agent;
    AgentRt* winner = eligible.front();
    std::string why;
    if (winner->cfg->id == c.sticky_agent_id()) {
      why = "sticky: served this customer last";
    } else {
      switch (strategy) {
        case config::Strategy::kLeastBusy:
          why = fmt::format("least busy ({} open) of {} eligible", winner->total_load,
                            eligible.size());
          break;
        case config::Strategy::kRoundRobin:
          why = fmt::format("round robin after '{}' among {} eligible", cursor, eligible.size());
          break;
        default:
          why = fmt::format("longest idle of {} eligible", eligible.size());
      }
    }
    // The trail: the best few eligible agents in order, then up to 16 who could not take
    // it and why.
    std::vector<v1::RoutingEvent::Candidate> considered;
    considered.reserve(shown + std::min<size_t>(16, serving.size() - eligible.size()));
    for (size_t i = 0; i < shown; ++i) {
      v1::RoutingEvent::Candidate cand;
      cand.set_agent_id(eligible[i]->id);
      cand.set_eligible(true);
      cand.set_reason(fmt::format("rank {}: idle since {}, {} open", i + 1,
                                  eligible[i]->idle_since_ms, eligible[i]->total_load));
      considered.push_back(std::move(cand));
    }
    // Up to 16 who could not: present agents with the reason, then absent ones.
    size_t unfit_shown = 0;
    for (const AgentRt* a : unfit) {
      v1::RoutingEvent::Candidate cand;
      cand.set_agent_id(a->id);
      std::string reason;
      (void)fit(*a, c, now, &reason);
      cand.set_reason(reason);
      considered.push_back(std::move(cand));
      ++unfit_shown;
    }
    for (const AgentRt* a : serving) {
      if (unfit_shown >= 16 || pool.size() == serving.size()) break;  // nobody absent
      if (a->online() && !a->bot && a->on_shift(now)) continue;       // in the pool
      v1::RoutingEvent::Candidate cand;
      cand.set_agent_id(a->id);
      cand.set_reason(a->routing_id.empty() ? "offline"
                      : !a->online()        ? "away"
                      : a->bot              ? "bot desk (bot-first queues only)"
                                            : "off shift");
      considered.push_back(std::move(cand));
      ++unfit_shown;
    }
    counters_.decision_ns += static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count());
    ++counters_.decisions;
    queue_remove(b, c);
    it = q.upper_bound(std::make_tuple(-c.priority(), c.queue_due_ms(), c.queue_seq(),
                                       c.summary().conversation_id(), ch));
    if (strategy == config::Strategy::kRoundRobin) {
      cursor = winner->cfg->id;
      b.put(Cf::kMeta, "rr/" + qk, winner->cfg->id);  // survives restarts
    }
    if (queue != c.summary().queue_id()) why += " (overflow from " + c.summary().queue_id() + ")";
    // A parallel offer: the next best agents get it too (never when waiting for a sticky
    // agent: that one was chosen on purpose).
    std::vector<AgentRt*> also;
    if (qcfg && qcfg->parallel_offers > 1 && qcfg->parallel_channels.count(ch) &&
        winner->cfg->id != c.sticky_agent_id()) {
      for (size_t i = 1; i < shown && also.size() + 1 < static_cast<size_t>(qcfg->parallel_offers);
           ++i)
        also.push_back(eligible[i]);
    }
    offer(b, c, *winner, why, considered, also);
    room = room_left();
  }
  queue_notices(b, ws, queue);
}

void Engine::offer(Store::Batch& b, Conversation& c, AgentRt& a, const std::string& why,
                   const std::vector<v1::RoutingEvent::Candidate>& considered,
                   const std::vector<AgentRt*>& also) {
  ++counters_.offers;
  const int64_t now = clock_.now_ms();
  told_position_.erase(ckey(a.workspace, c.summary().conversation_id()));
  c.set_offer_count(c.offer_count() + 1);
  c.set_offer_id(fmt::format("{}/{}", c.summary().conversation_id(), c.offer_count()));
  c.set_state(v1::store::CONVERSATION_STATE_OFFERED);
  c.set_agent_id(a.cfg->id);
  c.clear_also_offered();
  for (const AgentRt* x : also) c.add_also_offered(x->cfg->id);
  c.set_offer_expires_at_ms(now + cfg_->router.offer_timeout(c.summary().channel()));
  save_conversation(b, c);
  add_durable_timer(
      b, c.offer_expires_at_ms(),
      {TimerKind::kOfferExpiry, a.workspace, c.summary().conversation_id(), c.offer_id(), {}});
  routing_event(b, c, v1::RoutingEvent::KIND_OFFERED, a.cfg->id,
                also.empty() ? why
                             : fmt::format("{}; also offered to {} (first to accept gets it)", why,
                                           fmt::join(c.also_offered(), ", ")),
                considered);
  v1::AgentFrame f;
  *f.mutable_offer() = offer_frame(b, c);
  auto hold = [&](AgentRt& x) {
    x.hold(c.summary().conversation_id(), c.summary().channel());
    b.put(Cf::kAgents, ckey(x.workspace, x.cfg->id) + "/" + c.summary().conversation_id(), "");
    x.idle_since_ms = now;
    save_agent(b, x);
    send(x, f);
  };
  hold(a);
  for (AgentRt* x : also) hold(*x);
}

bool Engine::leave_round(Store::Batch& b, Conversation& c, AgentRt& a, bool remember) {
  if (!in_round(c, a.cfg->id) || c.also_offered().empty()) return false;
  auto* others = c.mutable_also_offered();
  if (c.agent_id() == a.cfg->id) {
    c.set_agent_id(others->Get(0));
    others->erase(others->begin());
  } else {
    others->erase(std::remove(others->begin(), others->end(), a.cfg->id), others->end());
  }
  if (remember) c.add_rejected_by(a.cfg->id);
  release(b, a, c.summary().conversation_id());
  save_conversation(b, c);
  return true;
}

void Engine::release(Store::Batch& b, AgentRt& a, const std::string& conversation_id) {
  a.drop(conversation_id);
  b.del(Cf::kAgents, ckey(a.workspace, a.cfg->id) + "/" + conversation_id);
  a.idle_since_ms = clock_.now_ms();
  save_agent(b, a);
}

void Engine::withdraw_offer(Store::Batch& b, Conversation& c, const std::string& reason,
                            bool remember) {
  const std::vector<std::string> round = round_of(c);
  cancel_offer_timer(b, c);
  for (const auto& agent_id : round) {
    if (remember) c.add_rejected_by(agent_id);
    if (AgentRt* a = agent(c.summary().workspace_id(), agent_id)) {
      release(b, *a, c.summary().conversation_id());
      v1::AgentFrame f;
      f.mutable_offer_withdrawn()->set_offer_id(c.offer_id());
      f.mutable_offer_withdrawn()->set_reason(reason);
      send(*a, std::move(f));
    }
  }
  c.clear_also_offered();
  routing_event(b, c, v1::RoutingEvent::KIND_OFFER_EXPIRED,
                fmt::format("{}", fmt::join(round, ",")), reason);
  enqueue(b, c, "re-queued: " + reason);
}

// ------------------------------------------------------------------ desks

void Engine::apply_desk(Store::Batch& b, const std::string& rid, std::string_view bytes,
                        const std::string& peer_key) {
  v1::AgentFrame f;
  if (!f.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    error_to(rid, v1::Error::CODE_BAD_FRAME, "undecodable AgentFrame", {});
    return;
  }
  if (f.kind_case() == v1::AgentFrame::kHello) {
    on_hello(b, rid, f.hello(), peer_key);
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
    case v1::AgentFrame::kTransfer:
      on_transfer(b, *a, f.transfer());
      return;
    case v1::AgentFrame::kForceAssign:
      on_force_assign(b, *a, f.force_assign());
      return;
    case v1::AgentFrame::kLink:
      on_link(b, *a, f.link());
      return;
    case v1::AgentFrame::kUnlink:
      on_unlink(b, *a, f.unlink());
      return;
    case v1::AgentFrame::kTyping:
      on_typing(b, *a, f.typing());
      return;
    default:
      error_to(rid, v1::Error::CODE_INVALID, "frame kind not accepted from a desk", {});
  }
}

void Engine::customer_linked(Store::Batch& b, const AgentRt& a, const std::string& customer_id) {
  v1::AgentFrame f;
  auto* l = f.mutable_customer_linked();
  l->set_customer_id(customer_id);
  v1::store::Customer root;
  if (customers_.root(b, a.workspace, customer_id, root)) {
    if (root.customer_id() != customer_id) l->set_root_customer_id(root.customer_id());
    for (auto& id : customers_.group(b, a.workspace, root.customer_id()))
      l->add_linked_customer_ids(std::move(id));
  }
  send(a, std::move(f));
}

// Customers are workspace-scoped by key: an agent can only name its workspace's customers.
void Engine::on_link(Store::Batch& b, AgentRt& a, const v1::Link& m) {
  if (m.customer_id().empty() || m.other_customer_id().empty()) {
    error_to(a.routing_id, v1::Error::CODE_INVALID, "Link needs customer_id and other_customer_id",
             m.customer_id());
    return;
  }
  link_outcome(b, a, m.customer_id(),
               customers_.link(b, a.workspace, m.customer_id(), m.other_customer_id(), true),
               v1::RoutingEvent::KIND_LINKED,
               fmt::format("agent linked customer {} with {}{}", m.customer_id(),
                           m.other_customer_id(), m.note().empty() ? "" : ": " + m.note()));
}

// The answer to Link/Unlink: an error naming why, or the event and the group as it is now.
void Engine::link_outcome(Store::Batch& b, const AgentRt& a, const std::string& customer_id,
                          const std::string& why, v1::RoutingEvent::Kind kind,
                          const std::string& what) {
  if (!why.empty()) {
    const bool unknown = why.rfind("unknown", 0) == 0;  // Customers: "unknown customer ..."
    error_to(a.routing_id, unknown ? v1::Error::CODE_NOT_FOUND : v1::Error::CODE_CONFLICT,
             "refused: " + why, customer_id);
    return;
  }
  Conversation none;
  none.mutable_summary()->set_workspace_id(a.workspace);
  routing_event(b, none, kind, a.cfg->id, what, {}, customer_id);
  customer_linked(b, a, customer_id);
}

void Engine::on_unlink(Store::Batch& b, AgentRt& a, const v1::Unlink& m) {
  link_outcome(b, a, m.customer_id(), customers_.unlink(b, a.workspace, m.customer_id()),
               v1::RoutingEvent::KIND_UNLINKED,
               fmt::format("agent unlinked customer {}", m.customer_id()));
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
  a.offline_since_ms = clock_.now_ms();
  save_agent(b, a);
  // Open offers go to someone else at once; accepted conversations stay with the agent
  // for the presence grace, then go back to the front of their queues.
  std::vector<std::string> held;
  for (const auto& [cid, ch] : a.conversations) held.push_back(cid);
  std::set<std::string> queues;
  bool assigned = false;
  for (const auto& cid : held) {
    Conversation c;
    if (!load_conversation(b, a.workspace, cid, c)) continue;
    if (leave_round(b, c, a, false)) {
      // A parallel offer: the others keep it.
      routing_event(b, c, v1::RoutingEvent::KIND_OFFER_EXPIRED, a.cfg->id,
                    fmt::format("agent offline: {} (still offered to {})", why,
                                fmt::join(round_of(c), ", ")));
    } else if (in_round(c, a.cfg->id)) {
      withdraw_offer(b, c, "agent offline: " + why, false);
      queues.insert(c.summary().queue_id());
      for (const auto& q : c.extra_queues()) queues.insert(q);
    } else if (c.state() == v1::store::CONVERSATION_STATE_ASSIGNED) {
      assigned = true;
    }
  }
  for (const auto& q : queues) dispatch(b, a.workspace, q);
  if (assigned) {
    add_durable_timer(
        b, a.offline_since_ms + cfg_->router.presence_grace_ms,
        {TimerKind::kGrace, a.workspace, a.cfg->id, std::to_string(a.offline_since_ms), {}});
  }
}

void Engine::on_accept(Store::Batch& b, AgentRt& a, const v1::Accept& m) {
  Conversation c;
  const std::string cid = conversation_of_offer(m.offer_id());
  if (cid.empty() || !load_conversation(b, a.workspace, cid, c)) {
    error_to(a.routing_id, v1::Error::CODE_NOT_FOUND, "unknown offer", m.offer_id());
    return;
  }
  if ((c.agent_id() == a.cfg->id || in_round(c, a.cfg->id)) && c.offer_id() == m.offer_id()) {
    if (c.state() == v1::store::CONVERSATION_STATE_ASSIGNED) {
      // A repeated Accept (e.g. re-sent after a reconnect) gets the same Assignment.
      v1::AgentFrame f;
      *f.mutable_assignment() = assignment(b, c, m.offer_id());
      send(a, std::move(f));
      return;
    }
    if (c.state() == v1::store::CONVERSATION_STATE_OFFERED) {
      ++counters_.accepts;
      cancel_offer_timer(b, c);
      // A parallel offer: the first accept wins, the others' offers are withdrawn.
      std::vector<AgentRt*> lost;
      for (const auto& other : round_of(c)) {
        AgentRt* o = agent(a.workspace, other);
        if (!o || o == &a) continue;
        release(b, *o, cid);
        v1::AgentFrame w;
        w.mutable_offer_withdrawn()->set_offer_id(m.offer_id());
        w.mutable_offer_withdrawn()->set_reason("accepted by another agent");
        send(*o, std::move(w));
        lost.push_back(o);
      }
      std::vector<std::string> lost_ids;
      for (const AgentRt* o : lost) lost_ids.push_back(o->cfg->id);
      c.clear_also_offered();
      c.set_agent_id(a.cfg->id);
      c.set_state(v1::store::CONVERSATION_STATE_ASSIGNED);
      c.set_accepted_count(c.accepted_count() + 1);
      save_conversation(b, c);
      // Sticky routing remembers the agent for the whole linked group (its root).
      v1::store::Customer cust;
      if (customers_.root(b, a.workspace, c.summary().customer_id(), cust)) {
        cust.set_last_agent_id(a.cfg->id);
        cust.set_last_served_ms(clock_.now_ms());
        customers_.save(b, cust);
      }
      routing_event(b, c, v1::RoutingEvent::KIND_ACCEPTED, a.cfg->id,
                    lost.empty() ? "offer accepted"
                                 : fmt::format("offer accepted first (withdrawn from {})",
                                               fmt::join(lost_ids, ", ")));
      v1::AgentFrame f;
      *f.mutable_assignment() = assignment(b, c, m.offer_id());
      send(a, std::move(f));
      {
        auto& flow = queue_flow_[ckey(a.workspace, c.summary().queue_id())];
        const int64_t now = clock_.now_ms();
        if (flow.last_accept_ms > 0) {
          const double gap = static_cast<double>(now - flow.last_accept_ms);
          flow.gap_ms = flow.accepts <= 1 ? gap : 0.8 * flow.gap_ms + 0.2 * gap;
        }
        flow.last_accept_ms = now;
        ++flow.accepts;
        v1::ChannelNotice n;
        n.set_kind(v1::ChannelNotice::KIND_AGENT_JOINED);
        notice(b, c, n, &a);
      }
      for (AgentRt* o : lost)
        if (o->online()) dispatch_agent_queues(b, *o);  // their slot is free again
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
      !in_round(c, a.cfg->id)) {
    return;  // stale reject: nothing to undo
  }
  if (leave_round(b, c, a, true)) {  // a parallel offer: the others still have it
    routing_event(b, c, v1::RoutingEvent::KIND_REJECTED, a.cfg->id,
                  fmt::format("rejected: {} (still offered to {})", m.reason().substr(0, 200),
                              fmt::join(round_of(c), ", ")));
    dispatch_agent_queues(b, a);
    return;
  }
  release(b, a, cid);
  cancel_offer_timer(b, c);
  c.add_rejected_by(a.cfg->id);
  routing_event(b, c, v1::RoutingEvent::KIND_REJECTED, a.cfg->id,
                "rejected: " + m.reason().substr(0, 200));
  enqueue(b, c, "re-queued after rejection");
  dispatch(b, a.workspace, c.summary().queue_id());
  for (const auto& q : c.extra_queues()) dispatch(b, a.workspace, q);
  dispatch_agent_queues(b, a);  // its freed capacity may fit something waiting elsewhere
}

void Engine::on_reply(Store::Batch& b, AgentRt& a, const v1::Reply& m) {
  // Checked before anything is stored or acknowledged: a reply that cannot become one
  // Kafka record must be refused now, not acknowledged and then stuck in the outbox.
  if (static_cast<int64_t>(m.ByteSizeLong()) > cfg_->router.max_reply_bytes) {
    error_to(a.routing_id, v1::Error::CODE_TOO_LARGE,
             fmt::format("reply of {} bytes is over router.max_reply_bytes ({})", m.ByteSizeLong(),
                         cfg_->router.max_reply_bytes),
             m.reply_id());
    return;
  }
  if (m.reply_id().empty() ||
      (m.text_body().empty() && m.attachments().empty() && !m.has_message_template())) {
    error_to(a.routing_id, v1::Error::CODE_INVALID,
             "reply needs reply_id and a text_body, attachments or a message_template",
             m.reply_id());
    return;
  }
  if (m.has_message_template() &&
      (m.message_template().name().empty() || m.message_template().language().empty() ||
       m.message_template().parameters_size() > 100)) {
    error_to(a.routing_id, v1::Error::CODE_INVALID,
             "message_template needs a name and a language (and at most 100 parameters)",
             m.reply_id());
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
  if (!load_assigned(b, a, m.conversation_id(), c)) return;
  ++counters_.replies;
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
  uint64_t seq = c.message_count() + 1;
  const std::string outbound_id =
      fmt::format("{}/{}/{}", s.workspace_id(), s.conversation_id(), seq);
  cm.set_outbound_id(outbound_id);
  append_message(b, c, cm);
  // An answer meets the first-response and next-response targets.
  if (c.first_response_at_ms() == 0) c.set_first_response_at_ms(clock_.now_ms());
  cancel_sla(b, c, "first_response", c.first_response_due_ms());
  cancel_sla(b, c, "next_response", c.next_response_due_ms());
  c.set_first_response_due_ms(0);
  c.set_next_response_due_ms(0);
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
  if (s.channel() == v1::CHANNEL_EMAIL) email_threading(b, c, out);
  out.set_text_body(m.text_body());
  out.set_html_body(m.html_body());
  *out.mutable_attachments() = m.attachments();
  if (m.has_message_template()) *out.mutable_message_template() = m.message_template();
  // Thread keys are <ws>/<inbox>/t:<integrator thread id> or <ws>/<inbox>/c:<customer>.
  const std::string& tk = c.thread_key();
  if (auto p2 = tk.find('/', tk.find('/') + 1);
      p2 != std::string::npos && tk.compare(p2 + 1, 2, "t:") == 0) {
    out.mutable_thread()->set_thread_id(tk.substr(p2 + 3));
  }
  out.set_created_at_ms(clock_.now_ms());
  produce(b, cfg_->kafka.topics.outbound(s.channel()), s.workspace_id(), out.SerializeAsString());

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

void Engine::email_threading(Store::Batch& b, const Conversation& c, v1::OutboundMessage& out) {
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
    if (!b.get(Cf::kMessages, msg_key(s.workspace_id(), s.conversation_id(), seq), &v) ||
        !m.ParseFromString(v))
      continue;
    std::string id;
    if (m.author() == v1::AUTHOR_CUSTOMER && !m.external_message_id().empty() &&
        m.external_message_id().rfind("sha256:", 0) != 0) {
      id = m.external_message_id();
      out.mutable_thread()->set_in_reply_to(id);
      out.set_in_reply_to_external_id(id);
    } else if (!m.outbound_id().empty() && m.outbound_id() != out.outbound_id()) {
      id = "outbound:" + m.outbound_id();
    }
    if (!id.empty()) out.mutable_thread()->add_references(id);
  }
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
  cancel_sla(b, c, "first_response", c.first_response_due_ms());
  cancel_sla(b, c, "next_response", c.next_response_due_ms());
  cancel_sla(b, c, "resolution", c.resolution_due_ms());
  cancel_overflow(b, c);
  c.set_first_response_due_ms(0);
  c.set_next_response_due_ms(0);
  c.set_resolution_due_ms(0);
  std::string v;
  if (b.get(Cf::kThreads, c.thread_key(), &v) && v == c.summary().conversation_id())
    b.del(Cf::kThreads, c.thread_key());
  save_conversation(b, c);
  release(b, a, c.summary().conversation_id());
  routing_event(b, c, v1::RoutingEvent::KIND_RESOLVED, a.cfg->id, "resolved by agent");
  v1::ChannelNotice n;
  n.set_kind(v1::ChannelNotice::KIND_RESOLVED);
  notice(b, c, n, &a);
  v1::AgentFrame f;
  f.mutable_resolved()->set_conversation_id(m.conversation_id());
  send(a, std::move(f));
  dispatch_agent_queues(b, a);
}

void Engine::on_typing(Store::Batch& b, AgentRt& a, const v1::Typing& m) {
  Conversation c;
  if (!load_conversation(b, a.workspace, m.conversation_id(), c) ||
      c.state() != v1::store::CONVERSATION_STATE_ASSIGNED || c.agent_id() != a.cfg->id)
    return;  // stale or not theirs: typing is not worth an error
  v1::ChannelNotice n;
  n.set_kind(v1::ChannelNotice::KIND_TYPING);
  n.set_on(m.on());
  notice(b, c, n, &a);
}

void Engine::on_signal(Store::Batch& b, const v1::Signal& s) {
  if (s.kind() != v1::Signal::KIND_TYPING) return;
  const config::Workspace* w = cfg_->workspace(s.workspace_id());
  const config::Inbox* inbox = w ? w->inbox(s.inbox_id()) : nullptr;
  if (!inbox) return;
  std::string customer_id, conv_id;
  if (!b.get(Cf::kCustomers,
             fmt::format("{}/h/{}:{}", s.workspace_id(), channel_name(inbox->channel),
                         s.customer_handle()),
             &customer_id))
    return;
  if (!b.get(Cf::kThreads, fmt::format("{}/{}/c:{}", s.workspace_id(), s.inbox_id(), customer_id),
             &conv_id))
    return;
  Conversation c;
  if (!load_conversation(b, s.workspace_id(), conv_id, c) ||
      c.state() != v1::store::CONVERSATION_STATE_ASSIGNED)
    return;
  if (AgentRt* a = agent(s.workspace_id(), c.agent_id()); a && a->online()) {
    v1::AgentFrame f;
    f.mutable_typing()->set_conversation_id(conv_id);
    f.mutable_typing()->set_on(s.ref_id() != "off");
    send(*a, std::move(f));
  }
}

void Engine::notice(Store::Batch& b, const Conversation& c, const v1::ChannelNotice& n,
                    const AgentRt* from) {
  const auto& s = c.summary();
  if (s.channel() != v1::CHANNEL_CHAT) return;
  v1::OutboundMessage out;
  out.set_outbound_id(fmt::format("{}/{}/n{}-{}", s.workspace_id(), s.conversation_id(),
                                  clock_.now_ms(), ++notice_seq_));
  out.set_workspace_id(s.workspace_id());
  out.set_inbox_id(s.inbox_id());
  out.set_channel(s.channel());
  out.set_conversation_id(s.conversation_id());
  out.set_customer_handle(s.customer_handle());
  if (from) {
    out.set_agent_id(from->cfg->id);
    out.set_agent_display_name(from->cfg->name.empty() ? from->cfg->id : from->cfg->name);
  }
  out.set_created_at_ms(clock_.now_ms());
  *out.mutable_notice() = n;
  produce(b, cfg_->kafka.topics.outbound(s.channel()), s.workspace_id(), out.SerializeAsString());
}

void Engine::queue_notices(Store::Batch& b, const std::string& ws, const std::string& queue) {
  auto qit = queues_.find(ckey(ws, queue));
  if (qit == queues_.end()) return;
  constexpr uint32_t kTold = 50;  // visitors further back hear when they get there
  uint32_t pos = 0;
  std::optional<uint32_t> available;
  for (const auto& entry : qit->second) {
    if (++pos > kTold) break;
    if (std::get<4>(entry) != v1::CHANNEL_CHAT) continue;
    const std::string& conv_id = std::get<3>(entry);
    auto& told = told_position_[ckey(ws, conv_id)];
    if (told == pos) continue;
    Conversation c;
    if (!load_conversation(b, ws, conv_id, c) || c.state() != v1::store::CONVERSATION_STATE_QUEUED)
      continue;
    told = pos;
    if (!available) {
      const int64_t now = clock_.now_ms();
      uint32_t n = 0;
      for (const AgentRt* a : queue_agents_[ckey(ws, queue)])
        if (a->online() && !a->bot && a->presence == v1::PRESENCE_AVAILABLE && a->on_shift(now))
          ++n;
      available = n;
    }
    const auto& flow = queue_flow_[ckey(ws, queue)];
    v1::ChannelNotice n;
    n.set_kind(v1::ChannelNotice::KIND_QUEUE);
    n.set_queue_position(pos);
    n.set_agents_available(*available);
    if (flow.accepts >= 2 && *available > 0)
      n.set_expected_wait_s(static_cast<uint32_t>(flow.gap_ms * pos / 1000.0 + 0.5));
    notice(b, c, n, nullptr);
  }
}

void Engine::note(Store::Batch& b, Conversation& c, const std::string& text) {
  v1::ConversationMessage cm;
  cm.set_author(v1::AUTHOR_SYSTEM);
  cm.set_text_body(text.substr(0, 2000));
  append_message(b, c, cm);
}

bool Engine::load_assigned(Store::Batch& b, const AgentRt& a, const std::string& id,
                           Conversation& c) {
  if (!load_conversation(b, a.workspace, id, c)) {
    error_to(a.routing_id, v1::Error::CODE_NOT_FOUND, "unknown conversation", id);
    return false;
  }
  if (c.state() != v1::store::CONVERSATION_STATE_ASSIGNED || c.agent_id() != a.cfg->id) {
    error_to(a.routing_id, v1::Error::CODE_CONFLICT, "conversation is not assigned to you", id);
    return false;
  }
  return true;
}

void Engine::conversation_gone(const AgentRt& a, const std::string& conversation_id,
                               const std::string& reason) {
  v1::AgentFrame f;
  f.mutable_conversation_gone()->set_conversation_id(conversation_id);
  f.mutable_conversation_gone()->set_reason(reason);
  send(a, std::move(f));
}

void Engine::take_back(Store::Batch& b, Conversation& c, const std::string& reason) {
  AgentRt* holder = agent(c.summary().workspace_id(), c.agent_id());
  if (c.state() == v1::store::CONVERSATION_STATE_OFFERED) {
    for (const auto& other : c.also_offered()) {  // the rest of a parallel offer
      AgentRt* o = agent(c.summary().workspace_id(), other);
      if (!o) continue;
      release(b, *o, c.summary().conversation_id());
      v1::AgentFrame f;
      f.mutable_offer_withdrawn()->set_offer_id(c.offer_id());
      f.mutable_offer_withdrawn()->set_reason(reason);
      send(*o, std::move(f));
    }
    c.clear_also_offered();
  }
  if (c.state() == v1::store::CONVERSATION_STATE_QUEUED) {
    queue_remove(b, c);
  } else if (holder && (c.state() == v1::store::CONVERSATION_STATE_OFFERED ||
                        c.state() == v1::store::CONVERSATION_STATE_ASSIGNED)) {
    release(b, *holder, c.summary().conversation_id());
    if (c.state() == v1::store::CONVERSATION_STATE_OFFERED) {
      cancel_offer_timer(b, c);
      v1::AgentFrame f;
      f.mutable_offer_withdrawn()->set_offer_id(c.offer_id());
      f.mutable_offer_withdrawn()->set_reason(reason);
      send(*holder, std::move(f));
    } else {
      conversation_gone(*holder, c.summary().conversation_id(), reason);
    }
  }
}

void Engine::on_transfer(Store::Batch& b, AgentRt& a, const v1::Transfer& m) {
  if (static_cast<int64_t>(m.ByteSizeLong()) > cfg_->router.max_reply_bytes) {
    error_to(a.routing_id, v1::Error::CODE_TOO_LARGE,
             fmt::format("transfer note of {} bytes is over router.max_reply_bytes ({})",
                         m.ByteSizeLong(), cfg_->router.max_reply_bytes),
             m.conversation_id());
    return;
  }
  Conversation c;
  if (!load_assigned(b, a, m.conversation_id(), c)) return;
  const config::Workspace& ws = *cfg_->workspace(a.workspace);
  const std::string text =
      fmt::format("Transferred by {}{}", a.cfg->id, m.note().empty() ? "" : ": " + m.note());
  if (!m.to_agent_id().empty()) {
    AgentRt* to = agent(a.workspace, m.to_agent_id());
    std::string why;
    if (!to || to == &a) {
      error_to(a.routing_id, v1::Error::CODE_INVALID, "no such other agent in this workspace",
               m.conversation_id());
      return;
    }
    // A person chose them: skills and languages are theirs to judge; presence, shift and
    // capacity are not.
    if (!can_hold(*to, c, true, &why)) {
      error_to(a.routing_id, v1::Error::CODE_CONFLICT,
               fmt::format("{} cannot take it now: {}", to->cfg->id, why), m.conversation_id());
      return;
    }
    release(b, a, c.summary().conversation_id());
    note(b, c, text);
    routing_event(b, c, v1::RoutingEvent::KIND_TRANSFERRED, a.cfg->id,
                  fmt::format("transfer to agent {}{}", to->cfg->id,
                              m.note().empty() ? "" : " (with a note)"));
    conversation_gone(a, c.summary().conversation_id(), "transferred to " + to->cfg->id);
    v1::RoutingEvent::Candidate cand;
    cand.set_agent_id(to->cfg->id);
    cand.set_eligible(true);
    cand.set_reason("chosen by " + a.cfg->id);
    offer(b, c, *to, "transfer from " + a.cfg->id, {cand});
    dispatch_agent_queues(b, a);
    return;
  }
  const config::Queue* q = ws.queue(m.to_queue_id());
  if (!q) {
    error_to(a.routing_id, v1::Error::CODE_INVALID, "no such queue in this workspace",
             m.conversation_id());
    return;
  }
  release(b, a, c.summary().conversation_id());
  note(b, c, text);
  // The new queue's overflow chain replaces the old one's, counted from now.
  cancel_overflow(b, c);
  c.mutable_summary()->set_queue_id(q->id);
  c.mutable_skills()->clear();
  for (const auto& [skill, level] : q->skills) (*c.mutable_skills())[skill] = level;
  c.clear_extra_queues();
  c.set_overflow_stage(0);
  arm_overflow(b, c, clock_.now_ms());
  c.clear_sticky_agent_id();
  if (std::find(c.rejected_by().begin(), c.rejected_by().end(), a.cfg->id) == c.rejected_by().end())
    c.add_rejected_by(a.cfg->id);  // not straight back to the sender
  conversation_gone(a, c.summary().conversation_id(), "transferred to queue " + q->id);
  routing_event(
      b, c, v1::RoutingEvent::KIND_TRANSFERRED, a.cfg->id,
      fmt::format("transfer to queue {}{}", q->id, m.note().empty() ? "" : " (with a note)"));
  enqueue(b, c, fmt::format("transfer by {} to queue {}", a.cfg->id, q->id));
  dispatch(b, a.workspace, q->id);
  dispatch_agent_queues(b, a);
}

void Engine::arm_overflow(Store::Batch& b, Conversation& c, int64_t since) {
  c.set_overflow_since_ms(since);
  const config::Queue* q = queue_cfg(c.summary().workspace_id(), c.summary().queue_id());
  if (!q) return;
  for (size_t i = 0; i < q->overflow.size(); ++i) {
    add_durable_timer(b, since + q->overflow[i].after_ms,
                      {TimerKind::kOverflow,
                       c.summary().workspace_id(),
                       c.summary().conversation_id(),
                       std::to_string(i + 1),
                       {}});
  }
}

void Engine::cancel_overflow(Store::Batch& b, const Conversation& c) {
  const config::Queue* q = queue_cfg(c.summary().workspace_id(), c.summary().queue_id());
  if (!q) return;
  const int64_t since =
      c.overflow_since_ms() > 0 ? c.overflow_since_ms() : c.summary().created_at_ms();
  for (size_t i = c.overflow_stage(); i < q->overflow.size(); ++i)
    cancel_timer(b, since + q->overflow[i].after_ms, TimerKind::kOverflow,
                 c.summary().workspace_id(), c.summary().conversation_id(), std::to_string(i + 1));
}

void Engine::on_force_assign(Store::Batch& b, AgentRt& a, const v1::ForceAssign& m) {
  if (!a.cfg->supervisor) {
    error_to(a.routing_id, v1::Error::CODE_UNAUTHORIZED, "only supervisors may force-assign",
             m.conversation_id());
    return;
  }
  Conversation c;
  if (!load_conversation(b, a.workspace, m.conversation_id(), c) ||
      c.state() == v1::store::CONVERSATION_STATE_RESOLVED) {
    error_to(a.routing_id, v1::Error::CODE_NOT_FOUND, "no open conversation with this id",
             m.conversation_id());
    return;
  }
  AgentRt* to = agent(a.workspace, m.agent_id());
  std::string why;
  if (!to) {
    error_to(a.routing_id, v1::Error::CODE_INVALID, "no such agent in this workspace",
             m.conversation_id());
    return;
  }
  if (c.agent_id() == to->cfg->id && c.state() == v1::store::CONVERSATION_STATE_ASSIGNED) return;
  const bool held_by_target = in_round(c, to->cfg->id);
  if (!held_by_target && !can_hold(*to, c, false, &why)) {
    error_to(a.routing_id, v1::Error::CODE_CONFLICT,
             fmt::format("{} cannot take it now: {}", to->cfg->id, why), m.conversation_id());
    return;
  }
  const std::string previous = c.agent_id();
  take_back(b, c, "reassigned by supervisor " + a.cfg->id);
  note(b, c,
       fmt::format("Assigned to {} by supervisor {}{}", to->cfg->id, a.cfg->id,
                   m.note().empty() ? "" : ": " + m.note()));
  c.set_offer_count(c.offer_count() + 1);
  c.set_offer_id(fmt::format("{}/{}", c.summary().conversation_id(), c.offer_count()));
  c.set_state(v1::store::CONVERSATION_STATE_ASSIGNED);
  c.set_agent_id(to->cfg->id);
  c.set_accepted_count(c.accepted_count() + 1);
  save_conversation(b, c);
  to->hold(c.summary().conversation_id(), c.summary().channel());
  b.put(Cf::kAgents, ckey(to->workspace, to->cfg->id) + "/" + c.summary().conversation_id(), "");
  to->idle_since_ms = clock_.now_ms();
  save_agent(b, *to);
  routing_event(b, c, v1::RoutingEvent::KIND_FORCE_ASSIGNED, to->cfg->id,
                fmt::format("force-assigned by supervisor {}{}", a.cfg->id,
                            previous.empty() ? "" : " (was " + previous + ")"));
  v1::AgentFrame f;
  *f.mutable_assignment() = assignment(b, c, c.offer_id());
  send(*to, std::move(f));
  if (AgentRt* prev = agent(a.workspace, previous); prev && prev != to && prev->online())
    dispatch_agent_queues(b, *prev);
}

// ------------------------------------------------------------------ timers

int64_t Engine::next_timer_ms() const {
  return timers_.empty() ? INT64_MAX : timers_.begin()->first.first;
}

void Engine::apply_timers(Store::Batch& b) {
  const int64_t now = clock_.now_ms();
  // At most max_batch per step, so a backlog of due timers (after a long downtime) does not
  // stall the loop; the rest fire in the next steps.
  int budget = cfg_->router.max_batch;
  while (!timers_.empty() && timers_.begin()->first.first <= now && budget-- > 0) {
    Timer t = std::move(timers_.begin()->second);
    timers_.erase(timers_.begin());
    if (!t.key.empty()) b.del(Cf::kTimers, t.key);
    fire(b, t);
  }
}

void Engine::fire(Store::Batch& b, const Timer& t) {
  const int64_t now = clock_.now_ms();
  switch (t.kind) {
    case TimerKind::kOfferExpiry: {
      Conversation c;
      if (load_conversation(b, t.workspace, t.id, c) &&
          c.state() == v1::store::CONVERSATION_STATE_OFFERED && c.offer_id() == t.ref) {
        const std::vector<std::string> round = round_of(c);
        withdraw_offer(b, c, "offer expired", true);
        dispatch(b, t.workspace, c.summary().queue_id());
        for (const auto& q : c.extra_queues()) dispatch(b, t.workspace, q);
        for (const auto& agent_id : round)  // freed capacity may fit something elsewhere
          if (AgentRt* a = agent(t.workspace, agent_id); a && a->online())
            dispatch_agent_queues(b, *a);
      }
      return;
    }
    case TimerKind::kSla: {
      // ref = <target>/<warn|breach>/<due>: stale when the target was met or moved.
      const auto p1 = t.ref.find('/'), p2 = t.ref.rfind('/');
      if (p1 == std::string::npos || p2 == p1) return;
      const std::string target = t.ref.substr(0, p1);
      const bool breach = t.ref.compare(p1 + 1, p2 - p1 - 1, "breach") == 0;
      const int64_t due = std::stoll(t.ref.substr(p2 + 1));
      Conversation c;
      if (!load_conversation(b, t.workspace, t.id, c) ||
          c.state() == v1::store::CONVERSATION_STATE_RESOLVED || sla_due_of(c, target) != due)
        return;
      const std::string mark = fmt::format("{}@{}", target, due);
      if (breach) {
        ++counters_.sla_breaches;
        c.add_sla_breached(mark);
        save_conversation(b, c);
        routing_event(b, c, v1::RoutingEvent::KIND_SLA_BREACH, c.agent_id(),
                      fmt::format("{} target of policy '{}' passed {} ms ago", target,
                                  c.sla_policy(), now - due));
      } else {
        ++counters_.sla_warnings;
        c.add_sla_warned(mark);
        save_conversation(b, c);
        routing_event(b, c, v1::RoutingEvent::KIND_SLA_WARNING, c.agent_id(),
                      fmt::format("{} due in {} ms (policy '{}'); priority raised to {}", target,
                                  due - now, c.sla_policy(), std::min(9, c.priority() + 1)));
      }
      raise_priority(b, c, "SLA " + std::string(breach ? "breach" : "warning"));
      if (c.state() == v1::store::CONVERSATION_STATE_QUEUED) {
        dispatch(b, t.workspace, c.summary().queue_id());
        for (const auto& q : c.extra_queues()) dispatch(b, t.workspace, q);
      }
      return;
    }
    case TimerKind::kOverflow: {
      Conversation c;
      if (!load_conversation(b, t.workspace, t.id, c) ||
          c.state() == v1::store::CONVERSATION_STATE_RESOLVED)
        return;
      const config::Queue* q = cfg_->workspace(t.workspace)->queue(c.summary().queue_id());
      const uint32_t stage = static_cast<uint32_t>(std::stoul(t.ref));
      if (!q || stage > q->overflow.size() || stage <= c.overflow_stage()) return;
      const bool queued = c.state() == v1::store::CONVERSATION_STATE_QUEUED;
      if (queued) queue_remove(b, c);
      const auto& step = q->overflow[stage - 1];
      for (const auto& target : step.queues) {
        if (target != c.summary().queue_id() &&
            std::find(c.extra_queues().begin(), c.extra_queues().end(), target) ==
                c.extra_queues().end())
          c.add_extra_queues(target);
      }
      c.set_overflow_stage(stage);
      if (queued) queue_put(b, c);
      save_conversation(b, c);
      ++counters_.overflows;
      routing_event(
          b, c, v1::RoutingEvent::KIND_OVERFLOW, {},
          fmt::format(
              "step {} after {} s: {}{}", stage, step.after_ms / 1000,
              step.queues.empty() ? std::string("no more queues")
                                  : "also queues " + fmt::format("{}", fmt::join(step.queues, ",")),
              step.relax_skills > 0 ? fmt::format(", skill levels relaxed by {}", step.relax_skills)
                                    : std::string()));
      if (queued) {
        dispatch(b, t.workspace, c.summary().queue_id());
        for (const auto& x : c.extra_queues()) dispatch(b, t.workspace, x);
      }
      return;
    }
    case TimerKind::kSticky: {
      Conversation c;
      if (!load_conversation(b, t.workspace, t.id, c) ||
          c.state() != v1::store::CONVERSATION_STATE_QUEUED ||
          std::to_string(c.sticky_until_ms()) != t.ref)
        return;
      routing_event(b, c, v1::RoutingEvent::KIND_QUEUED, {},
                    "stopped waiting for " + c.sticky_agent_id() + " (sticky wait over)");
      dispatch(b, t.workspace, c.summary().queue_id());
      for (const auto& q : c.extra_queues()) dispatch(b, t.workspace, q);
      return;
    }
    case TimerKind::kGrace: {
      AgentRt* a = agent(t.workspace, t.id);
      // Stale when the desk came back (and maybe left again: another timer covers that).
      if (!a || !a->routing_id.empty() || std::to_string(a->offline_since_ms) != t.ref) return;
      std::vector<std::string> held;
      for (const auto& [cid, ch] : a->conversations) held.push_back(cid);
      std::set<std::string> queues;
      for (const auto& cid : held) {
        Conversation c;
        if (!load_conversation(b, t.workspace, cid, c) ||
            c.state() != v1::store::CONVERSATION_STATE_ASSIGNED || c.agent_id() != a->cfg->id)
          continue;
        release(b, *a, cid);
        ++counters_.requeued;
        routing_event(b, c, v1::RoutingEvent::KIND_REQUEUED, a->cfg->id,
                      fmt::format("agent offline for {} ms (presence grace {} ms)",
                                  now - std::stoll(t.ref), cfg_->router.presence_grace_ms));
        c.set_queue_due_ms(0);  // the front of its priority
        enqueue(b, c, "taken back from " + a->cfg->id + " (gone past grace)");
        queues.insert(c.summary().queue_id());
        for (const auto& q : c.extra_queues()) queues.insert(q);
      }
      for (const auto& q : queues) dispatch(b, t.workspace, q);
      return;
    }
    case TimerKind::kShift: {
      AgentRt* a = agent(t.workspace, t.id);
      if (!a) return;
      if (a->online() && a->on_shift(now)) {
        log_->info("{}/{} shift started", a->workspace, a->cfg->id);
        dispatch_agent_queues(b, *a);
      }
      arm_shift(*a, now);
      return;
    }
    case TimerKind::kReconnectGrace: {
      // Desks connected when the router stopped and not back since. Those already gone
      // before have their durable grace timer.
      for (auto& [k, a] : agents_) {
        if (a.routing_id.empty() && a.offline_since_ms == 0 && !a.conversations.empty())
          desk_gone(b, a, "did not reconnect after restart");
      }
      return;
    }
    case TimerKind::kHeartbeat: {
      for (auto& [k, a] : agents_) {
        if (a.routing_id.empty()) continue;
        if (now - a.last_seen_ms > cfg_->router.heartbeat_timeout_ms) {
          desk_gone(b, a, fmt::format("no heartbeat for {} ms", now - a.last_seen_ms));
          continue;
        }
        v1::AgentFrame f;
        f.mutable_heartbeat();
        send(a, std::move(f));
      }
      add_timer(now + cfg_->router.heartbeat_interval_ms, {TimerKind::kHeartbeat, {}, {}, {}, {}});
      return;
    }
  }
}

}  // namespace omniroute::router
