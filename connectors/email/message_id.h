// The Message-IDs of the mail omniroute sends carry the outbound id they were made for,
// so a reply (In-Reply-To, References) or a bounce leads back to it without any lookup
// table in the connector: "o-<hex of the outbound id>@<domain>". Towards the router, such
// an id is written "outbound:<outbound id>"; every other Message-ID passes unchanged.
#pragma once

#include <string>
#include <string_view>

namespace omniroute::connectors::email {

// "<o-...@domain>" without the angle brackets.
std::string outbound_message_id(std::string_view outbound_id, std::string_view domain);
// "outbound:<id>" for one of ours, else `message_id` unchanged.
std::string router_message_id(std::string_view message_id);

}  // namespace omniroute::connectors::email
