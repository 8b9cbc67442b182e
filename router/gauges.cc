#include "router/gauges.h"

#include <array>
#include <map>
#include <string>

#include "ops/metrics.h"
#include "router/engine.h"
#include "router/parts.h"

namespace omniroute::router {
namespace {

enum Presence { kAvailable, kBusy, kAway, kOffline, kPresences };
constexpr std::array<const char*, kPresences> kPresenceNames = {"available", "busy", "away",
                                                                "offline"};

Presence presence_of(const AgentRt& a) {
  if (a.routing_id.empty()) return kOffline;
  if (a.presence != v1::PRESENCE_AVAILABLE) return kAway;
  return a.has_any_room() ? kAvailable : kBusy;
}

}  // namespace

void report_gauges(Parts& p) {
  auto& m = ops::metrics();
  std::map<std::string, std::array<int, kPresences>> agents;
  for (const auto& ws : p.cfg->workspaces) {
    agents[ws.id] = {};
    for (const auto& q : ws.queues) {
      const auto* waiting = p.queues.waiting(ws.id, q.id);
      m.waiting.Add({{"workspace", ws.id}, {"queue", q.id}})
          .Set(waiting ? static_cast<double>(waiting->size()) : 0.0);
    }
  }
  for (const auto& [key, a] : p.agents.all()) {
    auto it = agents.find(a.workspace);
    if (it != agents.end()) ++it->second[presence_of(a)];
  }
  for (const auto& [ws, counts] : agents) {
    for (int i = 0; i < kPresences; ++i)
      m.agents.Add({{"workspace", ws}, {"presence", kPresenceNames[static_cast<size_t>(i)]}})
          .Set(counts[static_cast<size_t>(i)]);
  }
}

void Engine::report_gauges() {
  router::report_gauges(*p_);
}

}  // namespace omniroute::router
