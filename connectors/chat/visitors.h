// What the chat gateway keeps per visitor beyond one connection: a message budget shared
// by all of the visitor's tabs and reconnects, and how long sessions and transcripts live.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "connectors/state/kv.h"

namespace omniroute::connectors::chat {

// Token buckets by visitor id: `per_minute` messages a minute, bursts up to that.
class VisitorBuckets {
 public:
  explicit VisitorBuckets(double per_minute) : per_minute_(per_minute) {}
  // Takes one message from the visitor's budget; false (and nothing taken) when empty.
  bool take(const std::string& visitor);

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point at;
  };
  const double per_minute_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
};

// Deletes visitor sessions not seen for `ttl_ms` (their token no longer resumes), with
// their transcripts. Returns how many sessions went.
size_t prune_expired(state::Kv& kv, int64_t ttl_ms, int64_t now_ms);

// When a stored session was last used (its "last_ms", else "created_ms").
int64_t session_last_ms(const std::string& session_json);

}  // namespace omniroute::connectors::chat
