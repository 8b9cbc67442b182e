// Signature checks of inbound webhooks, the same everywhere: a request without the
// header is answered 401, a wrong one 403, both logged at warn without the body; the
// comparison runs in constant time. Each channel says only where its signature is and how
// the expected value is computed.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/http/server.h"
#include "connectors/sdk/connector.h"

namespace omniroute::connectors::http {

// nullopt when header `header` of `req` equals `expected()` (computed only when the header
// is there); otherwise the answer to send. `who` names the sender in the log line.
std::optional<Response> check_signed(const Request& req, std::string_view header,
                                     const std::function<std::string()>& expected,
                                     const sdk::Logger& log, std::string_view who);
// The same where several values may be right (Twilio signs the URL it called, which a
// proxy may have rewritten): `valid(presented)` decides, comparing in constant time.
std::optional<Response> check_signed_by(const Request& req, std::string_view header,
                                        const std::function<bool(const std::string&)>& valid,
                                        const sdk::Logger& log, std::string_view who);

// "sha256=" + HMAC-SHA256 hex of `body` (Meta's X-Hub-Signature-256).
std::string hmac_sha256_tagged(std::string_view secret, std::string_view body);

}  // namespace omniroute::connectors::http
