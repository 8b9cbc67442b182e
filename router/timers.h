// Timers: what must happen at a time (an offer expires, an SLA warns, a shift starts).
// Durable ones are also rows of the timers family (keys::timer) and come back after a
// restart; the others are rebuilt from config and presence at start. Timers due at the
// same ms fire in key order, so a restarted router (which reloads them sorted) fires them
// in the same order as one that never stopped. Owned by the engine's thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "router/store.h"

namespace omniroute::router {

enum class TimerKind {
  kOfferExpiry = 0,  // durable: id = conversation, ref = offer id
  kSla = 1,          // durable: id = conversation, ref = <target>/<warn|breach>/<due>
  kOverflow = 2,     // durable: id = conversation, ref = step number
  kSticky = 3,       // durable: id = conversation, ref = sticky deadline
  kGrace = 4,        // durable: id = agent, ref = offline since
  kSnooze = 5,       // durable: id = conversation, ref = snoozed until (ms)
  kReconnectGrace = 10,
  kHeartbeat = 11,
  kShift = 12,  // id = agent: its shift starts or ends
};

struct Timer {
  TimerKind kind;
  std::string workspace, id, ref;
  std::string key;  // in the timers family ("" = in memory only)
};

class Timers {
 public:
  // An in-memory timer.
  void add(int64_t due, Timer t);
  // A durable timer: written in `b` and kept in memory.
  void add_durable(Store::Batch& b, int64_t due, Timer t);
  // Removes a durable timer (from `b` and memory), if armed.
  void cancel(Store::Batch& b, int64_t due, TimerKind kind, const std::string& ws,
              const std::string& id, const std::string& ref);
  // Forgets every in-memory timer of `kind`.
  void erase_kind(TimerKind kind);
  // Reloads durable timers; how many.
  size_t load(Store& store);
  // Earliest due time, or INT64_MAX.
  int64_t next_ms() const { return map_.empty() ? INT64_MAX : map_.begin()->first.first; }
  // Takes the earliest timer if it is due at `now` (its durable row deleted in `b`).
  std::optional<Timer> pop_due(Store::Batch& b, int64_t now);

 private:
  std::multimap<std::pair<int64_t, std::string>, Timer> map_;
};

}  // namespace omniroute::router
