// libFuzzer target: Meta (Messenger, Instagram, WhatsApp) and Telegram webhook bodies
// through the social parsers. The first byte picks the parser. Nothing may crash, and
// every event they return must serialize and parse back (valid UTF-8 for Kafka).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "connectors/social/social.h"
#include "connectors/telegram/telegram.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace omniroute::connectors::social;
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<Event> events;
  Limits limits;
  limits.max_events = 200;
  std::string err;
  switch (data[0] % 4) {
    case 0:
      err = parse_meta(body, Platform::kMessenger, limits, events);
      break;
    case 1:
      err = parse_meta(body, Platform::kInstagram, limits, events);
      break;
    case 2:
      err = parse_meta(body, Platform::kWhatsApp, limits, events);
      break;
    default:
      err = omniroute::connectors::telegram::parse(body, "12345", limits, events);
  }
  if (events.size() > limits.max_events + 1) abort();
  if (!err.empty()) return 0;
  for (const auto& e : events) {
    std::string wire;
    if (!e.envelope.SerializeToString(&wire)) abort();
    omniroute::v1::Envelope back;
    if (!back.ParseFromString(wire)) abort();
    if (e.envelope.has_message() && e.envelope.message().customer_handle().empty()) abort();
  }
  return 0;
}
