// The generic webhook connector: integrators in any language POST the canonical
// InboundMessage as JSON, signed with HMAC-SHA256 over the raw body under the inbox's
// secret; agent replies are POSTed, signed the same way, to the inbox's callback URL.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "connectors/sdk/connector.h"

namespace omniroute::connectors::webhook {

inline constexpr std::string_view kSignatureHeader = "X-Omniroute-Signature";  // "sha256=<hex>"
inline constexpr std::string_view kDeliveryIdHeader = "X-Omniroute-Delivery-Id";

struct Limits {
  size_t max_body_bytes = 1 << 20;
  size_t max_attachments = 100;
  size_t max_metadata_entries = 64;
  size_t max_id_bytes = 256;
};

// Canonical JSON -> InboundMessage with field checks. Returns "" or the reason (for 400).
std::string parse_inbound(std::string_view json, const Limits& limits, v1::InboundMessage& out);

// A survey answer as an integrator posts it ({"survey_id", "customer_handle", "rating",
// "comment"?, "external_id"}) -> CsatAnswer (workspace and inbox not set). "" or the reason.
std::string parse_csat(std::string_view json, const Limits& limits, v1::CsatAnswer& out);

// "sha256=" + hex HMAC-SHA256 of `body` under `secret`.
std::string sign(std::string_view secret, std::string_view body);

// One signed JSON POST (both directions use it). `delivery_id` adds X-Omniroute-Delivery-Id;
// an empty `secret` sends no signature. `curl_error` is set when no HTTP answer came.
struct PostResult {
  long status = 0;
  std::string body;  // first 2 KB of the answer
  std::string curl_error;
};
PostResult signed_post(const std::string& url, std::string_view secret, const std::string& body,
                       const std::string& delivery_id, long timeout_ms);

// The connector's registration (name, settings, factory, normalizer).
sdk::ConnectorFactory factory();

}  // namespace omniroute::connectors::webhook
