#include "connectors/chat/visitors.h"

#include <algorithm>
#include <vector>

#include <nlohmann/json.hpp>

namespace omniroute::connectors::chat {

bool VisitorBuckets::take(const std::string& visitor) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  auto [it, fresh] = buckets_.try_emplace(visitor, Bucket{per_minute_, now});
  Bucket& b = it->second;
  const double minutes = std::chrono::duration<double>(now - b.at).count() / 60.0;
  b.tokens = std::min(per_minute_, b.tokens + minutes * per_minute_);
  b.at = now;
  const bool ok = b.tokens >= 1.0;
  if (ok) b.tokens -= 1.0;
  // Full buckets carry nothing: forget them now and then, so the map stays small.
  if (fresh && buckets_.size() > 10000) {
    for (auto i = buckets_.begin(); i != buckets_.end();) {
      const double m = std::chrono::duration<double>(now - i->second.at).count() / 60.0;
      i = i->second.tokens + m * per_minute_ >= per_minute_ && i != it ? buckets_.erase(i)
                                                                       : std::next(i);
    }
  }
  return ok;
}

int64_t session_last_ms(const std::string& session_json) {
  const auto j = nlohmann::json::parse(session_json, nullptr, false);
  if (!j.is_object()) return 0;
  return j.value("last_ms", j.value("created_ms", int64_t{0}));
}

size_t prune_expired(state::Kv& kv, int64_t ttl_ms, int64_t now_ms) {
  std::vector<std::pair<std::string, std::string>> gone;  // session key, visitor
  kv.scan("s/", [&](std::string_view k, std::string_view v) {
    const std::string value(v);
    if (session_last_ms(value) < now_ms - ttl_ms) {
      const auto j = nlohmann::json::parse(value, nullptr, false);
      gone.emplace_back(std::string(k), j.is_object() ? j.value("visitor", "") : "");
    }
    return true;
  });
  size_t pruned = 0;
  for (const auto& [key, visitor] : gone) {
    // A session whose record could not be deleted stays whole; the next pass tries again.
    if (!kv.del(key).empty()) continue;
    ++pruned;
    if (visitor.empty()) continue;
    if (!kv.del("v/" + visitor).empty()) continue;
    std::vector<std::string> lines;  // transcript lines and surveys shown
    for (const char* prefix : {"t/", "sv/"})
      kv.scan(prefix + visitor + "/", [&](std::string_view k, std::string_view) {
        lines.emplace_back(k);
        return true;
      });
    for (const auto& l : lines)
      if (!kv.del(l).empty()) break;
  }
  return pruned;
}

}  // namespace omniroute::connectors::chat
