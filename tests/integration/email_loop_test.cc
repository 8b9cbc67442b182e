// The email channel end to end, with real servers: a mail delivered into a Dovecot
// mailbox is read over IMAP, routed and offered to a desk; the agent's reply is sent by
// SMTP (python3-aiosmtpd captures it) as MIME that threads; the customer's reply to it
// joins the same conversation; a bounce of our reply marks it failed at the desk.
#include <fstream>

#include <fmt/format.h>

#include "cli/stack.h"
#include "connectors/email/mime.h"
#include "router/partition.h"
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
  auto store =
      router::Store::open_read_only(router::workspace_dir(dir.path() + "/state", "acme"), err);
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

// A satisfaction survey by mail: the question and "reply with a number"; the customer's
// reply to that mail starting with a digit is the rating (quotes cut); a digit in reply
// to the agent's own mail stays a message.
TEST(EmailLoop, SurveyByMailAReplyWithADigitIsTheRating) {
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
        csat: {{question: {{en: "How did we do?"}}}}
        settings: {{from_address: support@acme.test, smtp_url: "{1}", smtp_tls: none,
                    imap_url: "{2}", imap_tls: none, imap_username: support@acme.test,
                    imap_password: secret, poll_interval_ms: 100}}
    agents:
      - {{id: alice, capacity: {{email: 5}}}}
)",
                                       dir.path(), smtp.url(), dovecot.url());
  auto running = start_stack(yaml, {"email"});
  ASSERT_TRUE(running.stack);
  cli::Stack& stack = *running.stack;
  RecordingDesk& alice = *running.alice;
  dovecot.deliver("1.eml",
                  "From: ana@example.com\r\nTo: support@acme.test\r\nSubject: Parcel\r\n"
                  "Message-ID: <m1@example.com>\r\n\r\nWhere is my parcel?\r\n");
  ASSERT_TRUE(wait_until([&] { return smtp.captured().size() == 1; }));  // alice's answer
  auto parsed = [&](size_t i) {
    connectors::email::Parsed out;
    std::string why;
    EXPECT_EQ(connectors::email::parse(smtp.captured().at(i), {}, "", out, why),
              connectors::email::Outcome::kOk);
    return out;
  };
  const auto answer = parsed(0);
  alice.desk().resolve(alice.assignments().at(0).conversation().conversation_id());
  ASSERT_TRUE(wait_until([&] { return smtp.captured().size() == 2; }));
  const auto survey = parsed(1);
  EXPECT_EQ(survey.message.text_body(),
            "How did we do?\nReply with a number from 1 (bad) to 5 (excellent).");
  EXPECT_EQ(survey.message.subject(), "Re: Parcel [#1]");
  // "4" in reply to alice's answer (not the survey) is a message: the conversation reopens.
  dovecot.deliver("2.eml",
                  fmt::format("From: ana@example.com\r\nTo: support@acme.test\r\n"
                              "Subject: Re: Parcel [#1]\r\nMessage-ID: <m2@example.com>\r\n"
                              "In-Reply-To: <{}>\r\n\r\n4\r\n",
                              answer.message_id));
  ASSERT_TRUE(wait_until([&] { return alice.offers().size() == 2; }));
  // The rating: a reply to the survey's mail, the quote below it cut.
  dovecot.deliver("3.eml",
                  fmt::format("From: ana@example.com\r\nTo: support@acme.test\r\n"
                              "Subject: Re: Parcel [#1]\r\nMessage-ID: <m3@example.com>\r\n"
                              "In-Reply-To: <{}>\r\n\r\n5 - very helpful\r\n\r\n"
                              "On Monday, Acme Support wrote:\r\n> How did we do?\r\n",
                              survey.message_id));
  ASSERT_TRUE(wait_until([&] {
    for (const auto& m : alice.messages())
      if (m.message().csat().rating() == 5) return m.message().text_body() == "very helpful";
    return false;
  }));
  EXPECT_EQ(alice.offers().size(), 2u) << "the rating opened nothing";
  stack.stop();
}

}  // namespace
}  // namespace omniroute::testing
