// The email channel end to end, with real servers: a mail delivered into a Dovecot
// mailbox is read over IMAP, routed and offered to a desk; the agent's reply is sent by
// SMTP (python3-aiosmtpd captures it) as MIME that threads; the customer's reply to it
// joins the same conversation; a bounce of our reply marks it failed at the desk.
#include <fstream>

#include <fmt/format.h>

#include "cli/stack.h"
#include "connectors/email/mime.h"
#include "router/store.h"
#include "tests/integration/harness.h"
#include "tests/support/mail_servers.h"

namespace omniroute::testing {
namespace {

TEST(EmailLoop, MailInReplyOutCustomerAnswersBounceFails) {
  TempDir dir;
  Dovecot dovecot(dir.path() + "/dovecot");
  SmtpCapture smtp(dir.path() + "/smtp");
  const std::string yaml = fmt::format(R"(log_level: warn
state: {{dir: "{0}/state"}}
kafka: {{brokers: embedded, partitions: 1}}
router: {{agent_endpoint: "tcp://127.0.0.1:*", agent_auth: none, insecure: true, heartbeat_interval_ms: 200, heartbeat_timeout_ms: 800}}
connectors:
  email: {{attachment_dir: "{0}/store", state_dir: "{0}/email", initial_backoff_ms: 100}}
workspaces:
  - id: acme
    queues: [{{id: general}}]
    inboxes:
      - id: mail
        channel: email
        queue: general
        settings:
          from_address: support@acme.test
          from_name: Acme Support
          smtp_url: "{1}"
          smtp_tls: none
          imap_url: "{2}"
          imap_tls: none
          imap_username: support@acme.test
          imap_password: secret
          poll_interval_ms: 100
    agents:
      - {{id: alice, capacity: {{email: 5}}}}
)",
                                       dir.path(), smtp.url(), dovecot.url());
  auto running = start_stack(yaml, {"email"});
  ASSERT_TRUE(running.stack);
  cli::Stack& stack = *running.stack;
  RecordingDesk& alice = *running.alice;

  // 1. A customer's mail arrives in the mailbox.
  dovecot.deliver("1.eml",
                  "From: Ana Lima <ana@example.com>\r\nTo: support@acme.test\r\n"
                  "Subject: Help with order 55\r\nMessage-ID: <m1@example.com>\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\n\r\nWhere is my parcel?\r\n");
  ASSERT_TRUE(wait_until([&] { return alice.assignments().size() == 1; }));
  EXPECT_EQ(alice.assignments()[0].conversation().customer_handle(), "ana@example.com");

  // 2. The desk's reply leaves by SMTP as MIME that threads.
  ASSERT_TRUE(wait_until([&] { return smtp.captured().size() == 1; }));
  const std::string sent = smtp.captured()[0];
  connectors::email::Parsed out;
  std::string why;
  ASSERT_EQ(connectors::email::parse(sent, {}, "", out, why), connectors::email::Outcome::kOk);
  EXPECT_NE(sent.find("X-Envelope-To: ana@example.com"), std::string::npos);
  EXPECT_EQ(out.message.subject(), "Re: Help with order 55 [#1]");
  EXPECT_EQ(out.message.thread().in_reply_to(), "m1@example.com");
  EXPECT_EQ(out.message.text_body(), "Hi from alice");
  EXPECT_EQ(out.message_id.rfind("o-", 0), 0u) << out.message_id;
  ASSERT_TRUE(wait_until([&] {
    for (const auto& d : alice.deliveries())
      if (d.state() == v1::DeliveryStatus::STATE_SENT) return true;
    return false;
  }));

  // 3. Ana answers our reply: the same conversation (no new offer).
  dovecot.deliver("2.eml", fmt::format("From: ana@example.com\r\nTo: support@acme.test\r\n"
                                       "Subject: Re: Help with order 55 [#1]\r\n"
                                       "Message-ID: <m2@example.com>\r\nIn-Reply-To: <{0}>\r\n"
                                       "References: <m1@example.com> <{0}>\r\n\r\nThanks!\r\n",
                                       out.message_id));

  // 4. A bounce of our reply arrives later: the reply is marked failed at the desk.
  dovecot.deliver(
      "3.eml",
      fmt::format("From: MAILER-DAEMON@mx.example.com\r\nTo: support@acme.test\r\n"
                  "Subject: Undelivered Mail\r\nMessage-ID: <b1@mx.example.com>\r\n"
                  "Content-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\r\n"
                  "\r\n--r\r\nContent-Type: text/plain\r\n\r\nFailed.\r\n"
                  "--r\r\nContent-Type: message/delivery-status\r\n\r\n"
                  "Final-Recipient: rfc822; ana@example.com\r\nAction: failed\r\nStatus: 5.2.2\r\n"
                  "Diagnostic-Code: smtp; 552 mailbox full\r\n"
                  "--r\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{}>\r\n--r--\r\n",
                  out.message_id));
  ASSERT_TRUE(wait_until([&] {
    for (const auto& d : alice.deliveries())
      if (d.state() == v1::DeliveryStatus::STATE_FAILED) return true;
    return false;
  }));
  for (const auto& d : alice.deliveries())
    if (d.state() == v1::DeliveryStatus::STATE_FAILED) {
      EXPECT_NE(d.detail().find("552 mailbox full"), std::string::npos) << d.detail();
    }
  EXPECT_EQ(alice.offers().size(), 1u) << "neither the answer nor the bounce opened anything";

  // The router's state: one conversation holding mail, reply, and Ana's answer.
  stack.stop();
  std::string err;
  auto store = router::Store::open_read_only(dir.path() + "/state", err);
  ASSERT_TRUE(store) << err;
  std::vector<std::string> texts;
  store->scan(router::Cf::kMessages, "acme/", [&](std::string_view k, std::string_view v) {
    v1::ConversationMessage m;
    m.ParseFromArray(v.data(), static_cast<int>(v.size()));
    texts.push_back(fmt::format("{}={}", k.substr(0, k.rfind('/')), m.text_body()));
    return true;
  });
  EXPECT_EQ(texts, (std::vector<std::string>{"acme/C1=Where is my parcel?", "acme/C1=Hi from alice",
                                             "acme/C1=Thanks!"}));
}

}  // namespace
}  // namespace omniroute::testing
