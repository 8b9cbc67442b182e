// Agents at run time: who is connected and available, what each holds per channel, rank
// keys, and the shifts that open and close their availability. Rebuilt from config and
// the agents family at start; a reload keeps the runtime state of agents that stay. Owned
// by the engine's thread.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "common/schedule.h"
#include "config/config.h"
#include "omniroute/v1/agent.pb.h"
#include "router/store.h"

namespace omniroute::router {

struct Parts;

struct AgentRt {
  // Read by every decision, so kept together at the front (two cache lines): who is
  // connected and available, capacity and load, rank keys, and copies of the config
  // fields a decision needs, so it touches one object per agent, not two.
  std::string routing_id;  // "" = no live desk
  std::string id;          // agent id (copy of cfg->id)
  v1::Presence presence = v1::PRESENCE_OFFLINE;
  bool bot = false;
  bool speaks_any = true;  // no language list
  int total_capacity = 0;
  int total_load = 0;
  int64_t idle_since_ms = 0;
  const Schedule* shift = nullptr;
  // Per channel, indexed by the Channel value.
  static constexpr size_t kChannels = v1::Channel_ARRAYSIZE;
  std::array<int, kChannels> load{};      // conversations held per channel
  std::array<int, kChannels> capacity{};  // from the config (0 = none on that channel)
  // The rest.
  const config::Agent* cfg = nullptr;
  std::string workspace;
  int64_t last_seen_ms = 0;
  int64_t last_sent_ms = 0;
  bool welcomed = false;         // routing_id has its Welcome (cleared by a resync)
  std::string session_key;       // CURVE key the session was authenticated with
  std::deque<int64_t> welcomes;  // when the latest Welcomes were built (rate limit)
  int64_t offline_since_ms = 0;  // when its desk went away (0 = connected, or never was)
  std::map<std::string, v1::Channel> conversations;  // offered or assigned

  void set_capacity();
  bool online() const { return !routing_id.empty() && presence == v1::PRESENCE_AVAILABLE; }
  bool on_shift(int64_t now) const { return !shift || shift->open_at(now); }
  // In the pool a decision looks at: connected, available, a person, on shift.
  bool present(int64_t now) const { return online() && !bot && on_shift(now); }
  void hold(const std::string& cid, v1::Channel ch);
  void drop(const std::string& cid);
  int load_on(v1::Channel ch) const { return load[static_cast<size_t>(ch)]; }
  bool has_room(v1::Channel ch) const {
    if (total_capacity > 0 && total_load >= total_capacity) return false;
    return load[static_cast<size_t>(ch)] < capacity[static_cast<size_t>(ch)];
  }
  bool has_any_room() const;
};

class Agents {
 public:
  explicit Agents(Parts& p) : p_(p) {}

  // Builds every configured agent from the agents family (load, idle and offline times).
  void load();
  // After a reload: agents that stay keep their runtime state; removed ones end their
  // session (told so); new ones start from their stored record.
  void reconfigure(Store::Batch& b);
  AgentRt* find(const std::string& ws, const std::string& id);
  std::map<std::string, AgentRt>& all() { return map_; }  // "<ws>/<agent>"
  size_t online() const;

  void save(Store::Batch& b, const AgentRt& a);
  // `a` holds (is offered or assigned) conversation `cid`: in memory and in the store.
  void hold(Store::Batch& b, AgentRt& a, const std::string& cid, v1::Channel ch);
  void release(Store::Batch& b, AgentRt& a, const std::string& cid);
  // Presence, shift (when asked) and capacity only: what even a person's choice of agent
  // (transfer, supervisor) must respect. False with the reason.
  bool can_hold(const AgentRt& a, v1::Channel ch, bool need_shift, std::string* why) const;
  // The next shift boundary of `a` as a timer; every agent's at start and after a reload.
  void arm_shift(AgentRt& a, int64_t now);
  void arm_shifts(int64_t now);

 private:
  AgentRt make(const config::Workspace& ws, const config::Agent& a, Store::Batch* b);
  Parts& p_;
  std::map<std::string, AgentRt> map_;
};

}  // namespace omniroute::router
