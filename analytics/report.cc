#include "analytics/report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include "analytics/model.h"
#include "omniroute/v1/analytics.pb.h"
#include "omniroute/v1/routing.pb.h"
#include "schemas/channel.h"

namespace omniroute::analytics {
namespace {

using v1::RoutingEvent;
using v1::analytics::AgentFacts;
using v1::analytics::AgentSpan;
using v1::analytics::ConversationFacts;

constexpr int64_t kMinuteMs = 60 * 1000, kHourMs = 60 * kMinuteMs, kDayMs = 24 * kHourMs;

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t at = 0;
  for (;;) {
    const size_t next = s.find(sep, at);
    out.push_back(s.substr(at, next - at));
    if (next == std::string_view::npos) return out;
    at = next + 1;
  }
}

int64_t to_int(std::string_view s) {
  int64_t v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

bool matches(const Filter& f, std::string_view queue, int channel, std::string_view inbox,
             std::string_view language) {
  return (f.queue.empty() || f.queue == queue) &&
         (f.channel == v1::CHANNEL_UNSPECIFIED || f.channel == channel) &&
         (f.inbox.empty() || f.inbox == inbox) && (f.language.empty() || f.language == language);
}

int64_t overlap(int64_t a0, int64_t a1, int64_t b0, int64_t b1) {
  return std::max<int64_t>(0, std::min(a1, b1) - std::max(a0, b0));
}

nlohmann::json durations(const Durations& d) {
  return {{"count", d.count}, {"median_s", d.median_s}, {"p90_s", d.p90_s}, {"mean_s", d.mean_s}};
}

}  // namespace

Durations summarize(std::vector<int64_t> ms) {
  Durations d;
  d.count = ms.size();
  if (ms.empty()) return d;
  std::sort(ms.begin(), ms.end());
  auto rank = [&](double p) {
    const size_t r = static_cast<size_t>(std::ceil(p * static_cast<double>(ms.size())));
    return static_cast<double>(ms[std::max<size_t>(r, 1) - 1]) / 1000.0;
  };
  d.median_s = rank(0.5);
  d.p90_s = rank(0.9);
  d.mean_s = static_cast<double>(std::accumulate(ms.begin(), ms.end(), int64_t{0})) /
             static_cast<double>(ms.size()) / 1000.0;
  return d;
}

Report compute(const Db& db, const config::Config& cfg, const Filter& f,
               const std::vector<int64_t>& thresholds_s) {
  Report r;
  r.filter = f;
  const std::string& ws = f.workspace;
  const config::Workspace* wcfg = cfg.workspace(ws);

  // Counts, by the minute the events happened in (a store written before counted by hours:
  // those rows count when their hour starts in the range).
  const std::string kprefix = "k/" + ws + "/";
  db.scan(kprefix, kprefix + keys::ms(f.from_ms / kMinuteMs * kMinuteMs),
          [&](std::string_view k, std::string_view v) {
            const auto p = split(k.substr(kprefix.size()), '/');
            if (p.size() != 8) return true;
            if (to_int(p[0]) >= f.to_ms) return false;
            const int kind = static_cast<int>(to_int(p[1]));
            if (!matches(f, p[2], static_cast<int>(to_int(p[3])), p[4], p[6])) return true;
            const bool bot = p[7] == "1";
            if (!f.agent.empty() && f.agent != p[5]) return true;
            const uint64_t n = static_cast<uint64_t>(to_int(v));
            switch (kind) {
              case RoutingEvent::KIND_OPENED:
                r.entered += n;
                break;
              case RoutingEvent::KIND_OFFERED:
                r.offered += n;
                break;
              case RoutingEvent::KIND_ACCEPTED:
              case RoutingEvent::KIND_FORCE_ASSIGNED:
                r.accepted += n;
                break;
              case RoutingEvent::KIND_REJECTED:
                r.rejected += n;
                break;
              case RoutingEvent::KIND_OFFER_EXPIRED:
                r.expired += n;
                break;
              case RoutingEvent::KIND_TRANSFERRED:
                r.transferred += n;
                break;
              case RoutingEvent::KIND_RESOLVED:
                r.resolved += n;
                if (bot) r.bot_resolved += n;
                break;
              case kAbandoned:
                r.resolved += n;
                r.abandoned += n;
                break;
              case RoutingEvent::KIND_REOPENED:
                r.reopened += n;
                break;
              case RoutingEvent::KIND_SLA_BREACH:
                r.sla_breaches += n;
                break;
              case RoutingEvent::KIND_CUSTOMER_MESSAGE:
                r.customer_messages += n;
                break;
              case RoutingEvent::KIND_REPLIED:
                (bot ? r.bot_replies : r.replies) += n;
                break;
              case RoutingEvent::KIND_SURVEY_SENT:
                r.csat.count_sent(std::string(p[5]), std::string(p[2]),
                                  channel_name(static_cast<v1::Channel>(to_int(p[3]))), n);
                break;
              default:
                break;
            }
            return true;
          });

  add_ratings(db, f, r.csat);

  // The conversations that opened in the range.
  std::vector<int64_t> fr, frb, nr, nrb, res, resb, wait, botfr;
  std::vector<std::pair<int64_t, bool>> outcomes;  // wait to accept; abandoned
  const std::string nprefix = "n/" + ws + "/";
  db.scan(nprefix, nprefix + keys::ms(f.from_ms), [&](std::string_view k, std::string_view) {
    const auto p = split(k.substr(nprefix.size()), '/');
    if (p.size() != 2) return true;
    const int64_t opened = to_int(p[0]);
    if (opened >= f.to_ms) return false;
    std::string v;
    ConversationFacts c;
    if (!db.get(keys::conversation(ws, p[1]), &v) || !c.ParseFromString(v)) return true;
    if (!matches(f, c.queue_id(), c.channel(), c.inbox_id(), c.language())) return true;
    if (!f.agent.empty() && c.first_agent_id() != f.agent) return true;
    ++r.cohort;
    const auto [weekday, hour] = wcfg && wcfg->hours ? wcfg->hours->local_weekday_hour(opened)
                                                     : Schedule().local_weekday_hour(opened);
    ++r.arrivals[static_cast<size_t>(weekday)][static_cast<size_t>(hour)];
    if (c.first_response_at_ms() > 0) {
      fr.push_back(c.first_response_at_ms() - c.opened_at_ms());
      frb.push_back(c.first_response_business_ms());
    }
    if (c.bot_first_response_at_ms() > 0)
      botfr.push_back(c.bot_first_response_at_ms() - c.opened_at_ms());
    nr.insert(nr.end(), c.next_response_ms().begin(), c.next_response_ms().end());
    nrb.insert(nrb.end(), c.next_response_business_ms().begin(),
               c.next_response_business_ms().end());
    if (c.resolved_at_ms() > 0) {
      res.push_back(c.resolved_at_ms() - c.opened_at_ms());
      resb.push_back(c.resolution_business_ms());
    }
    if (c.first_accepted_at_ms() > 0) {
      wait.push_back(c.wait_to_accept_ms());
      outcomes.emplace_back(c.wait_to_accept_ms(), false);
    } else if (c.state() == ConversationFacts::STATE_RESOLVED && !c.handled_by_bot()) {
      outcomes.emplace_back(0, true);
    }
    return true;
  });
  r.first_response = summarize(fr);
  r.first_response_business = summarize(frb);
  r.next_response = summarize(nr);
  r.next_response_business = summarize(nrb);
  r.resolution = summarize(res);
  r.resolution_business = summarize(resb);
  r.wait_to_accept = summarize(wait);
  r.bot_first_response = summarize(botfr);
  for (int64_t t : thresholds_s) {
    Report::ServiceLevel sl;
    sl.threshold_s = t;
    for (const auto& [w, abandoned] : outcomes) {
      ++sl.total;
      if (!abandoned && w <= t * 1000) ++sl.met;
    }
    sl.percent = sl.total ? 100.0 * static_cast<double>(sl.met) / static_cast<double>(sl.total) : 0;
    r.service_level.push_back(sl);
  }

  // Agents: closed spans ending in [from, to + 1 day) (no online or busy span crosses a
  // UTC midnight), then the stretches still open at `now`.
  std::map<std::string, Report::Agent> agents;
  std::map<std::string, int64_t> handle_sum;
  const std::string sprefix = "s/" + ws + "/";
  db.scan(sprefix, sprefix + keys::ms(f.from_ms), [&](std::string_view k, std::string_view v) {
    const auto p = split(k.substr(sprefix.size()), '/');
    if (p.size() != 5) return true;
    const int64_t end = to_int(p[0]);
    if (end >= f.to_ms + kDayMs) return false;
    const std::string agent(p[1]);
    if (!f.agent.empty() && agent != f.agent) return true;
    AgentSpan s;
    if (!s.ParseFromArray(v.data(), static_cast<int>(v.size()))) return true;
    Report::Agent& a = agents[agent];
    a.agent = agent;
    switch (s.kind()) {
      case AgentSpan::KIND_ONLINE:
        a.online_s +=
            static_cast<double>(overlap(s.start_ms(), s.end_ms(), f.from_ms, f.to_ms)) / 1000.0;
        break;
      case AgentSpan::KIND_BUSY:
        a.busy_s +=
            static_cast<double>(overlap(s.start_ms(), s.end_ms(), f.from_ms, f.to_ms)) / 1000.0;
        break;
      case AgentSpan::KIND_HANDLED:
        if (end >= f.from_ms && end < f.to_ms && (f.queue.empty() || f.queue == s.queue_id()) &&
            (f.channel == v1::CHANNEL_UNSPECIFIED || f.channel == s.channel())) {
          ++a.handled;
          handle_sum[agent] += s.end_ms() - s.start_ms();
        }
        break;
      default:
        break;
    }
    return true;
  });
  const int64_t now = std::min(f.now_ms, f.to_ms);
  db.scan("a/" + ws + "/", [&](std::string_view, std::string_view v) {
    AgentFacts x;
    if (!x.ParseFromArray(v.data(), static_cast<int>(v.size()))) return true;
    if (!f.agent.empty() && x.agent_id() != f.agent) return true;
    Report::Agent& a = agents[x.agent_id()];
    a.agent = x.agent_id();
    a.bot = x.bot();
    if ((x.presence() == "available" || x.presence() == "away") && x.presence_since_ms() > 0)
      a.online_s +=
          static_cast<double>(overlap(x.presence_since_ms(), now, f.from_ms, f.to_ms)) / 1000.0;
    if (x.busy_since_ms() > 0)
      a.busy_s += static_cast<double>(overlap(x.busy_since_ms(), now, f.from_ms, f.to_ms)) / 1000.0;
    return true;
  });
  for (auto& [id, a] : agents) {
    if (a.handled > 0)
      a.handle_time_mean_s =
          static_cast<double>(handle_sum[id]) / static_cast<double>(a.handled) / 1000.0;
    a.utilisation = a.online_s > 0 ? std::min(1.0, a.busy_s / a.online_s) : 0;
    r.agents.push_back(a);
  }
  return r;
}

nlohmann::json to_json(const Report& r) {
  nlohmann::json j;
  j["range"] = {{"from_ms", r.filter.from_ms}, {"to_ms", r.filter.to_ms}};
  j["filters"] = {
      {"workspace", r.filter.workspace},
      {"queue", r.filter.queue},
      {"channel", r.filter.channel == v1::CHANNEL_UNSPECIFIED ? std::string()
                                                              : v1::Channel_Name(r.filter.channel)},
      {"inbox", r.filter.inbox},
      {"agent", r.filter.agent},
      {"language", r.filter.language}};
  j["counts"] = {{"entered", r.entered},           {"offered", r.offered},
                 {"accepted", r.accepted},         {"rejected", r.rejected},
                 {"expired", r.expired},           {"transferred", r.transferred},
                 {"resolved", r.resolved},         {"abandoned", r.abandoned},
                 {"reopened", r.reopened},         {"sla_breaches", r.sla_breaches},
                 {"bot_resolved", r.bot_resolved}, {"customer_messages", r.customer_messages},
                 {"replies", r.replies},           {"bot_replies", r.bot_replies}};
  j["opened_in_range"] = r.cohort;
  j["first_response"] = {{"calendar", durations(r.first_response)},
                         {"business", durations(r.first_response_business)}};
  j["next_response"] = {{"calendar", durations(r.next_response)},
                        {"business", durations(r.next_response_business)}};
  j["resolution"] = {{"calendar", durations(r.resolution)},
                     {"business", durations(r.resolution_business)}};
  j["wait_to_accept"] = durations(r.wait_to_accept);
  j["bot"] = {{"first_response", durations(r.bot_first_response)},
              {"resolved", r.bot_resolved},
              {"replies", r.bot_replies}};
  j["service_level"] = nlohmann::json::array();
  for (const auto& s : r.service_level)
    j["service_level"].push_back({{"threshold_s", s.threshold_s},
                                  {"met", s.met},
                                  {"total", s.total},
                                  {"percent", s.percent}});
  j["arrivals"] = r.arrivals;
  j["agents"] = nlohmann::json::array();
  for (const auto& a : r.agents)
    j["agents"].push_back({{"agent", a.agent},
                           {"bot", a.bot},
                           {"handled", a.handled},
                           {"handle_time_mean_s", a.handle_time_mean_s},
                           {"online_s", a.online_s},
                           {"busy_s", a.busy_s},
                           {"utilisation", a.utilisation}});
  j["csat"] = to_json(r.csat);
  return j;
}

std::string to_csv(const Report& r) {
  std::string out = "section,name,value\n";
  auto row = [&](std::string_view section, std::string_view name, auto value) {
    out += fmt::format("{},{},{}\n", section, name, value);
  };
  row("counts", "entered", r.entered);
  row("counts", "offered", r.offered);
  row("counts", "accepted", r.accepted);
  row("counts", "rejected", r.rejected);
  row("counts", "expired", r.expired);
  row("counts", "transferred", r.transferred);
  row("counts", "resolved", r.resolved);
  row("counts", "abandoned", r.abandoned);
  row("counts", "reopened", r.reopened);
  row("counts", "sla_breaches", r.sla_breaches);
  row("counts", "bot_resolved", r.bot_resolved);
  auto d = [&](std::string_view name, const Durations& x) {
    row(name, "count", x.count);
    row(name, "median_s", x.median_s);
    row(name, "p90_s", x.p90_s);
    row(name, "mean_s", x.mean_s);
  };
  d("first_response_calendar", r.first_response);
  d("first_response_business", r.first_response_business);
  d("next_response_calendar", r.next_response);
  d("next_response_business", r.next_response_business);
  d("resolution_calendar", r.resolution);
  d("resolution_business", r.resolution_business);
  d("wait_to_accept", r.wait_to_accept);
  d("bot_first_response", r.bot_first_response);
  for (const auto& s : r.service_level)
    row("service_level_percent", fmt::format("within_{}s", s.threshold_s), s.percent);
  out += "\nagent,bot,handled,handle_time_mean_s,online_s,busy_s,utilisation\n";
  for (const auto& a : r.agents)
    out += fmt::format("{},{},{},{},{},{},{}\n", a.agent, a.bot ? 1 : 0, a.handled,
                       a.handle_time_mean_s, a.online_s, a.busy_s, a.utilisation);
  out += "\n";
  append_csv(r.csat, out);
  out += "\nweekday,hour,arrivals\n";
  for (size_t w = 0; w < 7; ++w)
    for (size_t h = 0; h < 24; ++h)
      if (r.arrivals[w][h]) out += fmt::format("{},{},{}\n", w, h, r.arrivals[w][h]);
  return out;
}

}  // namespace omniroute::analytics
