// Conversations in the store: the record, its messages, and the frames a desk sees of it
// (Offer, Assignment with the history and the customer's earlier conversations). State
// access only; what happens to a conversation is decided by the other parts.
#pragma once

#include <string>
#include <vector>

#include "omniroute/v1/agent.pb.h"
#include "omniroute/v1/store.pb.h"
#include "router/errors.h"
#include "router/store.h"

namespace omniroute::router {

struct Parts;
struct AgentRt;

const char* state_name(v1::store::ConversationState s);

class Conversations {
 public:
  explicit Conversations(Parts& p) : p_(p) {}

  [[nodiscard]] bool load(Store::Batch& b, const std::string& ws, const std::string& id,
                          v1::store::Conversation& c);
  void save(Store::Batch& b, const v1::store::Conversation& c);
  // Appends `m` to the history (its seq and time set); the new message count.
  uint64_t append(Store::Batch& b, v1::store::Conversation& c, v1::ConversationMessage m);
  // A system line in the history ("Transferred by ...").
  void note(Store::Batch& b, v1::store::Conversation& c, const std::string& text);
  // The conversation `id` when it is assigned to `a`; otherwise why not (NOT_FOUND or
  // CONFLICT).
  Status load_assigned(Store::Batch& b, const AgentRt& a, const std::string& id,
                       v1::store::Conversation& c);
  // The summary a desk sees: the stored one plus the language and the SLA due time.
  v1::ConversationSummary summary(const v1::store::Conversation& c) const;
  // Messages first..last of conversation `id` (those stored), read in one pass.
  std::vector<v1::ConversationMessage> messages(Store::Batch& b, const std::string& ws,
                                                const std::string& id, uint64_t first,
                                                uint64_t last);
  // The latest router.max_history messages.
  std::vector<v1::ConversationMessage> history(Store::Batch& b, const v1::store::Conversation& c);
  v1::Assignment assignment(Store::Batch& b, const v1::store::Conversation& c,
                            const std::string& offer_id);
  v1::Offer offer_frame(Store::Batch& b, const v1::store::Conversation& c);

 private:
  Parts& p_;
};

}  // namespace omniroute::router
