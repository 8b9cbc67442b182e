// A small channel that exists only to prove the connector claim: everything it needs comes
// from the SDK and the HTTP base, and it lives entirely in this folder. Customers POST
// {"id", "from", "text"} to /v1/echo/{workspace}/{inbox}, signed with X-Echo-Signature
// (HMAC-SHA256 hex of the body under the inbox's secret); replies are "delivered" into an
// in-process mailbox a test reads.
#pragma once

#include <string>
#include <vector>

#include "connectors/sdk/connector.h"

namespace omniroute::echo {

sdk::ConnectorFactory factory();

struct Delivered {
  std::string to, text, outbound_id;
};
// Replies the connector delivered so far (thread-safe copy).
std::vector<Delivered> delivered();

}  // namespace omniroute::echo
