// Email out: an OutboundMessage written as a MIME message with GMime (plain text and an
// HTML alternative in UTF-8, attachments from the store, our Message-ID, In-Reply-To and
// References so the customer's client threads it) and handed to an SMTP server with
// libcurl.
#pragma once

#include <string>

#include "connectors/sdk/connector.h"
#include "omniroute/v1/events.pb.h"

namespace omniroute::connectors::email {

struct Sender {
  std::string address;            // From: the inbox's address
  std::string name;               // display name of the inbox ("Acme Support")
  std::string reply_to;           // optional
  std::string message_id_domain;  // right side of our Message-IDs
  std::string attachment_dir;     // the attachment store
};

// The message as RFC 5322 bytes (CRLF line ends), or "" and `err`.
std::string compose(const v1::OutboundMessage& m, const Sender& from, int64_t now_ms,
                    std::string& err);

struct SmtpServer {
  std::string url;  // smtp://host:port (STARTTLS per `tls`) or smtps://host:port
  std::string username, password;
  std::string tls = "starttls";  // none | starttls (required) | implicit (smtps://)
  long timeout_ms = 30000;
};

// One delivery attempt: delivered (the server's 250), retry (4xx, connection or timeout),
// failed (5xx, with the server's reply).
sdk::DeliveryResult send(const SmtpServer& server, const std::string& from_address,
                         const std::string& to_address, const std::string& bytes);

}  // namespace omniroute::connectors::email
