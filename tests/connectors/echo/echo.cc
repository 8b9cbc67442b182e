#include "tests/connectors/echo/echo.h"

#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "connectors/http/connector.h"
#include "connectors/http/listener.h"
#include "connectors/http/signature.h"

namespace omniroute::echo {
namespace {

namespace http = connectors::http;
constexpr std::string_view kPrefix = "/v1/echo/";

std::mutex mailbox_mu;
std::vector<Delivered> mailbox;

class EchoConnector : public http::HttpConnector {
 public:
  explicit EchoConnector(const sdk::Settings& s) : HttpConnector("echo", s) {}
  ~EchoConnector() override { stop(); }

  sdk::DeliveryResult deliver(const v1::OutboundMessage& m, const sdk::InboxInfo&) override {
    std::lock_guard lock(mailbox_mu);
    mailbox.push_back({m.customer_handle(), m.text_body(), m.outbound_id()});
    return sdk::DeliveryResult::delivered("echo-" + m.outbound_id());
  }

 private:
  std::vector<http::Route> routes() override {
    http::Route r;
    r.prefix = std::string(kPrefix);
    r.max_body_bytes = 4096;
    r.handler = [this](http::Request req, http::Respond respond) {
      handle(std::move(req), std::move(respond));
    };
    return {std::move(r)};
  }
  std::vector<std::string> paths() const override { return {"/v1/echo/{workspace}/{inbox}"}; }

  void handle(http::Request req, http::Respond respond) {
    const auto seg = http::path_segments(req.path, kPrefix);
    const sdk::InboxInfo* inbox = seg.size() == 2 ? host().inbox(seg[0], seg[1]) : nullptr;
    if (!inbox) return respond(http::Response::error(404, "unknown inbox"));
    if (auto refused = http::check_signed(
            req, "X-Echo-Signature",
            [&] { return crypto::hmac_sha256_hex(inbox->settings.str("secret"), req.body); },
            host().logger(), "echo")) {
      return respond(std::move(*refused));
    }
    const auto j = nlohmann::json::parse(req.body, nullptr, false);
    if (!j.is_object() || !j.contains("id") || !j.contains("from") || !j.contains("text"))
      return respond(http::Response::error(400, "needs id, from and text"));
    v1::Envelope env;
    auto* m = env.mutable_message();
    m->set_workspace_id(inbox->workspace_id);
    m->set_inbox_id(inbox->inbox_id);
    m->set_channel(v1::CHANNEL_CUSTOM);
    m->set_external_message_id(j.value("id", ""));
    m->set_customer_handle(j.value("from", ""));
    m->set_text_body(j.value("text", ""));
    publish_and_answer(std::move(env), std::move(respond), [](const sdk::PublishResult&) {
      return http::Response::json(202, R"({"status":"accepted"})");
    });
  }
};

}  // namespace

sdk::ConnectorFactory factory() {
  sdk::ConnectorFactory f;
  f.name = "echo";
  f.channel = v1::CHANNEL_CUSTOM;
  f.description = "Test-only channel: signed JSON in, an in-process mailbox out";
  f.settings = http::listener_fields();
  f.inbox_settings = {
      {"secret", sdk::ConfigField::Type::kSecret, "HMAC key of X-Echo-Signature", "", true}};
  f.create = [](const sdk::Settings& s) { return std::make_unique<EchoConnector>(s); };
  return f;
}

std::vector<Delivered> delivered() {
  std::lock_guard lock(mailbox_mu);
  return mailbox;
}

}  // namespace omniroute::echo
