// The routing policy, a pure function: a conversation, the agents who could take it and
// the queue's strategy give a ranked choice and its explanation (the trail). No store, no
// clock, no output: unit-tested on its own (tests/router/policy_test.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "config/config.h"
#include "omniroute/v1/routing.pb.h"
#include "omniroute/v1/store.pb.h"
#include "router/agents.h"

namespace omniroute::router {

// Why an agent cannot take a conversation (kOk = it can).
enum class Unfit {
  kOk,
  kOffline,
  kAway,
  kOffShift,
  kBot,
  kRejected,
  kSkill,
  kLanguage,
  kChannelFull,
  kTotalFull,
  kSticky
};

// Whether `a` may be offered `c` at `now`. `relax`: skill levels the conversation's
// overflow steps have relaxed. The reason in words only when `why` is given.
Unfit fit(const AgentRt& a, const v1::store::Conversation& c, int relax, int64_t now,
          std::string* why);

struct Choice {
  std::vector<AgentRt*> ranked;  // the best few eligible agents, best first
  size_t eligible = 0;           // how many could take it
  std::string why;               // the winner's reason
  // The trail: the ranked agents, then up to 16 who could not take it and why.
  std::vector<v1::RoutingEvent::Candidate> considered;
};

class Policy {
 public:
  static constexpr size_t kShown = 8;  // ranked agents kept (and shown)
  static constexpr size_t kUnfitShown = 16;

  // `pool`: the agents serving the queue who are present now (AgentRt::present);
  // `serving`: all who serve it (the absent ones are named in the trail). Null when
  // nobody can take it. The choice stays valid until the next call.
  const Choice* choose(const v1::store::Conversation& c, const std::vector<AgentRt*>& pool,
                       const std::vector<AgentRt*>& serving, config::Strategy strategy,
                       const std::string& rr_cursor, int relax, int64_t now);

 private:
  struct Ranked {
    bool not_sticky;
    int64_t k1, k2;
    std::string_view id;
    AgentRt* agent;
    bool operator<(const Ranked& o) const {
      return std::tie(not_sticky, k1, k2, id) < std::tie(o.not_sticky, o.k1, o.k2, o.id);
    }
  };
  // Scratch kept between calls: a decision allocates nothing in the steady state.
  std::vector<AgentRt*> eligible_, unfit_;
  std::vector<Ranked> ranked_;
  Choice choice_;
};

}  // namespace omniroute::router
