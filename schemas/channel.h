// Names of channels as used in config keys, topic names and connector names.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "omniroute/v1/events.pb.h"

namespace omniroute {

// "webhook", "email", "chat", "sms", "messenger", "instagram", "whatsapp", "telegram".
std::string channel_name(v1::Channel c);
std::optional<v1::Channel> parse_channel(std::string_view name);

}  // namespace omniroute
