// Routing events -> analytics records (analytics/db.h keys), and the live picture the
// wallboard shows. Deterministic: only the events' own contents and times count (never
// the clock of the machine replaying them), so a replay gives identical records. Business
// time comes from the workspace's hours in the config.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analytics/db.h"
#include "config/config.h"
#include "omniroute/v1/analytics.pb.h"
#include "omniroute/v1/routing.pb.h"

namespace omniroute::analytics {

// The count kind of a resolution nobody ever handled (k/ rows; the others are
// RoutingEvent kinds).
constexpr int kAbandoned = 100;
// Decisions kept per conversation for the drill-down (the first ones: how it was routed).
constexpr uint32_t kMaxTrail = 200;

// Now, per workspace: what waits, who is where. Kept in memory, rebuilt from the store.
struct Live {
  struct Conversation {
    std::string queue, inbox, agent;
    v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
    v1::analytics::ConversationFacts::State state{};
    int64_t queued_since_ms = 0;
    bool offered = false, sla_risk = false, sla_breached = false;
  };
  struct Agent {
    std::string presence = "offline";
    int64_t since_ms = 0;
    int holding = 0;
    bool bot = false;
  };
  std::map<std::string, Conversation> conversations;  // open ones, by id
  std::map<std::string, Agent> agents;
  int64_t last_event_ms = 0;
};

// The wallboard's picture of one workspace as JSON (analytics/live.cc): per queue, channel
// and inbox what waits and for how long (to `now_ms`), offers out, SLA risk and breaches;
// agents by presence and what each holds.
// `queue_ids`: the workspace's queues, listed even when nothing is in them. Agents: counts
// of all by presence, and the first `max_agents` whose id contains `find` (holding most
// first), with how many match and how many there are.
nlohmann::json picture(const Live& live, const std::string& workspace, int64_t now_ms,
                       const std::vector<std::string>& queue_ids = {}, const std::string& find = {},
                       size_t max_agents = 300);

class Model {
 public:
  explicit Model(const config::Config& cfg) : cfg_(&cfg) {}
  void set_config(const config::Config& cfg) { cfg_ = &cfg; }

  // Applies one event; its writes go to `b`.
  void apply(Db::Batch& b, const v1::RoutingEvent& e);
  // Rebuilds the live picture from the stored records (at start).
  void load(const Db& db);
  const std::map<std::string, Live>& live() const { return live_; }

 private:
  void conversation_event(Db::Batch& b, const v1::RoutingEvent& e);
  void presence_event(Db::Batch& b, const v1::RoutingEvent& e);
  v1::analytics::AgentFacts agent(Db::Batch& b, const std::string& ws, const std::string& id,
                                  bool bot);
  void save_agent(Db::Batch& b, const v1::analytics::AgentFacts& a);
  // The agent starts / stops holding `conversation` at `at`.
  void hold(Db::Batch& b, v1::analytics::ConversationFacts& c, const std::string& agent, bool bot,
            int64_t at);
  void release(Db::Batch& b, v1::analytics::ConversationFacts& c, int64_t at);
  void span(Db::Batch& b, const std::string& ws, const std::string& agent,
            v1::analytics::AgentSpan s);
  void count(Db::Batch& b, const v1::RoutingEvent& e, const v1::analytics::ConversationFacts& c);
  void update_live(const v1::analytics::ConversationFacts& c, const v1::RoutingEvent& e);
  int64_t business_ms(const std::string& ws, int64_t from, int64_t to) const;

  const config::Config* cfg_;
  std::map<std::string, Live> live_;  // by workspace
};

}  // namespace omniroute::analytics
