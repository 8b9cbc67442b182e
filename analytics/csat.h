// Customer satisfaction in reports: surveys sent (k/ counts, by when they went out) and
// ratings (r/ rows, by when they were given; the latest answer of a conversation counts),
// in total and by agent, queue and channel. Definitions: docs/reports.md, "Satisfaction".
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "analytics/db.h"

namespace omniroute::analytics {

struct Filter;

struct CsatGroup {
  uint64_t sent = 0, answered = 0;
  uint64_t satisfied = 0;  // 4-5 of 5, 3 of 3
  double sum5 = 0;         // ratings on the 5-point basis (3-point: 1, 3, 5)
};

struct CsatReport {
  CsatGroup total;
  std::map<std::string, CsatGroup> by_agent, by_queue, by_channel;
  std::array<uint64_t, 5> distribution{};  // answers rated 1..5 on the 5-point basis
  void count_sent(const std::string& agent, const std::string& queue, const std::string& channel,
                  uint64_t n);
};

// Adds the ratings given in the filter's range that match it.
void add_ratings(const Db& db, const Filter& f, CsatReport& r);
nlohmann::json to_json(const CsatReport& r);
// "csat,<figure>,<value>" rows, then a table by agent / queue / channel.
void append_csv(const CsatReport& r, std::string& out);

}  // namespace omniroute::analytics
