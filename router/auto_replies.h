// Automatic replies to a customer who opens a conversation: outside business hours, when
// they will be answered (once per conversation); otherwise the inbox's acknowledgement
// with the reference (at most once per customer per window). Never to a machine.
#pragma once

#include <string>

#include "config/config.h"
#include "omniroute/v1/events.pb.h"
#include "omniroute/v1/store.pb.h"
#include "router/store.h"

namespace omniroute::router {

struct Parts;

class AutoReplies {
 public:
  explicit AutoReplies(Parts& p) : p_(p) {}

  // Both, in order, for a conversation just opened by `m`.
  void on_open(Store::Batch& b, v1::store::Conversation& c, const v1::InboundMessage& m,
               v1::store::Customer& customer, const config::Workspace& ws,
               const config::Inbox& inbox);
  static void substitute(std::string& text, const std::string& var, const std::string& value);

 private:
  void closed_hours(Store::Batch& b, v1::store::Conversation& c, const v1::InboundMessage& m,
                    const config::Workspace& ws, int64_t now);
  void acknowledge(Store::Batch& b, v1::store::Conversation& c, const v1::InboundMessage& m,
                   v1::store::Customer& customer, const config::Workspace& ws,
                   const config::Inbox& inbox, int64_t now);
  // The message itself: in the history, on the channel's outbound topic.
  void send(Store::Batch& b, v1::store::Conversation& c, const v1::InboundMessage& m,
            const std::string& text);
  Parts& p_;
};

}  // namespace omniroute::router
