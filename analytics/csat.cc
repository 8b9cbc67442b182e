#include "analytics/csat.h"

#include <cmath>

#include <fmt/format.h>

#include "analytics/report.h"
#include "omniroute/v1/analytics.pb.h"

namespace omniroute::analytics {

namespace {

double round2(double v) {
  return std::round(v * 100) / 100;
}

nlohmann::json group_json(const CsatGroup& g) {
  return {{"sent", g.sent},
          {"answered", g.answered},
          {"response_rate_percent", g.sent ? round2(100.0 * g.answered / g.sent) : 0.0},
          {"mean_of_5", g.answered ? round2(g.sum5 / g.answered) : 0.0},
          {"satisfied_percent", g.answered ? round2(100.0 * g.satisfied / g.answered) : 0.0}};
}

void add(CsatGroup& g, uint32_t rating5, bool satisfied) {
  ++g.answered;
  g.sum5 += rating5;
  if (satisfied) ++g.satisfied;
}

}  // namespace

void CsatReport::count_sent(const std::string& agent, const std::string& queue,
                            const std::string& channel, uint64_t n) {
  total.sent += n;
  by_agent[agent].sent += n;
  by_queue[queue].sent += n;
  by_channel[channel].sent += n;
}

void add_ratings(const Db& db, const Filter& f, CsatReport& r) {
  const std::string prefix = "r/" + f.workspace + "/";
  db.scan(prefix, prefix + keys::ms(f.from_ms), [&](std::string_view k, std::string_view v) {
    const std::string_view rest = k.substr(prefix.size());
    int64_t at = 0;
    for (char c : rest.substr(0, 13)) at = at * 10 + (c - '0');
    if (at >= f.to_ms) return false;
    v1::analytics::CsatRow row;
    if (!row.ParseFromArray(v.data(), static_cast<int>(v.size())) || row.rating() == 0) return true;
    if ((!f.queue.empty() && f.queue != row.queue_id()) ||
        (f.channel != v1::CHANNEL_UNSPECIFIED && f.channel != row.channel()) ||
        (!f.inbox.empty() && f.inbox != row.inbox_id()) ||
        (!f.language.empty() && f.language != row.language()) ||
        (!f.agent.empty() && f.agent != row.agent_id()))
      return true;
    const uint32_t r5 = row.scale() == 3 ? (row.rating() - 1) * 2 + 1 : row.rating();
    const bool satisfied = row.scale() == 3 ? row.rating() == 3 : row.rating() >= 4;
    add(r.total, r5, satisfied);
    add(r.by_agent[row.agent_id()], r5, satisfied);
    add(r.by_queue[row.queue_id()], r5, satisfied);
    add(r.by_channel[channel_name(row.channel())], r5, satisfied);
    if (r5 >= 1 && r5 <= 5) ++r.distribution[r5 - 1];
    return true;
  });
}

nlohmann::json to_json(const CsatReport& r) {
  nlohmann::json j = group_json(r.total);
  j["distribution"] = r.distribution;
  for (const auto& [name, map] :
       {std::pair{"by_agent", &r.by_agent}, std::pair{"by_queue", &r.by_queue},
        std::pair{"by_channel", &r.by_channel}}) {
    j[name] = nlohmann::json::array();
    for (const auto& [key, g] : *map) {
      auto row = group_json(g);
      row["name"] = key;
      j[name].push_back(std::move(row));
    }
  }
  return j;
}

void append_csv(const CsatReport& r, std::string& out) {
  const auto t = group_json(r.total);
  for (const char* k :
       {"sent", "answered", "response_rate_percent", "mean_of_5", "satisfied_percent"})
    out += fmt::format("csat,{},{}\n", k, t[k].dump());
  out += "\ncsat_by,name,sent,answered,mean_of_5,satisfied_percent\n";
  for (const auto& [name, map] : {std::pair{"agent", &r.by_agent}, std::pair{"queue", &r.by_queue},
                                  std::pair{"channel", &r.by_channel}})
    for (const auto& [key, g] : *map) {
      const auto j = group_json(g);
      out += fmt::format("{},{},{},{},{},{}\n", name, key, g.sent, g.answered,
                         j["mean_of_5"].dump(), j["satisfied_percent"].dump());
    }
}

}  // namespace omniroute::analytics
