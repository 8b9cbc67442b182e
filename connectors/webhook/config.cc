// Registration of the webhook connector: its name, declared settings and factory.
#include "connectors/http/listener.h"
#include "connectors/webhook/webhook.h"
#include "connectors/webhook/webhook_connector.h"

namespace omniroute::connectors::webhook {

sdk::ConnectorFactory factory() {
  using T = sdk::ConfigField::Type;
  sdk::ConnectorFactory f;
  f.name = "webhook";
  f.channel = v1::CHANNEL_WEBHOOK;
  f.description =
      "Canonical InboundMessage JSON over HTTP POST, HMAC-SHA256 signed; replies POSTed to a "
      "callback";
  f.settings = http::listener_fields();
  f.settings.insert(
      f.settings.end(),
      {
          {"max_body_bytes", T::kInt, "Largest accepted request body; larger gets 413", "960000",
           false, 1, 64 << 20},
          {"max_attachments", T::kInt, "Attachments per message at most", "100", false, 0, 10000},
          {"delivery_timeout_ms", T::kInt, "Timeout of one callback POST", "10000", false, 100,
           600000},
      });
  f.inbox_settings = {
      {"secret", T::kSecret, "HMAC-SHA256 key for inbound signatures and outbound callbacks", "",
       true},
      {"callback_url", T::kString, "Where agent replies are POSTed (http or https)", ""},
  };
  f.create = [](const sdk::Settings& s) -> std::unique_ptr<sdk::Connector> {
    return std::make_unique<WebhookConnector>(s);
  };
  f.normalize = [](std::string_view payload, v1::InboundMessage& out) {
    Limits limits;
    limits.max_body_bytes = SIZE_MAX;
    std::string err = parse_inbound(payload, limits, out);
    if (err.empty()) out.set_channel(v1::CHANNEL_WEBHOOK);
    return err;
  };
  return f;
}

}  // namespace omniroute::connectors::webhook
