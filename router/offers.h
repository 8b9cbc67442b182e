// Offers: a conversation offered to an agent (or to several at once, a parallel offer),
// withdrawn, accepted (the first accept wins), rejected, expired, or taken back.
#pragma once

#include <string>
#include <vector>

#include "omniroute/v1/agent.pb.h"
#include "omniroute/v1/routing.pb.h"
#include "omniroute/v1/store.pb.h"
#include "router/store.h"
#include "router/timers.h"

namespace omniroute::router {

struct Parts;
struct AgentRt;

class Offers {
 public:
  explicit Offers(Parts& p) : p_(p) {}

  // Offer ids are "<conversation>/<n>", so the conversation is known from the id alone.
  static std::string conversation_of(const std::string& offer_id);
  // Whether `agent` is offered `c` right now (alone or in a parallel offer).
  static bool in_round(const v1::store::Conversation& c, const std::string& agent);
  // Everyone offered `c` in the current round, the primary first.
  static std::vector<std::string> round_of(const v1::store::Conversation& c);

  // Offers `c` to `a` (and, for a parallel offer, to `also` at the same time).
  void offer(Store::Batch& b, v1::store::Conversation& c, AgentRt& a, const std::string& why,
             const std::vector<v1::RoutingEvent::Candidate>& considered,
             const std::vector<AgentRt*>& also = {});
  void accept(Store::Batch& b, AgentRt& a, const v1::Accept& m);
  void reject(Store::Batch& b, AgentRt& a, const v1::Reject& m);
  // Takes `a` out of a parallel offer that others still hold (saved); false (and nothing
  // done) when `a` is alone in the round or not in it.
  bool leave_round(Store::Batch& b, v1::store::Conversation& c, AgentRt& a, bool remember);
  // Withdraws the current round from everyone in it and puts `c` back in its queue.
  void withdraw(Store::Batch& b, v1::store::Conversation& c, const std::string& reason,
                bool remember);
  // Takes a conversation away from whoever holds it (offer or assignment), telling them.
  void take_back(Store::Batch& b, v1::store::Conversation& c, const std::string& reason);
  void cancel_timer(Store::Batch& b, const v1::store::Conversation& c);
  // The offer-expiry timer.
  void expired(Store::Batch& b, const Timer& t);
  // The presence-grace timer: an agent still gone loses its assigned conversations, which
  // go back to the front of their queues.
  void grace_over(Store::Batch& b, const Timer& t);

 private:
  Parts& p_;
};

}  // namespace omniroute::router
