// Threading: which conversation a customer message belongs to. Email: the Message-IDs it
// replies to (ours are "outbound:<id>", see the email connector) or the ticket tag of the
// subject, if it is the same customer's; a resolved conversation reopens within the
// workspace's reopen window. Elsewhere: the integrator's thread id, else one open
// conversation per customer and inbox. Also the threading headers of email replies.
#pragma once

#include <cstdint>
#include <string>

#include "config/config.h"
#include "omniroute/v1/events.pb.h"
#include "omniroute/v1/store.pb.h"
#include "router/store.h"

namespace omniroute::router {

struct Parts;

struct ThreadMatch {
  v1::store::Conversation conversation;  // loaded when !is_new
  bool is_new = true;
  bool reopen = false;     // resolved, within the reopen window
  std::string previous;    // the resolved conversation a new one follows
  std::string note;        // why a reply was not joined to what it replies to
  std::string thread_key;  // keys::thread of a non-email conversation
};

class Threading {
 public:
  explicit Threading(Parts& p) : p_(p) {}

  ThreadMatch find(Store::Batch& b, const v1::InboundMessage& m, const config::Inbox& inbox,
                   const std::string& customer_id, const std::string& customer_root, int64_t now);
  // A new conversation's thread (non-email) and, for email, every message's Message-ID
  // leading back to it.
  void remember(Store::Batch& b, const v1::store::Conversation& c, const v1::InboundMessage& m,
                bool is_new);
  // A resolved conversation no longer takes its thread's messages.
  void close(Store::Batch& b, const v1::store::Conversation& c);
  // A resolved conversation the customer wrote to again: back in its queue, with the
  // agent who had it first in line.
  void reopen(Store::Batch& b, v1::store::Conversation& c);
  // Email replies: ticket tag in the subject, In-Reply-To and References.
  void email_headers(Store::Batch& b, const v1::store::Conversation& c, v1::OutboundMessage& out);

 private:
  std::string email_thread(Store::Batch& b, const std::string& ws, const v1::InboundMessage& m,
                           const std::string& customer_root, std::string* note);
  Parts& p_;
};

}  // namespace omniroute::router
