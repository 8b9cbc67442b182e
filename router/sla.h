// Service levels, overflow and sticky routing: the durable timers that warn before an SLA
// target passes and mark its breach (raising the conversation's priority), widen a
// waiting conversation to more queues step by step, and stop waiting for the agent who
// served the customer last.
#pragma once

#include <cstdint>
#include <string>

#include "config/config.h"
#include "omniroute/v1/store.pb.h"
#include "router/store.h"
#include "router/timers.h"

namespace omniroute::router {

struct Parts;

class Sla {
 public:
  explicit Sla(Parts& p) : p_(p) {}

  // The conversation's SLA policy (by name, else the workspace's first match).
  const config::SlaPolicy* policy_of(const v1::store::Conversation& c) const;
  // Warning and breach timers of `target` ("first_response", "next_response",
  // "resolution"), due at `due`, `target_ms` after `start`.
  void arm(Store::Batch& b, const v1::store::Conversation& c, const std::string& target,
           int64_t start, int64_t due, int64_t target_ms);
  // A met (or moot) target: its timers go, so the timers family only holds what can fire.
  void cancel(Store::Batch& b, const v1::store::Conversation& c, const std::string& target,
              int64_t due);
  // A new conversation: the targets of the first matching policy.
  void start(Store::Batch& b, v1::store::Conversation& c, const config::SlaPolicy& pol,
             int64_t now);
  // The customer waits for an answer (again): the next-response clock (`fallback_first`:
  // the first-response target when the policy has no next-response one, as on a reopen).
  void start_next_response(Store::Batch& b, v1::store::Conversation& c, int64_t now,
                           bool fallback_first);
  // Answered or resolved: the targets met go.
  void answered(Store::Batch& b, v1::store::Conversation& c);
  void resolved(Store::Batch& b, v1::store::Conversation& c);
  void raise_priority(Store::Batch& b, v1::store::Conversation& c, const std::string& why);

  // Overflow timers of the conversation's current queue, counted from `since`.
  void arm_overflow(Store::Batch& b, v1::store::Conversation& c, int64_t since);
  void cancel_overflow(Store::Batch& b, const v1::store::Conversation& c);
  // Waits for `agent` (served this customer last) until now + the queue's sticky wait.
  void arm_sticky(Store::Batch& b, v1::store::Conversation& c, const std::string& agent,
                  const config::Queue* q, int64_t now);

  // Timers.
  void fire_sla(Store::Batch& b, const Timer& t);
  void fire_overflow(Store::Batch& b, const Timer& t);
  void fire_sticky(Store::Batch& b, const Timer& t);

 private:
  Parts& p_;
};

}  // namespace omniroute::router
