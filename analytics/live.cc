#include <algorithm>
#include <map>
#include <vector>

#include "analytics/model.h"
#include "ops/metrics.h"

namespace omniroute::analytics {

nlohmann::json picture(const Live& live, const std::string& ws, int64_t now_ms,
                       const std::vector<std::string>& queue_ids, const std::string& find,
                       size_t max_agents) {
  nlohmann::json j = {{"workspace", ws}, {"at_ms", now_ms}};
  struct Row {
    uint64_t waiting = 0, offered = 0, assigned = 0, sla_risk = 0, sla_breached = 0;
    int64_t oldest_ms = 0;
  };
  std::map<std::string, Row> queues, channels, inboxes;
  Row total;
  for (const auto& q : queue_ids) queues[q];  // every queue shows, empty ones too
  std::map<std::string, uint64_t> presence{
      {"available", 0}, {"busy", 0}, {"away", 0}, {"offline", 0}};
  nlohmann::json agents = nlohmann::json::array();
  std::vector<std::pair<const std::string*, const Live::Agent*>> matching;
  {
    for (const auto& [id, c] : live.conversations) {
      for (Row* r : {&queues[c.queue], &channels[ops::channel_label(c.channel)], &inboxes[c.inbox],
                     &total}) {
        if (c.state == v1::analytics::ConversationFacts::STATE_QUEUED) {
          ++r->waiting;
          if (c.queued_since_ms > 0 && (r->oldest_ms == 0 || c.queued_since_ms < r->oldest_ms))
            r->oldest_ms = c.queued_since_ms;
          if (c.offered) ++r->offered;
        } else {
          ++r->assigned;
        }
        if (c.sla_risk) ++r->sla_risk;
        if (c.sla_breached) ++r->sla_breached;
      }
    }
    for (const auto& [id, a] : live.agents) {
      const std::string state = a.presence == "available" && a.holding > 0 ? "busy" : a.presence;
      ++presence[state];
      if (find.empty() || id.find(find) != std::string::npos) matching.emplace_back(&id, &a);
    }
  }
  // The agents shown: those holding most first, then by id; a board of 10,000 agents sends
  // the first `max_agents` of those matching what the supervisor typed, not all of them.
  const size_t shown = std::min(matching.size(), max_agents);
  std::partial_sort(matching.begin(), matching.begin() + static_cast<std::ptrdiff_t>(shown),
                    matching.end(), [](const auto& x, const auto& y) {
                      return x.second->holding != y.second->holding
                                 ? x.second->holding > y.second->holding
                                 : *x.first < *y.first;
                    });
  for (size_t i = 0; i < shown; ++i) {
    const auto& [id, a] = matching[i];
    agents.push_back({{"agent", *id},
                      {"presence", a->presence},
                      {"since_ms", a->since_ms},
                      {"holding", a->holding},
                      {"bot", a->bot}});
  }
  auto rows = [&](const std::map<std::string, Row>& m) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [k, r] : m) {
      out.push_back(
          {{"id", k},
           {"waiting", r.waiting},
           {"longest_wait_s", r.oldest_ms ? std::max<int64_t>(0, now_ms - r.oldest_ms) / 1000 : 0},
           {"offered", r.offered},
           {"assigned", r.assigned},
           {"sla_risk", r.sla_risk},
           {"sla_breached", r.sla_breached}});
    }
    return out;
  };
  j["total"] = rows({{"all", total}})[0];
  j["queues"] = rows(queues);
  j["channels"] = rows(channels);
  j["inboxes"] = rows(inboxes);
  j["agents_by_presence"] = presence;
  j["agents"] = agents;
  j["agents_matching"] = matching.size();
  j["agents_total"] = live.agents.size();
  return j;
}

}  // namespace omniroute::analytics
