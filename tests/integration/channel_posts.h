// What the channel loop tests send as the providers would: Twilio's signed form posts and
// Meta's signed webhooks, and what they check at the desk.
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
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

// A stack with one SMS inbox, acme/line (+14155550100, account AC1, token "tok"), behind
// `base` on `port`, sending through `api`; `inbox_extra` is one more key of the inbox (a
// csat: block). Agent alice answers SMS.
inline std::string sms_stack_yaml(const std::string& dir, int port, const std::string& base,
                                  const std::string& api, const std::string& inbox_extra = "") {
  return fmt::format(R"(log_level: warn
state: {{dir: "{0}/state"}}
kafka: {{brokers: embedded, partitions: 1}}
router: {{agent_endpoint: "tcp://127.0.0.1:*", agent_auth: none, insecure: true, heartbeat_interval_ms: 200, heartbeat_timeout_ms: 800}}
connectors:
  sms: {{listen: "127.0.0.1:{1}", public_url: "{2}", state_dir: "{0}/sms", api_base_url: "{3}",
         initial_backoff_ms: 100}}
workspaces:
  - id: acme
    queues: [{{id: general}}]
    inboxes:
      - id: line
        channel: sms
        queue: general
        {4}
        settings: {{account_sid: AC1, auth_token: tok, from_number: "+14155550100"}}
    agents:
      - {{id: alice, capacity: {{sms: 5}}}}
)",
                     dir, port, base, api, inbox_extra);
}

// A customer's SMS to acme/line as Twilio posts it, signed; the HTTP status.
inline int post_sms(const std::string& base, const std::string& sid, const std::string& from,
                    const std::string& body) {
  return post_form(base + "/v1/sms/acme/line/messages", "tok",
                   {{"MessageSid", sid},
                    {"AccountSid", "AC1"},
                    {"From", from},
                    {"To", "+14155550100"},
                    {"Body", body},
                    {"NumMedia", "0"}});
}

inline bool has_state(const RecordingDesk& d, v1::DeliveryStatus::State s,
                      const std::string& detail = "") {
  for (const auto& u : d.deliveries())
    if (u.state() == s && u.detail().find(detail) != std::string::npos) return true;
  return false;
}

}  // namespace omniroute::testing
