// Queues: conversations waiting for an agent, in routing order (priority, SLA due time,
// arrival), kept in memory and in the queue family; who serves each queue; round-robin
// cursors; and the positions told to waiting web chat visitors. Owned by the engine's
// thread.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "config/config.h"
#include "omniroute/v1/store.pb.h"
#include "router/store.h"

namespace omniroute::router {

struct Parts;
struct AgentRt;

class Queues {
 public:
  // Queue order: priority (9 first, so stored negated), SLA due time, arrival; then the
  // conversation and its channel (to skip without a read when nobody has room on it).
  using Entry = std::tuple<int, int64_t, uint64_t, std::string, v1::Channel>;
  using Waiting = std::set<Entry>;

  explicit Queues(Parts& p) : p_(p) {}

  // Queue configs and who serves which queue, from the config in force and the agents.
  void index();
  // Waiting conversations and round-robin cursors from the store; how many wait.
  size_t load();

  const config::Queue* cfg(const std::string& ws, const std::string& queue) const;
  const std::vector<AgentRt*>& serving(const std::string& ws, const std::string& queue);
  Waiting* waiting(const std::string& ws, const std::string& queue);
  // "<ws>/<queue>" -> waiting, for every queue that ever had a conversation.
  const std::map<std::string, Waiting>& all() const { return queues_; }

  // Puts `c` in its queue and the extra queues of its overflow steps.
  void put(Store::Batch& b, const v1::store::Conversation& c);
  void remove(Store::Batch& b, const v1::store::Conversation& c);
  // Drops an entry whose conversation is no longer waiting; the next entry.
  Waiting::iterator drop_stale(Store::Batch& b, const std::string& ws, const std::string& queue,
                               Waiting& q, Waiting::iterator it);

  const std::string& cursor(const std::string& ws, const std::string& queue);
  void set_cursor(Store::Batch& b, const std::string& ws, const std::string& queue,
                  const std::string& agent);

  // ---- web chat visitors (runtime only: after a restart every visitor hears again)
  // An agent accepted a conversation from `queue`: the moving average of the gaps.
  void accepted(const std::string& ws, const std::string& queue, int64_t now);
  void offered(const std::string& ws, const std::string& conversation);
  // Tells waiting chat visitors of this queue where they are, when that changed.
  void notices(Store::Batch& b, const std::string& ws, const std::string& queue);

 private:
  Parts& p_;
  std::map<std::string, Waiting> queues_;                 // "<ws>/<queue>"
  std::map<std::string, std::vector<AgentRt*>> serving_;  // "<ws>/<queue>" -> who serves it
  std::map<std::string, const config::Queue*> cfgs_;      // "<ws>/<queue>"
  std::map<std::string, std::string> cursors_;            // "<ws>/<queue>" -> last offered
  struct Flow {
    int64_t last_accept_ms = 0;
    double gap_ms = 0;  // moving average of the time between two accepts from the queue
    int accepts = 0;
  };
  std::map<std::string, Flow> flow_;               // "<ws>/<queue>"
  std::map<std::string, uint32_t> told_position_;  // "<ws>/<conversation>"
};

}  // namespace omniroute::router
