#include "router/timers.h"

#include <fmt/format.h>

#include "router/keys.h"

namespace omniroute::router {

void Timers::add(int64_t due, Timer t) {
  std::string order =
      t.key.empty() ? fmt::format("~{}/{}/{}", static_cast<int>(t.kind), t.workspace, t.id) : t.key;
  map_.emplace(std::make_pair(due, std::move(order)), std::move(t));
}

void Timers::add_durable(Store::Batch& b, int64_t due, Timer t) {
  t.key = keys::timer(due, static_cast<int>(t.kind), t.workspace, t.id, t.ref);
  b.put(Cf::kTimers, t.key, "");
  add(due, std::move(t));
}

void Timers::cancel(Store::Batch& b, int64_t due, TimerKind kind, const std::string& ws,
                    const std::string& id, const std::string& ref) {
  const std::string key = keys::timer(due, static_cast<int>(kind), ws, id, ref);
  b.del(Cf::kTimers, key);
  auto range = map_.equal_range(std::make_pair(due, key));
  map_.erase(range.first, range.second);
}

void Timers::erase_kind(TimerKind kind) {
  for (auto it = map_.begin(); it != map_.end();)
    it = it->second.kind == kind ? map_.erase(it) : std::next(it);
}

size_t Timers::load(Store& store) {
  size_t n = 0;
  store.scan(Cf::kTimers, "", [&](std::string_view k, std::string_view) {
    auto parsed = keys::parse_timer(k);
    if (!parsed) return true;
    add(parsed->due, {static_cast<TimerKind>(parsed->kind), std::move(parsed->workspace),
                      std::move(parsed->id), std::move(parsed->ref), std::string(k)});
    ++n;
    return true;
  });
  return n;
}

std::optional<Timer> Timers::pop_due(Store::Batch& b, int64_t now) {
  if (map_.empty() || map_.begin()->first.first > now) return std::nullopt;
  Timer t = std::move(map_.begin()->second);
  map_.erase(map_.begin());
  if (!t.key.empty()) b.del(Cf::kTimers, t.key);
  return t;
}

}  // namespace omniroute::router
