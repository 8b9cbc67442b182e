#include "router/engine.h"

#include <fmt/format.h>

#include "common/ids.h"
#include "router/frames/frames.h"
#include "router/keys.h"

namespace omniroute::router {

int64_t SystemClock::now_ms() {
  return omniroute::now_ms();
}

Engine::Engine(const config::Config& cfg, Store& store, Clock& clock)
    : p_(std::make_unique<Parts>(cfg, store, clock)) {}

Engine::~Engine() = default;

void Engine::load() {
  Parts& p = *p_;
  const int64_t now = p.clock.now_ms();
  p.agents.load();
  p.queues.index();
  const size_t queued = p.queues.load();
  const size_t durable = p.timers.load(p.store);
  p.agents.arm_shifts(now);
  // Desks get one heartbeat timeout to come back after a restart before their open
  // offers go to someone else.
  p.timers.add(now + p.cfg->router.heartbeat_timeout_ms,
               {TimerKind::kReconnectGrace, {}, {}, {}, {}});
  p.timers.add(now + p.cfg->router.heartbeat_interval_ms, {TimerKind::kHeartbeat, {}, {}, {}, {}});
  p.log->info("state loaded: {} agents, {} queued conversations, {} timers", p.agents.all().size(),
              queued, durable);
}

Status Engine::reconfigure(Store::Batch& b, std::shared_ptr<const config::Config> next) {
  Parts& p = *p_;
  // What the new config may not drop: queues with waiting conversations, agents holding
  // conversations. Refused as a whole, so the running config stays consistent.
  std::vector<std::string> problems;
  for (const auto& [key, waiting] : p.queues.all()) {
    if (waiting.empty()) continue;
    const auto slash = key.find('/');
    const config::Workspace* ws = next->workspace(key.substr(0, slash));
    if (!ws || !ws->queue(key.substr(slash + 1)))
      problems.push_back(fmt::format("queue {} has {} waiting conversations", key, waiting.size()));
  }
  for (const auto& [key, a] : p.agents.all()) {
    const config::Workspace* ws = next->workspace(a.workspace);
    if ((!ws || !ws->agent(a.cfg->id)) && !a.conversations.empty())
      problems.push_back(
          fmt::format("agent {} holds {} conversations", key, a.conversations.size()));
  }
  if (!problems.empty())
    return {Errc::kConflict,
            fmt::format("{}: transfer or finish them first", fmt::join(problems, "; "))};

  const int64_t now = p.clock.now_ms();
  p.cfg = next.get();
  p.agents.reconfigure(b);
  p.queues.index();
  p.desks.end_revoked_sessions(b);
  // Shift boundaries follow the new schedules.
  p.timers.erase_kind(TimerKind::kShift);
  p.agents.arm_shifts(now);
  owned_cfg_ = std::move(next);  // the previous config is released only now
  // Capacity, skills, shifts or agents may have changed: whatever can move now, moves.
  p.dispatch.all(b);
  return {};
}

void Engine::apply_record(Store::Batch& b, const std::string& topic, int32_t partition,
                          int64_t offset, std::string_view key, std::string_view value) {
  p_->inbound.apply_record(b, topic, partition, offset, key, value);
}

void Engine::apply_desk(Store::Batch& b, const std::string& rid, std::string_view bytes,
                        const std::string& peer_key) {
  frames::apply(*p_, b, rid, bytes, peer_key);
}

void Engine::apply_timers(Store::Batch& b) {
  const int64_t now = p_->clock.now_ms();
  // At most max_batch per step, so a backlog of due timers (after a long downtime) does not
  // stall the loop; the rest fire in the next steps.
  int budget = p_->cfg->router.max_batch;
  while (budget-- > 0) {
    std::optional<Timer> t = p_->timers.pop_due(b, now);
    if (!t) break;
    fire(b, *t);
  }
}

// Each kind of timer belongs to the part that armed it.
void Engine::fire(Store::Batch& b, const Timer& t) {
  Parts& p = *p_;
  switch (t.kind) {
    case TimerKind::kOfferExpiry:
      return p.offers.expired(b, t);
    case TimerKind::kSla:
      return p.sla.fire_sla(b, t);
    case TimerKind::kOverflow:
      return p.sla.fire_overflow(b, t);
    case TimerKind::kSticky:
      return p.sla.fire_sticky(b, t);
    case TimerKind::kGrace:
      return p.offers.grace_over(b, t);
    case TimerKind::kSnooze:
      return p.snoozes.fire(b, t);
    case TimerKind::kShift:
      if (AgentRt* a = p.agents.find(t.workspace, t.id)) {
        const int64_t now = p.clock.now_ms();
        if (a->online() && a->on_shift(now)) {
          p.log->info("{}/{} shift started", a->workspace, a->cfg->id);
          p.dispatch.agent_queues(b, *a);
        }
        p.agents.arm_shift(*a, now);
      }
      return;
    case TimerKind::kReconnectGrace:
      return p.desks.reconnect_grace_over(b);
    case TimerKind::kHeartbeat:
      return p.desks.heartbeat(b);
  }
}

void Engine::prepare_commit(Store::Batch& b) {
  p_->outbox.flush_seqs(b);
}

std::vector<std::string> Engine::session_routing_ids() const {
  return p_->desks.routing_ids();
}

void Engine::resync_desk(const std::string& rid) {
  p_->desks.resync(rid);
}

void Engine::desks_read_until(int64_t ms) {
  p_->desks.read_until(ms);
}

std::optional<Store::CommitError> Engine::try_commit(Store::Batch& b) {
  p_->outbox.flush_seqs(b);
  return p_->store.try_commit(b);
}

std::string Engine::commit(Store::Batch& b) {
  auto e = try_commit(b);
  return e ? e->message : std::string();
}

std::map<int32_t, int64_t> Engine::stored_offsets(const std::string& topic) {
  std::map<int32_t, int64_t> out;
  const std::string prefix = keys::offsets_of(topic);
  p_->store.scan(Cf::kMeta, prefix, [&](std::string_view k, std::string_view v) {
    out[std::stoi(std::string(k.substr(prefix.size())))] = std::stoll(std::string(v));
    return true;
  });
  return out;
}

}  // namespace omniroute::router
