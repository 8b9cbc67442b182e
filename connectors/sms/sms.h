// The SMS connector: Twilio-compatible webhooks in (messages and status callbacks, signed
// with X-Twilio-Signature), the provider's REST API out. Numbers are E.164
// (libphonenumber); STOP/START/HELP are honoured; replies are measured in segments.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/sdk/connector.h"

namespace omniroute::connectors::sms {

using Params = std::vector<std::pair<std::string, std::string>>;

// X-Twilio-Signature as Twilio computes it: base64(HMAC-SHA1(auth token, the full URL
// Twilio requested + every POST parameter's name and value, sorted by name)).
std::string twilio_signature(std::string_view auth_token, std::string_view url,
                             const Params& params);

// The spellings of `url` Twilio's own validators also accept: as given, with the scheme's
// default port added (https://h/x -> https://h:443/x), or removed (http://h:80/x ->
// http://h/x). Proxies and load balancers differ in which one reaches us.
std::vector<std::string> twilio_url_variants(const std::string& url);

struct Limits {
  size_t max_text_bytes = 4096;  // Twilio concatenates up to 1600 characters
  int max_media = 10;            // MMS carries at most 10
  size_t max_params = 200;
  size_t max_id_bytes = 64;
};

// Carrier keywords (the whole message, any case, surrounding spaces and punctuation
// ignored), as Twilio's opt-out handling knows them.
enum class Keyword { kNone, kStop, kStart, kHelp };
Keyword keyword_of(std::string_view body);
const char* keyword_name(Keyword k);

// Twilio's inbound message parameters -> InboundMessage (channel, handle in E.164 read in
// `region` when it has no country code, MMS media as attachments). "" or the reason.
std::string parse_inbound(const Params& params, std::string_view region, const Limits& limits,
                          v1::InboundMessage& out);

// How a text travels: GSM-7 (160 characters in one message, 153 per part when
// concatenated; ^{}\[~]|€ count twice) or UCS-2 (70, then 67 UTF-16 units per part).
struct Segments {
  bool gsm7 = true;
  int count = 0;
  int units = 0;  // septets (GSM-7) or UTF-16 code units (UCS-2)
};
Segments segments_of(std::string_view utf8);

// The connector's registration (name "sms").
sdk::ConnectorFactory factory();

}  // namespace omniroute::connectors::sms
