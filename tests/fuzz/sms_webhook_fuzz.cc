// libFuzzer target: a Twilio webhook body (form-encoded) through the SMS parser must never
// crash, and what it accepts must keep its promises (an E.164 handle, or an unverified
// number or short code; a serializable event).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "connectors/http/server.h"
#include "connectors/sms/sms.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace omniroute::connectors;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto params = http::parse_form(body);
  (void)sms::twilio_signature("token", "https://example.com/v1/sms/a/b/messages", params);
  omniroute::v1::InboundMessage m;
  for (const auto& [k, v] : params) {
    (void)sms::keyword_of(v);
    const auto s = sms::segments_of(v);
    if (s.units > 0 && s.count < 1) abort();
    if (s.count > s.units) abort();
  }
  if (!sms::parse_inbound(params, "US", sms::Limits{}, m).empty()) return 0;
  // A verified handle is E.164; an unverified one is "+digits" or a short code of 3 to 8
  // digits (connectors/phone/phone.h).
  const std::string& h = m.customer_handle();
  if (h.empty()) abort();
  if (!m.handle_unverified() && h[0] != '+') abort();
  const std::string digits = h[0] == '+' ? h.substr(1) : h;
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) abort();
  if (h[0] != '+' && (digits.size() < 3 || digits.size() > 8)) abort();
  std::string wire;
  if (!m.SerializeToString(&wire)) abort();
  omniroute::v1::InboundMessage back;
  if (!back.ParseFromString(wire)) abort();
  return 0;
}
