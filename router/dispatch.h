// Dispatch: conversations enter a queue (enqueue) and leave it when the policy finds an
// agent (run: every waiting conversation of a queue, in order, while anyone has room).
#pragma once

#include <string>

#include "omniroute/v1/store.pb.h"
#include "router/policy.h"
#include "router/store.h"

namespace omniroute::router {

struct Parts;
struct AgentRt;

class Dispatch {
 public:
  explicit Dispatch(Parts& p) : p_(p) {}

  // Puts `c` in its queues (QUEUED, no agent) with the reason in the trail.
  void enqueue(Store::Batch& b, v1::store::Conversation& c, const std::string& reason);
  // Offers waiting conversations of `queue` to whoever can take them.
  void run(Store::Batch& b, const std::string& ws, const std::string& queue);
  // `c`'s own queue and its overflow queues.
  void run_for(Store::Batch& b, const v1::store::Conversation& c);
  // Every queue `a` serves (its capacity or presence changed).
  void agent_queues(Store::Batch& b, const AgentRt& a);
  // Whatever can move now, moves (after a reload).
  void all(Store::Batch& b);
  // Skill levels relaxed by the conversation's overflow steps so far.
  int relaxed_levels(const v1::store::Conversation& c) const;

 private:
  Parts& p_;
  Policy policy_;
  std::vector<AgentRt*> pool_;  // scratch
};

}  // namespace omniroute::router
