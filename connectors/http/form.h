// Form bodies, percent-encoding and path segments (libcurl's codec underneath).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace omniroute::connectors::http {

// application/x-www-form-urlencoded -> pairs in order ('+' is a space, %XX decoded).
std::vector<std::pair<std::string, std::string>> parse_form(std::string_view text);
// Percent-decodes one component ('+' stays '+' unless `plus_is_space`).
std::string url_decode(std::string_view text, bool plus_is_space = true);
// Percent-encodes everything but unreserved characters.
std::string url_encode(std::string_view text);

// "/v1/sms/acme/line1/twilio" with prefix "/v1/sms/" -> {"acme", "line1", "twilio"}.
std::vector<std::string> path_segments(std::string_view path, std::string_view prefix);

}  // namespace omniroute::connectors::http
