#include "ops/health.h"

#include <map>
#include <mutex>

#include <fmt/format.h>

namespace omniroute::ops {
namespace {

using Clock = std::chrono::steady_clock;

struct State {
  std::mutex mu;
  std::map<std::string, std::pair<bool, std::string>> checks;
  bool draining = false;
  struct Loop {
    Clock::time_point last;
    std::chrono::milliseconds stall;
  };
  std::map<std::string, Loop> loops;
};

State& state() {
  static State* s = new State();  // never destroyed: threads may report until exit
  return *s;
}

}  // namespace

void set_ready(const std::string& check, bool ready, const std::string& why) {
  auto& s = state();
  std::lock_guard lock(s.mu);
  s.checks[check] = {ready, why};
}

void forget_check(const std::string& check) {
  auto& s = state();
  std::lock_guard lock(s.mu);
  s.checks.erase(check);
}

void set_draining(bool draining) {
  auto& s = state();
  std::lock_guard lock(s.mu);
  s.draining = draining;
}

void loop_turned(const std::string& loop, std::chrono::milliseconds stall) {
  auto& s = state();
  const auto now = Clock::now();
  std::lock_guard lock(s.mu);
  s.loops[loop] = {now, stall};
}

void forget_loop(const std::string& loop) {
  auto& s = state();
  std::lock_guard lock(s.mu);
  s.loops.erase(loop);
}

HealthReport readiness() {
  auto& s = state();
  HealthReport r;
  std::lock_guard lock(s.mu);
  if (s.draining) r.failing.push_back("draining: shutting down (SIGTERM)");
  for (const auto& [name, c] : s.checks) {
    if (!c.first) r.failing.push_back(c.second.empty() ? name : name + ": " + c.second);
  }
  r.ok = r.failing.empty();
  return r;
}

HealthReport liveness() {
  auto& s = state();
  HealthReport r;
  const auto now = Clock::now();
  std::lock_guard lock(s.mu);
  for (const auto& [name, l] : s.loops) {
    const auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(now - l.last);
    if (idle > l.stall)
      r.failing.push_back(fmt::format("{}: has not turned for {} ms", name, idle.count()));
  }
  r.ok = r.failing.empty();
  return r;
}

}  // namespace omniroute::ops
