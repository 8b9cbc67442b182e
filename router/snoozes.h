// Snooze: an agent puts an assigned conversation aside until a time or until the customer
// writes. It stays theirs (and keeps its capacity); a durable timer wakes it at the time
// (kSnooze, id = conversation, ref = the time), a customer message wakes it at once. The
// desk hears every change as ConversationUpdated. Also sends that frame for labels.
#pragma once

#include <string>

#include "omniroute/v1/store.pb.h"
#include "router/errors.h"
#include "router/store.h"
#include "router/timers.h"

namespace omniroute::router {

struct Parts;
struct AgentRt;

class Snoozes {
 public:
  explicit Snoozes(Parts& p) : p_(p) {}
  // Snoozes `c` (assigned to `a`) until `until_ms` or until the customer writes; both unset
  // wakes it. Saves `c` and tells the desk.
  Status snooze(Store::Batch& b, AgentRt& a, v1::store::Conversation& c, int64_t until_ms,
                bool until_customer);
  // A customer message arrived: wakes `c` if snoozed (the caller saves `c`).
  void customer_wrote(Store::Batch& b, v1::store::Conversation& c);
  // Drops a snooze without telling anyone (the conversation is leaving the agent).
  void clear(Store::Batch& b, v1::store::Conversation& c);
  // The snooze timer.
  void fire(Store::Batch& b, const Timer& t);
  // ConversationUpdated to the agent holding `c`, if connected.
  void updated(const v1::store::Conversation& c, const std::string& reason);

 private:
  Parts& p_;
};

}  // namespace omniroute::router
