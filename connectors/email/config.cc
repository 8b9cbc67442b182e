// Registration of the email connector: its settings, its delivery (SMTP) and its
// normalizer. IMAP ingestion is not built yet (docs/email.md).
#include <fmt/format.h>

#include <chrono>

#include "connectors/email/email.h"
#include "connectors/email/mime.h"
#include "connectors/email/smtp.h"

namespace omniroute::connectors::email {

namespace {

class EmailConnector : public sdk::Connector {
 public:
  explicit EmailConnector(const sdk::Settings& s) : settings_(s) {}
  std::string start(sdk::Host& host) override {
    host_ = &host;
    host.logger()->warn(
        "email: IMAP ingestion is not built yet; this connector delivers replies by SMTP "
        "only (docs/email.md)");
    return {};
  }
  void stop() override {}
  sdk::DeliveryResult deliver(const v1::OutboundMessage& m, const sdk::InboxInfo& inbox) override {
    const auto& s = inbox.settings;
    Sender from;
    from.address = s.str("from_address");
    from.name = s.str("from_name");
    from.reply_to = s.str("reply_to");
    from.message_id_domain = s.str("message_id_domain");
    if (from.message_id_domain.empty() && from.address.find('@') != std::string::npos)
      from.message_id_domain = from.address.substr(from.address.find('@') + 1);
    from.attachment_dir = settings_.str("attachment_dir");
    std::string err;
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    const std::string bytes = compose(m, from, now, err);
    if (bytes.empty()) return sdk::DeliveryResult::failed(err);
    SmtpServer server;
    server.url = s.str("smtp_url");
    server.username = s.str("smtp_username");
    server.password = s.str("smtp_password");
    server.tls = s.str("smtp_tls");
    server.timeout_ms = static_cast<long>(settings_.integer("smtp_timeout_ms"));
    return send(server, from.address, m.customer_handle(), bytes);
  }

 private:
  sdk::Settings settings_;
  sdk::Host* host_ = nullptr;
};

}  // namespace

sdk::ConnectorFactory factory() {
  using T = sdk::ConfigField::Type;
  sdk::ConnectorFactory f;
  f.name = "email";
  f.channel = v1::CHANNEL_EMAIL;
  f.description = "Email: replies by SMTP (libcurl, GMime); IMAP ingestion not built yet";
  f.settings = {
      {"attachment_dir", T::kString, "Attachment store (content addressed by sha256)",
       "var/attachments"},
      {"smtp_timeout_ms", T::kInt, "Timeout of one SMTP delivery", "30000", false, 1000, 600000},
  };
  f.inbox_settings = {
      {"from_address", T::kString, "Address replies are sent from", "", true},
      {"from_name", T::kString, "Display name of the inbox (\"Acme Support\")", ""},
      {"reply_to", T::kString, "Reply-To address, if not from_address", ""},
      {"message_id_domain", T::kString, "Right side of our Message-IDs (default: from's domain)",
       ""},
      {"smtp_url", T::kString, "smtp://host:587 (STARTTLS per smtp_tls) or smtps://host:465", "",
       true},
      {"smtp_tls", T::kString, "none | starttls (required) | implicit (smtps://)", "starttls"},
      {"smtp_username", T::kString, "SMTP user (often the from address)", ""},
      {"smtp_password", T::kSecret, "SMTP password or app password ({env: X} or {file: P})", ""},
  };
  f.create = [](const sdk::Settings& s) -> std::unique_ptr<sdk::Connector> {
    return std::make_unique<EmailConnector>(s);
  };
  f.normalize = [](std::string_view payload, v1::InboundMessage& out) -> std::string {
    Parsed parsed;
    std::string why;
    switch (parse(payload, Limits{}, "", parsed, why)) {
      case Outcome::kOk:
        out = std::move(parsed.message);
        return "";
      case Outcome::kRejected:
        return "rejected: " + why;
      case Outcome::kNotAMessage:
        return why;
    }
    return "unreachable";
  };
  return f;
}

}  // namespace omniroute::connectors::email
