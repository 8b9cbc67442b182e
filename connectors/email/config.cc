// Registration of the email connector: its name and its normalizer.
#include <fmt/format.h>

#include "connectors/email/email.h"
#include "connectors/email/mime.h"

namespace omniroute::connectors::email {

sdk::ConnectorFactory factory() {
  sdk::ConnectorFactory f;
  f.name = "email";
  f.channel = v1::CHANNEL_EMAIL;
  f.description = "MIME normalization is built; IMAP ingestion and SMTP delivery are not yet";
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
