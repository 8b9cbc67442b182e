// What the channel loop tests send as the providers would: Twilio's signed form posts and
// Meta's signed webhooks, and what they check at the desk.
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/http/client.h"
#include "tests/integration/harness.h"
#include "tests/support/fake_host.h"
#include "tests/support/fake_providers.h"

namespace omniroute::testing {

using Params = std::vector<std::pair<std::string, std::string>>;

inline std::string twilio_sig(const std::string& token, const std::string& url, Params p) {
  std::sort(p.begin(), p.end());
  std::string data = url;
  for (const auto& [k, v] : p) data += k + v;
  return base64_of(hmac_raw(EVP_sha1(), token, data));
}

inline int post_form(const std::string& url, const std::string& token, const Params& p) {
  connectors::http::ClientRequest r;
  r.url = url;
  r.headers = {"Content-Type: application/x-www-form-urlencoded",
               "X-Twilio-Signature: " + twilio_sig(token, url, p)};
  for (const auto& [k, v] : p) {
    if (!r.body.empty()) r.body += '&';
    r.body += connectors::http::url_encode(k) + "=" + connectors::http::url_encode(v);
  }
  return static_cast<int>(connectors::http::send(r).status);
}

// A WhatsApp Cloud API webhook carrying `value`, signed with `app_secret`.
inline long post_whatsapp(const std::string& hook, const std::string& app_secret,
                          const nlohmann::json& value) {
  const std::string body =
      nlohmann::json{
          {"object", "whatsapp_business_account"},
          {"entry", {{{"id", "WABA"}, {"changes", {{{"field", "messages"}, {"value", value}}}}}}}}
          .dump();
  connectors::http::ClientRequest r;
  r.url = hook;
  r.headers = {"Content-Type: application/json",
               "X-Hub-Signature-256: sha256=" + hex_of(hmac_raw(EVP_sha256(), app_secret, body))};
  r.body = body;
  return connectors::http::send(r).status;
}

inline bool has_state(const RecordingDesk& d, v1::DeliveryStatus::State s,
                      const std::string& detail = "") {
  for (const auto& u : d.deliveries())
    if (u.state() == s && u.detail().find(detail) != std::string::npos) return true;
  return false;
}

}  // namespace omniroute::testing
