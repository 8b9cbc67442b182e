// Reports over any time range from the analytics store: counts by when things happened,
// response and resolution times of the conversations that opened in the range (median,
// p90 and mean; calendar and business time), service level, arrivals by weekday and hour,
// and per-agent handled / handle time / utilisation. Every definition: docs/reports.md.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analytics/csat.h"
#include "analytics/db.h"
#include "config/config.h"
#include "omniroute/v1/events.pb.h"

namespace omniroute::analytics {

struct Filter {
  std::string workspace;
  int64_t from_ms = 0, to_ms = 0;  // [from, to)
  std::string queue, inbox, agent, language;
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
  // Open stretches (an agent online now) count up to here: the time of the latest event
  // seen, so the same events always give the same report.
  int64_t now_ms = 0;
};

struct Durations {
  size_t count = 0;
  double median_s = 0, p90_s = 0, mean_s = 0;  // nearest-rank percentiles
};
Durations summarize(std::vector<int64_t> ms);

struct Report {
  Filter filter;
  // Events in the range (by the hour they happened in).
  uint64_t entered = 0, offered = 0, accepted = 0, rejected = 0, expired = 0, transferred = 0,
           resolved = 0, abandoned = 0, reopened = 0, sla_breaches = 0, bot_resolved = 0,
           customer_messages = 0, replies = 0, bot_replies = 0;
  // Conversations opened in the range.
  uint64_t cohort = 0;
  Durations first_response, first_response_business, next_response, next_response_business,
      resolution, resolution_business, wait_to_accept, bot_first_response;
  struct ServiceLevel {
    int64_t threshold_s = 0;
    uint64_t met = 0, total = 0;
    double percent = 0;
  };
  std::vector<ServiceLevel> service_level;
  std::array<std::array<uint64_t, 24>, 7> arrivals{};  // [weekday 0 = Sunday][local hour]
  struct Agent {
    std::string agent;
    bool bot = false;
    uint64_t handled = 0;
    double handle_time_mean_s = 0, online_s = 0, busy_s = 0, utilisation = 0;
  };
  std::vector<Agent> agents;
  CsatReport csat;  // surveys sent and ratings given in the range
};

Report compute(const Db& db, const config::Config& cfg, const Filter& f,
               const std::vector<int64_t>& service_level_thresholds_s);
nlohmann::json to_json(const Report& r);
// One row per figure ("section,name,value"), then one per agent and heat-map cell.
std::string to_csv(const Report& r);

}  // namespace omniroute::analytics
