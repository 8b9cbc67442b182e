#include "router/policy.h"

#include <algorithm>

#include <fmt/format.h>

namespace omniroute::router {

Unfit fit(const AgentRt& a, const v1::store::Conversation& c, int relax, int64_t now,
          std::string* why) {
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

const Choice* Policy::choose(const v1::store::Conversation& c, const std::vector<AgentRt*>& pool,
                             const std::vector<AgentRt*>& serving, config::Strategy strategy,
                             const std::string& cursor, int relax, int64_t now) {
  eligible_.clear();
  unfit_.clear();
  for (AgentRt* a : pool) {
    if (fit(*a, c, relax, now, nullptr) == Unfit::kOk)
      eligible_.push_back(a);
    else if (unfit_.size() < kUnfitShown)
      unfit_.push_back(a);
  }
  if (eligible_.empty()) return nullptr;
  // Order: the sticky agent first, then the queue's strategy; ties by id so decisions
  // are reproducible. Each agent's rank key is computed once, then only the best few are
  // put in order.
  ranked_.clear();
  for (AgentRt* a : eligible_) {
    const bool sticky = a->id == c.sticky_agent_id();
    switch (strategy) {
      case config::Strategy::kLeastBusy:
        ranked_.push_back({!sticky, a->total_load, a->idle_since_ms, a->id, a});
        break;
      case config::Strategy::kRoundRobin:
        // The next id after the last one offered, wrapping around.
        ranked_.push_back({!sticky, a->id <= cursor ? 1 : 0, 0, a->id, a});
        break;
      default:
        ranked_.push_back({!sticky, a->idle_since_ms, 0, a->id, a});
    }
  }
  const size_t shown = std::min(eligible_.size(), kShown);
  std::partial_sort(ranked_.begin(), ranked_.begin() + static_cast<std::ptrdiff_t>(shown),
                    ranked_.end());
  Choice& ch = choice_;
  ch.ranked.clear();
  for (size_t i = 0; i < shown; ++i) ch.ranked.push_back(ranked_[i].agent);
  ch.eligible = eligible_.size();
  const AgentRt* winner = ch.ranked.front();
  if (winner->id == c.sticky_agent_id()) {
    ch.why = "sticky: served this customer last";
  } else {
    switch (strategy) {
      case config::Strategy::kLeastBusy:
        ch.why =
            fmt::format("least busy ({} open) of {} eligible", winner->total_load, ch.eligible);
        break;
      case config::Strategy::kRoundRobin:
        ch.why = fmt::format("round robin after '{}' among {} eligible", cursor, ch.eligible);
        break;
      default:
        ch.why = fmt::format("longest idle of {} eligible", ch.eligible);
    }
  }
  ch.considered.clear();
  ch.considered.reserve(shown + std::min<size_t>(kUnfitShown, serving.size() - ch.eligible));
  for (size_t i = 0; i < shown; ++i) {
    v1::RoutingEvent::Candidate cand;
    cand.set_agent_id(ch.ranked[i]->id);
    cand.set_eligible(true);
    cand.set_reason(fmt::format("rank {}: idle since {}, {} open", i + 1,
                                ch.ranked[i]->idle_since_ms, ch.ranked[i]->total_load));
    ch.considered.push_back(std::move(cand));
  }
  // Up to 16 who could not: present agents with the reason, then absent ones.
  size_t unfit_shown = 0;
  for (const AgentRt* a : unfit_) {
    v1::RoutingEvent::Candidate cand;
    cand.set_agent_id(a->id);
    std::string reason;
    (void)fit(*a, c, relax, now, &reason);  // the reason is what is wanted here
    cand.set_reason(reason);
    ch.considered.push_back(std::move(cand));
    ++unfit_shown;
  }
  for (const AgentRt* a : serving) {
    if (unfit_shown >= kUnfitShown || pool.size() == serving.size()) break;  // nobody absent
    if (a->present(now)) continue;                                           // in the pool
    v1::RoutingEvent::Candidate cand;
    cand.set_agent_id(a->id);
    cand.set_reason(a->routing_id.empty() ? "offline"
                    : !a->online()        ? "away"
                    : a->bot              ? "bot desk (bot-first queues only)"
                                          : "off shift");
    ch.considered.push_back(std::move(cand));
    ++unfit_shown;
  }
  return &ch;
}

}  // namespace omniroute::router
