// Identity: which customer wrote. The channel handle resolves to a customer; verified
// identities (the handle itself on channels whose connector declares it an email address
// or a phone number, and what the connector vouches for) link customers across channels.
// The group's root holds the shared profile, which the message's name, language and
// attributes update.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "omniroute/v1/events.pb.h"
#include "router/customers.h"
#include "router/store.h"

namespace omniroute::router {

struct Parts;

struct Who {
  Customers::Resolved customer;         // direct = the handle's record, root = the profile
  std::vector<std::string> link_notes;  // links this message made, for the trail
};

class Identity {
 public:
  explicit Identity(Parts& p) : p_(p) {}
  Who resolve(Store::Batch& b, const v1::InboundMessage& m, const config::Inbox& inbox,
              int64_t now);

 private:
  void update_profile(Store::Batch& b, v1::store::Customer& customer, const v1::InboundMessage& m);
  Parts& p_;
};

}  // namespace omniroute::router
