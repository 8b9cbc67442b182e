#include "router/dispatch.h"

#include <algorithm>
#include <chrono>

#include "router/keys.h"
#include "router/parts.h"

namespace omniroute::router {

using v1::store::Conversation;

void Dispatch::enqueue(Store::Batch& b, Conversation& c, const std::string& reason) {
  if (c.queue_seq() == 0) c.set_queue_seq(p_.outbox.next_seq(b, "queue"));
  c.set_state(v1::store::CONVERSATION_STATE_QUEUED);
  c.clear_agent_id();
  c.set_queued_at_ms(p_.clock.now_ms());
  p_.queues.put(b, c);
  p_.conversations.save(b, c);
  p_.outbox.routing_event(b, c, v1::RoutingEvent::KIND_QUEUED, {}, reason);
}

void Dispatch::run_for(Store::Batch& b, const Conversation& c) {
  const std::string& ws = c.summary().workspace_id();
  run(b, ws, c.summary().queue_id());
  for (const auto& q : c.extra_queues()) run(b, ws, q);
}

void Dispatch::agent_queues(Store::Batch& b, const AgentRt& a) {
  const config::Workspace* ws = p_.cfg->workspace(a.workspace);
  if (a.cfg->queues.empty()) {
    for (const auto& q : ws->queues) run(b, a.workspace, q.id);
  } else {
    for (const auto& q : a.cfg->queues) run(b, a.workspace, q);
  }
}

void Dispatch::all(Store::Batch& b) {
  std::vector<std::pair<std::string, std::string>> waiting;
  for (const auto& [key, q] : p_.queues.all()) {
    if (q.empty()) continue;
    const auto slash = key.find('/');
    waiting.emplace_back(key.substr(0, slash), key.substr(slash + 1));
  }
  for (const auto& [ws, q] : waiting) run(b, ws, q);
}

int Dispatch::relaxed_levels(const Conversation& c) const {
  if (c.overflow_stage() == 0) return 0;
  const config::Queue* q = p_.queues.cfg(c.summary().workspace_id(), c.summary().queue_id());
  int r = 0;
  for (uint32_t i = 0; q && i < c.overflow_stage() && i < q->overflow.size(); ++i)
    r += q->overflow[i].relax_skills;
  return r;
}

void Dispatch::run(Store::Batch& b, const std::string& ws, const std::string& queue) {
  Queues::Waiting* waiting = p_.queues.waiting(ws, queue);
  if (!waiting || waiting->empty()) return;
  auto& q = *waiting;
  const int64_t now = p_.clock.now_ms();
  const config::Queue* qcfg = p_.queues.cfg(ws, queue);
  const auto strategy = qcfg ? qcfg->strategy : config::Strategy::kLongestIdle;
  const std::vector<AgentRt*>& serving = p_.queues.serving(ws, queue);
  pool_.clear();
  for (AgentRt* a : serving)
    if (a->present(now)) pool_.push_back(a);
  // Whether anyone in the pool has room at all: recomputed only after an offer.
  auto room_left = [&] {
    return std::any_of(pool_.begin(), pool_.end(),
                       [](const AgentRt* a) { return a->has_any_room(); });
  };
  bool room = room_left();
  for (auto it = q.begin(); it != q.end() && room;) {
    const v1::Channel ch = std::get<4>(*it);
    // Skip without reading the conversation when nobody has room on its channel.
    if (std::none_of(pool_.begin(), pool_.end(),
                     [ch](const AgentRt* a) { return a->has_room(ch); })) {
      ++it;
      continue;
    }
    const std::string conv_id = std::get<3>(*it);
    Conversation c;
    if (!p_.conversations.load(b, ws, conv_id, c) ||
        c.state() != v1::store::CONVERSATION_STATE_QUEUED) {
      it = p_.queues.drop_stale(b, ws, queue, q, it);
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const int relax = c.skills().empty() ? 0 : relaxed_levels(c);
    const Choice* choice =
        policy_.choose(c, pool_, serving, strategy, p_.queues.cursor(ws, queue), relax, now);
    p_.counters.decision_ns += static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count());
    ++p_.counters.decisions;
    if (!choice) {
      ++it;
      continue;
    }
    AgentRt* winner = choice->ranked.front();
    p_.queues.remove(b, c);
    it = q.upper_bound(std::make_tuple(-c.priority(), c.queue_due_ms(), c.queue_seq(),
                                       c.summary().conversation_id(), ch));
    if (strategy == config::Strategy::kRoundRobin) p_.queues.set_cursor(b, ws, queue, winner->id);
    std::string why = choice->why;
    if (queue != c.summary().queue_id()) why += " (overflow from " + c.summary().queue_id() + ")";
    // A parallel offer: the next best agents get it too (never when waiting for a sticky
    // agent: that one was chosen on purpose).
    std::vector<AgentRt*> also;
    if (qcfg && qcfg->parallel_offers > 1 && qcfg->parallel_channels.count(ch) &&
        winner->id != c.sticky_agent_id()) {
      for (size_t i = 1; i < choice->ranked.size() &&
                         also.size() + 1 < static_cast<size_t>(qcfg->parallel_offers);
           ++i)
        also.push_back(choice->ranked[i]);
    }
    p_.offers.offer(b, c, *winner, why, choice->considered, also);
    room = room_left();
  }
  p_.queues.notices(b, ws, queue);
}

}  // namespace omniroute::router
