#include "router/agents.h"

#include <charconv>

#include <fmt/format.h>

#include "router/keys.h"
#include "router/parts.h"

namespace omniroute::router {

void AgentRt::set_capacity() {
  capacity.fill(0);
  for (const auto& [ch, n] : cfg->capacity) capacity[static_cast<size_t>(ch)] = n;
  id = cfg->id;
  bot = cfg->bot;
  speaks_any = cfg->languages.empty();
  total_capacity = cfg->total_capacity;
  shift = cfg->shift.get();
}

void AgentRt::hold(const std::string& cid, v1::Channel ch) {
  if (conversations.emplace(cid, ch).second) {
    ++load[static_cast<size_t>(ch)];
    ++total_load;
  }
}

void AgentRt::drop(const std::string& cid) {
  auto it = conversations.find(cid);
  if (it == conversations.end()) return;
  --load[static_cast<size_t>(it->second)];
  --total_load;
  conversations.erase(it);
}

bool AgentRt::has_any_room() const {
  if (total_capacity > 0 && total_load >= total_capacity) return false;
  for (size_t i = 0; i < kChannels; ++i)
    if (load[i] < capacity[i]) return true;
  return false;
}

AgentRt Agents::make(const config::Workspace& ws, const config::Agent& a, Store::Batch* b) {
  AgentRt rt;
  rt.cfg = &a;
  rt.set_capacity();
  rt.workspace = ws.id;
  std::string v;
  v1::store::Agent rec;
  const std::string key = keys::scoped(ws.id, a.id);
  const bool found = b ? b->get(Cf::kAgents, key, &v) : p_.store.get(Cf::kAgents, key, &v);
  if (found && rec.ParseFromString(v)) {
    rt.idle_since_ms = rec.idle_since_ms();
    if (!b) rt.offline_since_ms = rec.offline_since_ms();
  }
  return rt;
}

void Agents::load() {
  for (const auto& ws : p_.cfg->workspaces) {
    for (const auto& a : ws.agents) {
      AgentRt rt = make(ws, a, nullptr);
      const std::string held = keys::held_by(ws.id, a.id);
      p_.store.scan(Cf::kAgents, held, [&](std::string_view k, std::string_view v) {
        const std::string cid(k.substr(held.size()));
        // The channel is in the record (a decimal v1::Channel); records written before it
        // was are empty, and the conversation says.
        int ch = 0;
        if (!v.empty() && std::from_chars(v.data(), v.data() + v.size(), ch).ec == std::errc() &&
            v1::Channel_IsValid(ch)) {
          rt.hold(cid, static_cast<v1::Channel>(ch));
          return true;
        }
        std::string cv;
        v1::store::Conversation c;
        if (!p_.store.get(Cf::kConversations, keys::scoped(ws.id, cid), &cv) ||
            !c.ParseFromString(cv))
          return true;
        rt.hold(cid, c.summary().channel());
        return true;
      });
      map_[keys::scoped(ws.id, a.id)] = std::move(rt);
    }
  }
}

void Agents::reconfigure(Store::Batch& b) {
  for (auto it = map_.begin(); it != map_.end();) {
    AgentRt& a = it->second;
    const config::Workspace* ws = p_.cfg->workspace(a.workspace);
    const config::Agent* ac = ws ? ws->agent(a.cfg->id) : nullptr;
    if (!ac) {
      if (!a.routing_id.empty()) {
        p_.desks.error_to(a.routing_id, v1::Error::CODE_UNAUTHORIZED,
                          "agent removed from the configuration", {});
        p_.desks.unbind(a.routing_id);
      }
      p_.log->info("{} removed by the new configuration", it->first);
      it = map_.erase(it);
      continue;
    }
    a.cfg = ac;
    a.set_capacity();
    ++it;
  }
  for (const auto& ws : p_.cfg->workspaces) {
    for (const auto& ac : ws.agents) {
      const std::string key = keys::scoped(ws.id, ac.id);
      if (map_.count(key)) continue;
      map_[key] = make(ws, ac, &b);
      p_.log->info("{} added by the new configuration", key);
    }
  }
}

AgentRt* Agents::find(const std::string& ws, const std::string& id) {
  auto it = map_.find(keys::scoped(ws, id));
  return it == map_.end() ? nullptr : &it->second;
}

size_t Agents::online() const {
  size_t n = 0;
  for (const auto& [k, a] : map_) n += a.online() ? 1 : 0;
  return n;
}

void Agents::save(Store::Batch& b, const AgentRt& a) {
  v1::store::Agent rec;
  rec.set_agent_id(a.cfg->id);
  rec.set_workspace_id(a.workspace);
  rec.set_idle_since_ms(a.idle_since_ms);
  rec.set_offline_since_ms(a.offline_since_ms);
  b.put(Cf::kAgents, keys::scoped(a.workspace, a.cfg->id), rec.SerializeAsString());
}

void Agents::hold(Store::Batch& b, AgentRt& a, const std::string& cid, v1::Channel ch) {
  a.hold(cid, ch);
  b.put(Cf::kAgents, keys::held(a.workspace, a.cfg->id, cid), std::to_string(static_cast<int>(ch)));
  a.idle_since_ms = p_.clock.now_ms();
  save(b, a);
}

void Agents::release(Store::Batch& b, AgentRt& a, const std::string& cid) {
  a.drop(cid);
  b.del(Cf::kAgents, keys::held(a.workspace, a.cfg->id, cid));
  a.idle_since_ms = p_.clock.now_ms();
  save(b, a);
}

bool Agents::can_hold(const AgentRt& a, v1::Channel ch, bool need_shift, std::string* why) const {
  auto cap = a.cfg->capacity.find(ch);
  const int limit = cap == a.cfg->capacity.end() ? 0 : cap->second;
  if (a.routing_id.empty())
    *why = "offline";
  else if (a.presence != v1::PRESENCE_AVAILABLE)
    *why = "away";
  else if (a.cfg->bot)
    *why = "a bot desk";
  else if (need_shift && !a.on_shift(p_.clock.now_ms()))
    *why = "off shift";
  else if (a.cfg->total_capacity > 0 && a.total_load >= a.cfg->total_capacity)
    *why = fmt::format("at total capacity {}/{}", a.total_load, a.cfg->total_capacity);
  else if (a.load_on(ch) >= limit)
    *why = fmt::format("{} full {}/{}", channel_name(ch), a.load_on(ch), limit);
  else
    return true;
  return false;
}

void Agents::arm_shift(AgentRt& a, int64_t now) {
  if (!a.cfg->shift) return;
  const int64_t next = a.cfg->shift->next_change(now);
  if (next != INT64_MAX) p_.timers.add(next, {TimerKind::kShift, a.workspace, a.cfg->id, {}, {}});
}

void Agents::arm_shifts(int64_t now) {
  for (auto& [k, a] : map_) arm_shift(a, now);
}

}  // namespace omniroute::router
