// What /livez and /readyz answer. Parts of a process declare readiness checks ("store",
// "topics", "partitions", ...) that start failing and turn ready when their part is; a
// process that received SIGTERM is draining and no longer ready. Liveness fails only when
// a loop that must keep turning (the router's event loop) has not turned for a while.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace omniroute::ops {

struct HealthReport {
  bool ok = true;
  std::vector<std::string> failing;  // "store: opening", "draining: SIGTERM received"
};

// Declares (or updates) a readiness check. `why` says what is missing while not ready.
void set_ready(const std::string& check, bool ready, const std::string& why = {});
// Removes a check (its part stopped on purpose, e.g. in tests).
void forget_check(const std::string& check);
// After SIGTERM: /readyz answers 503 so a load balancer stops sending work.
void set_draining(bool draining);
// A loop that must keep turning calls this each turn; /livez fails when one has not
// turned for `stall` (it is stuck), and stops watching it after forget_loop.
void loop_turned(const std::string& loop,
                 std::chrono::milliseconds stall = std::chrono::seconds(30));
void forget_loop(const std::string& loop);

HealthReport readiness();
HealthReport liveness();

}  // namespace omniroute::ops
