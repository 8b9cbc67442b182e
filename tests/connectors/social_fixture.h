// The running social connectors against a fake Host and local fake Graph / Bot APIs
// (tests/connectors/fake_providers.py), shared by the connector tests.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "connectors/http/client.h"
#include "connectors/social/social.h"
#include "tests/support/fake_host.h"
#include "tests/support/fake_providers.h"
#include "tests/support/support.h"

namespace omniroute::connectors::social {

using json = nlohmann::json;

// X-Hub-Signature-256 computed here with OpenSSL, independently of the connector.
inline std::string hub_signature(const std::string& secret, const std::string& body) {
  return "sha256=" + testing::hex_of(testing::hmac_raw(EVP_sha256(), secret, body));
}

inline int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class SocialConnectorTest : public ::testing::Test {
 protected:
  std::unique_ptr<sdk::Connector> start(sdk::ConnectorFactory f, const std::string& inbox_yaml,
                                        v1::Channel channel) {
    sdk::InboxInfo inbox{"acme", "social", channel,
                         testing::settings_of(f.inbox_settings, inbox_yaml)};
    host_ = std::make_unique<testing::FakeHost>(std::vector<sdk::InboxInfo>{inbox});
    const std::string yaml =
        f.name == "telegram"
            ? fmt::format("{{listen: '127.0.0.1:0', state_dir: '{}', bot_api_base_url: '{}'}}",
                          dir_.path() + "/tg", providers_.url())
            : fmt::format(
                  "{{listen: '127.0.0.1:0', state_dir: '{}', app_secret: app-secret, "
                  "verify_token: verify-me, graph_api_base_url: '{}'}}",
                  dir_.path() + "/" + f.name, providers_.url());
    auto c = f.create(testing::settings_of(f.settings, yaml));
    EXPECT_EQ(c->start(*host_), "");
    const std::string ep = c->endpoints().at(0);
    base_ = ep.substr(0, ep.find("/v1/"));
    return c;
  }
  http::ClientResponse post(const std::string& path, const std::string& body,
                            std::vector<std::string> headers) {
    http::ClientRequest r;
    r.url = base_ + path;
    r.headers = std::move(headers);
    r.headers.push_back("Content-Type: application/json");
    r.body = body;
    return http::send(r);
  }
  http::ClientResponse meta_post(const std::string& path, const std::string& body) {
    return post(path, body, {"X-Hub-Signature-256: " + hub_signature("app-secret", body)});
  }
  v1::OutboundMessage reply(const std::string& id, const std::string& handle,
                            const std::string& text) {
    v1::OutboundMessage m;
    m.set_outbound_id(id);
    m.set_workspace_id("acme");
    m.set_inbox_id("social");
    m.set_conversation_id("C1");
    m.set_customer_handle(handle);
    m.set_text_body(text);
    return m;
  }
  json last_request() {
    auto r = providers_.requests();
    return r.empty() ? json() : r.back();
  }

  testing::TempDir dir_;
  testing::FakeProviders providers_;
  std::unique_ptr<testing::FakeHost> host_;
  std::string base_;
};

}  // namespace omniroute::connectors::social
