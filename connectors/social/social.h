// Social channels: Meta's webhooks (Messenger, Instagram, WhatsApp Cloud API) here, and
// the Telegram Bot API in connectors/telegram/. Each is its own connector (one channel
// each) built on the same platform code (platform.h):
// signed webhooks in (published before they are acknowledged), the platform's send API
// out, delivery and read receipts back as DeliveryStatus and signals.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "connectors/sdk/connector.h"

namespace omniroute::connectors::social {

enum class Platform { kMessenger, kInstagram, kWhatsApp, kTelegram };

struct Limits {
  size_t max_events = 1000;       // messages, statuses and signals in one POST
  size_t max_text_bytes = 65536;  // one message's text
  int max_attachments = 20;
  size_t max_id_bytes = 256;
  int max_depth = 64;  // JSON nesting
};

// One thing a webhook POST reported.
struct Event {
  std::string
      account;  // page id / Instagram account id / phone_number_id / bot id: selects the inbox
  v1::Envelope envelope;  // a message, a delivery status (provider_message_id only), or a signal
};

// "sha256=" + hex HMAC-SHA256 over the raw body under the app secret (X-Hub-Signature-256).
std::string meta_signature(std::string_view app_secret, std::string_view body);

// What a batched webhook held besides its events: things with nothing for an agent
// (echoes of our own messages, Instagram unsends, unsupported messages, reactions,
// optins...), and events that are malformed on their own, each with the reason and its
// JSON (cut to 64 KiB) for the DLQ. Neither fails the rest of the request.
struct ParseReport {
  int skipped = 0;
  std::vector<std::pair<std::string, std::string>> rejected;  // reason, event JSON
};

// A Meta webhook body ("object": page | instagram | whatsapp_business_account) -> events.
// Channel, handles and ids are filled; workspace and inbox are not. "" or the reason the
// whole body is refused (not JSON, wrong object, too many events).
std::string parse_meta(std::string_view body, Platform platform, const Limits& limits,
                       std::vector<Event>& out, ParseReport* report = nullptr);

const char* platform_name(Platform p);

// The connectors' registrations: "messenger", "instagram", "whatsapp" (Telegram, built on
// the same platform code, is connectors/telegram/).
sdk::ConnectorFactory messenger_factory();
sdk::ConnectorFactory instagram_factory();
sdk::ConnectorFactory whatsapp_factory();

}  // namespace omniroute::connectors::social
