// Inbound: records consumed from omni.inbound. A customer message passes named stages:
// dedup -> bounce? -> identity -> threading -> history -> open / reopen / forward.
// Delivery statuses update the reply's history entry; typing signals reach the agent.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"
#include "omniroute/v1/events.pb.h"
#include "omniroute/v1/store.pb.h"
#include "router/identity.h"
#include "router/store.h"
#include "router/threading.h"

namespace omniroute::router {

struct Parts;

class Inbound {
 public:
  explicit Inbound(Parts& p) : p_(p) {}

  // One record at (topic, partition, offset): its offset is stored in the same step;
  // what cannot be processed goes to the DLQ with the reason.
  void apply_record(Store::Batch& b, const std::string& topic, int32_t partition, int64_t offset,
                    std::string_view key, std::string_view value);
  void message(Store::Batch& b, const v1::InboundMessage& m);
  void delivery_status(Store::Batch& b, const v1::DeliveryStatus& s);
  // A customer's typing signal to the agent of their open conversation (web chat).
  void signal(Store::Batch& b, const v1::Signal& s);

 private:
  // A bounce of one of our messages is a delivery status, not a conversation: true when
  // `m` was one (and is handled).
  bool bounce(Store::Batch& b, const v1::InboundMessage& m, const config::Inbox& inbox,
              const std::string& dedup_key);
  // A new conversation record for `m` (not yet saved).
  void create(Store::Batch& b, ThreadMatch& t, const v1::InboundMessage& m,
              const config::Inbox& inbox, const Who& who, int64_t now);
  // The message in the conversation's history, and its dedup and threading records.
  v1::ConversationMessage record(Store::Batch& b, v1::store::Conversation& c,
                                 const v1::InboundMessage& m, const Who& who,
                                 const std::string& dedup_key, bool is_new, int64_t now);
  void open(Store::Batch& b, v1::store::Conversation& c, const v1::InboundMessage& m,
            v1::store::Customer& customer);
  // A message in a conversation already open: to its agent, if assigned.
  void forward(Store::Batch& b, v1::store::Conversation& c, const v1::ConversationMessage& cm);
  Parts& p_;
};

}  // namespace omniroute::router
