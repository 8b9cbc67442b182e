// Classification of a new conversation: its language (the message's declared language,
// the customer's profile, CLD2 detection on the text, else the workspace default) and
// the first routing rule that matches (queue, priority, required skills), else the
// inbox's default queue. Pure functions: no state, no I/O.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "config/config.h"
#include "omniroute/v1/events.pb.h"

namespace omniroute::router {

// Detects the language of UTF-8 text with CLD2; "" when unsure or not valid UTF-8.
// Looks at most at the first `max_bytes` bytes.
std::string detect_language(std::string_view text, size_t max_bytes = 4096);

struct Classification {
  std::string language;         // primary subtag, "" = unknown
  std::string language_source;  // message | customer | detected | workspace
  std::string queue;
  int priority = 0;
  config::Skills skills;
  std::string rule;    // rule name, "" = inbox default
  std::string reason;  // in words, for the decision trail
};

Classification classify(const config::Workspace& ws, const config::Inbox& inbox,
                        const v1::InboundMessage& m, const std::string& customer_language,
                        const std::map<std::string, std::string>& customer_attributes);

}  // namespace omniroute::router
