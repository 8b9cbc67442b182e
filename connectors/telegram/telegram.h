// Telegram: the Bot API as a channel. Webhook updates in, the Bot API out; built on the
// social platforms' shared connector (connectors/social/platform.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "connectors/sdk/connector.h"
#include "connectors/social/social.h"

namespace omniroute::connectors::telegram {

// The "telegram" connector's registration.
sdk::ConnectorFactory factory();

// A Telegram Update -> events (zero for updates that carry nothing for an agent).
// `bot_id` scopes the handles ("<bot id>/<chat id>").
std::string parse(std::string_view body, std::string_view bot_id, const social::Limits& limits,
                  std::vector<social::Event>& out);

}  // namespace omniroute::connectors::telegram
