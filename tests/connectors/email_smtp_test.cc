// Email out against a real SMTP server (python3-aiosmtpd, started per test on a free
// port): the message it captures is correct MIME that threads, and the server's refusals
// become failed or retried deliveries.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/child_process.h"
#include "common/crypto.h"
#include "connectors/email/email.h"
#include "connectors/email/message_id.h"
#include "connectors/email/mime.h"
#include "tests/support/mail_servers.h"
#include "tests/support/support.h"

namespace omniroute::connectors::email {
namespace {

class SmtpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    smtp_ = std::make_unique<testing::SmtpCapture>(dir_.path() + "/captured");
    port_ = smtp_->port();
  }

  v1::OutboundMessage message(const std::string& to) {
    v1::OutboundMessage m;
    m.set_outbound_id("acme/C1/4");
    m.set_workspace_id("acme");
    m.set_inbox_id("mail");
    m.set_channel(v1::CHANNEL_EMAIL);
    m.set_conversation_id("C1");
    m.set_customer_handle(to);
    m.set_agent_display_name("Alice");
    m.set_subject("Re: Order 55 [#1]");
    m.set_text_body("Grüße, Ana!\nYour parcel <b>ships</b> today.");
    m.mutable_thread()->set_in_reply_to("m3@ana");
    for (const char* r : {"m1@ana", "outbound:acme/C1/2", "m3@ana"})
      m.mutable_thread()->add_references(r);
    return m;
  }

  sdk::DeliveryResult deliver(const v1::OutboundMessage& m, const std::string& url = "") {
    auto f = factory();
    auto c = f.create(
        sdk::Settings({{"attachment_dir", dir_.path() + "/store"}, {"smtp_timeout_ms", "5000"}}));
    sdk::InboxInfo inbox{
        "acme", "mail", v1::CHANNEL_EMAIL,
        sdk::Settings({{"from_address", "support@acme.test"},
                       {"from_name", "Acme Support"},
                       {"reply_to", "help@acme.test"},
                       {"message_id_domain", "acme.test"},
                       {"smtp_url", url.empty() ? fmt::format("smtp://127.0.0.1:{}", port_) : url},
                       {"smtp_tls", "none"},
                       {"smtp_username", ""},
                       {"smtp_password", ""}})};
    return c->deliver(m, inbox);
  }

  std::vector<std::string> captured() { return smtp_->captured(); }

  std::string store(const std::string& content) {
    const std::string sha = crypto::sha256_hex(content);
    std::filesystem::create_directories(dir_.path() + "/store/" + sha.substr(0, 2));
    std::ofstream(dir_.path() + "/store/" + sha.substr(0, 2) + "/" + sha, std::ios::binary)
        << content;
    return sha;
  }

  testing::TempDir dir_;
  int port_ = 0;
  std::unique_ptr<testing::SmtpCapture> smtp_;
};

TEST_F(SmtpTest, TheCapturedReplyIsMimeThatThreadsInTheCustomersClient) {
  auto m = message("ana@example.com");
  auto* a = m.add_attachments();
  a->set_name("Rechnung März.pdf");
  a->set_content_type("application/pdf");
  a->set_sha256(store("%PDF-1.4 invoice"));
  const auto r = deliver(m);
  ASSERT_EQ(r.code, sdk::DeliveryResult::Code::kDelivered) << r.detail;
  const auto mails = captured();
  ASSERT_EQ(mails.size(), 1u);
  const std::string& raw = mails[0];
  EXPECT_NE(raw.find("X-Envelope-To: ana@example.com"), std::string::npos);
  EXPECT_NE(raw.find("multipart/alternative"), std::string::npos);
  EXPECT_NE(raw.find("Reply-To: help@acme.test"), std::string::npos);
  // Read back with the inbound parser: what a mail client would see.
  Parsed p;
  std::string why;
  ASSERT_EQ(parse(raw, Limits{}, dir_.path() + "/readback", p, why), Outcome::kOk) << why;
  EXPECT_EQ(p.message_id, outbound_message_id("acme/C1/4", "acme.test"));
  EXPECT_EQ(p.message.customer_handle(), "support@acme.test");
  EXPECT_EQ(p.message.customer_display_name(), "Alice (Acme Support)");
  EXPECT_EQ(p.message.subject(), "Re: Order 55 [#1]");
  EXPECT_EQ(p.message.thread().in_reply_to(), "m3@ana");
  ASSERT_EQ(p.message.thread().references_size(), 3);
  EXPECT_EQ(p.message.thread().references(1), "outbound:acme/C1/2");  // our earlier reply
  EXPECT_EQ(p.message.text_body(), "Grüße, Ana!\nYour parcel <b>ships</b> today.");
  EXPECT_NE(p.message.html_body().find("&lt;b&gt;ships&lt;/b&gt;"), std::string::npos)
      << "the text is escaped in the HTML alternative";
  ASSERT_EQ(p.message.attachments_size(), 1);
  EXPECT_EQ(p.message.attachments(0).name(), "Rechnung März.pdf");
  EXPECT_EQ(p.message.attachments(0).sha256(), a->sha256());
  EXPECT_EQ(p.message.auto_generated(), v1::AUTO_GENERATED_NONE);
  // A reply to it comes back to the router as a reply to this outbound message.
  EXPECT_EQ(router_message_id(p.message_id), "outbound:acme/C1/4");
}

TEST_F(SmtpTest, AutomaticMessagesSayAutoSubmitted) {
  auto m = message("ana@example.com");
  m.set_automatic(true);
  ASSERT_EQ(deliver(m).code, sdk::DeliveryResult::Code::kDelivered);
  const auto mails = captured();
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_NE(mails[0].find("Auto-Submitted: auto-replied"), std::string::npos);
}

TEST_F(SmtpTest, RefusalsAreFailedOrRetriedWithTheServersWords) {
  auto failed = deliver(message("nobody@example.com"));
  EXPECT_EQ(failed.code, sdk::DeliveryResult::Code::kFailed);
  EXPECT_NE(failed.detail.find("550"), std::string::npos) << failed.detail;
  auto later = deliver(message("later@example.com"));
  EXPECT_EQ(later.code, sdk::DeliveryResult::Code::kRetry);
  EXPECT_NE(later.detail.find("451"), std::string::npos) << later.detail;
  auto down =
      deliver(message("ana@example.com"), fmt::format("smtp://127.0.0.1:{}", testing::free_port()));
  EXPECT_EQ(down.code, sdk::DeliveryResult::Code::kRetry) << down.detail;
  auto injected = deliver(message("ana@example.com\r\nBcc: x@evil.example"));
  EXPECT_EQ(injected.code, sdk::DeliveryResult::Code::kFailed);
  auto m = message("ana@example.com");
  auto* a = m.add_attachments();
  a->set_name("gone.pdf");
  a->set_sha256(std::string(64, 'a'));
  auto missing = deliver(m);
  EXPECT_EQ(missing.code, sdk::DeliveryResult::Code::kFailed);
  EXPECT_NE(missing.detail.find("not in the attachment store"), std::string::npos);
  EXPECT_TRUE(captured().empty()) << "nothing was sent for any of them";
}

}  // namespace
}  // namespace omniroute::connectors::email
