#include "router/queues.h"

#include <optional>

#include "router/keys.h"
#include "router/parts.h"

namespace omniroute::router {

using v1::store::Conversation;

void Queues::index() {
  cfgs_.clear();
  serving_.clear();
  for (const auto& ws : p_.cfg->workspaces)
    for (const auto& q : ws.queues) cfgs_[keys::scoped(ws.id, q.id)] = &q;
  // Who serves which queue, so a decision looks at those agents only. An agent without a
  // queue list serves every queue of its workspace.
  for (auto& [k, a] : p_.agents.all()) {
    const config::Workspace* ws = p_.cfg->workspace(a.workspace);
    if (a.cfg->queues.empty()) {
      for (const auto& q : ws->queues) serving_[keys::scoped(a.workspace, q.id)].push_back(&a);
    } else {
      for (const auto& q : a.cfg->queues) serving_[keys::scoped(a.workspace, q)].push_back(&a);
    }
  }
}

size_t Queues::load() {
  size_t queued = 0;
  p_.store.scan(Cf::kQueue, "", [&](std::string_view k, std::string_view v) {
    auto e = keys::parse_queue_entry(k);
    if (!e) return true;
    std::string cv;
    Conversation c;
    if (!p_.store.get(Cf::kConversations, keys::scoped(e->workspace, v), &cv) ||
        !c.ParseFromString(cv))
      return true;
    queues_[keys::scoped(e->workspace, e->queue)].emplace(-e->priority, e->due, e->seq,
                                                          std::string(v), c.summary().channel());
    ++queued;
    return true;
  });
  p_.store.scan(Cf::kMeta, keys::kRrCursors, [&](std::string_view k, std::string_view v) {
    cursors_[std::string(k.substr(keys::kRrCursors.size()))] = std::string(v);
    return true;
  });
  return queued;
}

const config::Queue* Queues::cfg(const std::string& ws, const std::string& queue) const {
  auto it = cfgs_.find(keys::scoped(ws, queue));
  return it == cfgs_.end() ? nullptr : it->second;
}

const std::vector<AgentRt*>& Queues::serving(const std::string& ws, const std::string& queue) {
  return serving_[keys::scoped(ws, queue)];
}

Queues::Waiting* Queues::waiting(const std::string& ws, const std::string& queue) {
  auto it = queues_.find(keys::scoped(ws, queue));
  return it == queues_.end() ? nullptr : &it->second;
}

void Queues::put(Store::Batch& b, const Conversation& c) {
  const auto& s = c.summary();
  auto put = [&](const std::string& queue) {
    queues_[keys::scoped(s.workspace_id(), queue)].emplace(
        -c.priority(), c.queue_due_ms(), c.queue_seq(), s.conversation_id(), s.channel());
    b.put(Cf::kQueue,
          keys::queue_entry(s.workspace_id(), queue, c.priority(), c.queue_due_ms(), c.queue_seq()),
          s.conversation_id());
  };
  put(s.queue_id());
  for (const auto& q : c.extra_queues()) put(q);
}

void Queues::remove(Store::Batch& b, const Conversation& c) {
  const auto& s = c.summary();
  auto remove = [&](const std::string& queue) {
    auto it = queues_.find(keys::scoped(s.workspace_id(), queue));
    if (it != queues_.end()) {
      it->second.erase(
          {-c.priority(), c.queue_due_ms(), c.queue_seq(), s.conversation_id(), s.channel()});
    }
    b.del(Cf::kQueue, keys::queue_entry(s.workspace_id(), queue, c.priority(), c.queue_due_ms(),
                                        c.queue_seq()));
  };
  remove(s.queue_id());
  for (const auto& q : c.extra_queues()) remove(q);
}

Queues::Waiting::iterator Queues::drop_stale(Store::Batch& b, const std::string& ws,
                                             const std::string& queue, Waiting& q,
                                             Waiting::iterator it) {
  b.del(Cf::kQueue,
        keys::queue_entry(ws, queue, -std::get<0>(*it), std::get<1>(*it), std::get<2>(*it)));
  return q.erase(it);
}

const std::string& Queues::cursor(const std::string& ws, const std::string& queue) {
  return cursors_[keys::scoped(ws, queue)];
}

void Queues::set_cursor(Store::Batch& b, const std::string& ws, const std::string& queue,
                        const std::string& agent) {
  cursors_[keys::scoped(ws, queue)] = agent;
  b.put(Cf::kMeta, keys::rr_cursor(ws, queue), agent);  // survives restarts
}

void Queues::accepted(const std::string& ws, const std::string& queue, int64_t now) {
  auto& flow = flow_[keys::scoped(ws, queue)];
  if (flow.last_accept_ms > 0) {
    const double gap = static_cast<double>(now - flow.last_accept_ms);
    flow.gap_ms = flow.accepts <= 1 ? gap : 0.8 * flow.gap_ms + 0.2 * gap;
  }
  flow.last_accept_ms = now;
  ++flow.accepts;
}

void Queues::offered(const std::string& ws, const std::string& conversation) {
  told_position_.erase(keys::scoped(ws, conversation));
}

void Queues::notices(Store::Batch& b, const std::string& ws, const std::string& queue) {
  Waiting* q = waiting(ws, queue);
  if (!q) return;
  constexpr uint32_t kTold = 50;  // visitors further back hear when they get there
  uint32_t pos = 0;
  std::optional<uint32_t> available;
  for (const auto& entry : *q) {
    if (++pos > kTold) break;
    if (std::get<4>(entry) != v1::CHANNEL_CHAT) continue;
    const std::string& conv_id = std::get<3>(entry);
    auto& told = told_position_[keys::scoped(ws, conv_id)];
    if (told == pos) continue;
    Conversation c;
    if (!p_.conversations.load(b, ws, conv_id, c) ||
        c.state() != v1::store::CONVERSATION_STATE_QUEUED)
      continue;
    told = pos;
    if (!available) {
      const int64_t now = p_.clock.now_ms();
      uint32_t n = 0;
      for (const AgentRt* a : serving(ws, queue))
        if (a->online() && !a->bot && a->presence == v1::PRESENCE_AVAILABLE && a->on_shift(now))
          ++n;
      available = n;
    }
    const auto& flow = flow_[keys::scoped(ws, queue)];
    v1::ChannelNotice n;
    n.set_kind(v1::ChannelNotice::KIND_QUEUE);
    n.set_queue_position(pos);
    n.set_agents_available(*available);
    if (flow.accepts >= 2 && *available > 0)
      n.set_expected_wait_s(static_cast<uint32_t>(flow.gap_ms * pos / 1000.0 + 0.5));
    p_.outbox.notice(b, c, n, nullptr);
  }
}

}  // namespace omniroute::router
