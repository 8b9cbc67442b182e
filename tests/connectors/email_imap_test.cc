// Email in against a real IMAP server: Dovecot serving Maildirs from a temp dir, started
// per test on a free port. Mail delivered into the mailbox becomes events in UID order;
// the position advances (and the mail is marked \Seen) only after Kafka acknowledged; a
// restarted connector does not read it again; a refused publish is retried, not skipped.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/child_process.h"
#include "connectors/email/email.h"
#include "tests/support/mail_servers.h"
#include "tests/support/support.h"

namespace omniroute::connectors::email {
namespace {

using M = std::map<std::string, std::string>;
using testing::Dovecot;

class FakeHost : public sdk::Host {
 public:
  explicit FakeHost(const std::string& imap_url, const std::string& maildir = "",
                    const std::string& after = "seen") {
    inboxes_.push_back({"acme", "mail", v1::CHANNEL_EMAIL,
                        sdk::Settings(M{{"from_address", "support@acme.test"},
                                        {"from_name", ""},
                                        {"reply_to", ""},
                                        {"message_id_domain", ""},
                                        {"smtp_url", "smtp://127.0.0.1:1"},
                                        {"smtp_tls", "none"},
                                        {"smtp_username", ""},
                                        {"smtp_password", ""},
                                        {"imap_url", imap_url},
                                        {"imap_tls", "none"},
                                        {"imap_username", "support@acme.test"},
                                        {"imap_password", "secret"},
                                        {"maildir", maildir},
                                        {"poll_interval_ms", "100"},
                                        {"after_ingest", after}})});
  }
  void publish(v1::Envelope e, sdk::PublishDone done) override {
    std::lock_guard lock(mu);
    if (!refuse) published.push_back(e);
    done(refuse ? sdk::PublishResult{sdk::PublishResult::Code::kUnavailable, "kafka down", ""}
                : sdk::PublishResult{sdk::PublishResult::Code::kOk, {}, "ev"});
  }
  void dead_letter(std::string_view, std::string_view reason) override {
    std::lock_guard lock(mu);
    dlq.emplace_back(reason);
  }
  const std::vector<sdk::InboxInfo>& inboxes() const override { return inboxes_; }
  const sdk::Logger& logger() const override { return logger_; }
  size_t count() {
    std::lock_guard lock(mu);
    return published.size();
  }

  std::mutex mu;
  std::vector<v1::Envelope> published;
  std::vector<std::string> dlq;
  bool refuse = false;

 private:
  std::vector<sdk::InboxInfo> inboxes_;
  sdk::Logger logger_ = log::get("connector/email-test");
};

std::string mail(int i, const std::string& extra_headers = "") {
  return fmt::format(
      "From: Ana <ana@example.com>\r\nTo: support@acme.test\r\nSubject: Question {0}\r\n"
      "Message-ID: <q{0}@example.com>\r\n{1}Content-Type: text/plain; charset=utf-8\r\n\r\n"
      "Frage {0}: Grüße\r\n",
      i, extra_headers);
}

class ImapTest : public ::testing::Test {
 protected:
  std::unique_ptr<sdk::Connector> connector() {
    return factory().create(sdk::Settings(M{{"attachment_dir", dir_.path() + "/store"},
                                            {"state_dir", dir_.path() + "/email-state"},
                                            {"max_message_bytes", "1048576"},
                                            {"max_parts", "500"},
                                            {"max_depth", "20"},
                                            {"max_header_bytes", "262144"},
                                            {"max_text_bytes", "1048576"},
                                            {"max_attachments", "100"},
                                            {"smtp_timeout_ms", "5000"}}));
  }
  testing::TempDir dir_;
};

TEST_F(ImapTest, NewMailBecomesEventsInUidOrderOnceAndIsMarkedSeenAfterTheAck) {
  Dovecot dovecot(dir_.path() + "/dovecot");
  dovecot.deliver("1.eml", mail(1));
  dovecot.deliver("2.eml", mail(2, "Auto-Submitted: auto-replied\r\n"));
  FakeHost host(dovecot.url());
  {
    auto c = connector();
    ASSERT_EQ(c->start(host), "");
    ASSERT_TRUE(testing::wait_until([&] { return host.count() == 2; })) << host.count();
    ASSERT_TRUE(testing::wait_until([&] { return dovecot.seen() == 2; }));
    c->stop();
  }
  {
    std::lock_guard lock(host.mu);
    const auto& m1 = host.published[0].message();
    EXPECT_EQ(m1.workspace_id(), "acme");
    EXPECT_EQ(m1.inbox_id(), "mail");
    EXPECT_EQ(m1.external_message_id(), "q1@example.com");
    EXPECT_EQ(m1.customer_handle(), "ana@example.com");
    EXPECT_EQ(m1.text_body(), "Frage 1: Grüße");
    EXPECT_EQ(m1.provider_metadata().at("imap_uid"), "1");
    EXPECT_EQ(host.published[1].message().auto_generated(), v1::AUTO_GENERATED_AUTO_REPLY);
  }
  // A restarted connector starts after the last acknowledged UID: only new mail comes.
  dovecot.deliver("3.eml", mail(3));
  auto c = connector();
  ASSERT_EQ(c->start(host), "");
  ASSERT_TRUE(testing::wait_until([&] { return host.count() == 3; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  c->stop();
  EXPECT_EQ(host.count(), 3u) << "nothing read twice";
  std::lock_guard lock(host.mu);
  EXPECT_EQ(host.published[2].message().external_message_id(), "q3@example.com");
}

TEST_F(ImapTest, WhileKafkaRefusesNothingIsMarkedOrSkippedThenItAllArrives) {
  Dovecot dovecot(dir_.path() + "/dovecot");
  FakeHost host(dovecot.url());
  host.refuse = true;
  dovecot.deliver("1.eml", mail(1));
  dovecot.deliver("2.eml", mail(2));
  auto c = connector();
  ASSERT_EQ(c->start(host), "");
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(dovecot.seen(), 0u) << "not acknowledged: not marked";
  {
    std::lock_guard lock(host.mu);
    host.refuse = false;
  }
  ASSERT_TRUE(testing::wait_until([&] { return host.count() == 2; }));
  c->stop();
  std::lock_guard lock(host.mu);
  EXPECT_EQ(host.published[0].message().external_message_id(), "q1@example.com");
  EXPECT_EQ(host.published[1].message().external_message_id(), "q2@example.com");
}

TEST_F(ImapTest, AMessageThatCanNeverBeAnEventGoesToTheDlqAndTheRestFlows) {
  Dovecot dovecot(dir_.path() + "/dovecot");
  FakeHost host(dovecot.url());
  dovecot.deliver("1.eml", "X-Filler: " + std::string(300 * 1024, 'a') + "\r\n\r\nbody\r\n");
  dovecot.deliver("2.eml", mail(2));
  auto c = connector();
  ASSERT_EQ(c->start(host), "");
  ASSERT_TRUE(testing::wait_until([&] { return host.count() == 1; }));
  c->stop();
  std::lock_guard lock(host.mu);
  ASSERT_EQ(host.dlq.size(), 1u);
  EXPECT_NE(host.dlq[0].find("header block"), std::string::npos) << host.dlq[0];
  EXPECT_EQ(host.published[0].message().external_message_id(), "q2@example.com");
}

TEST_F(ImapTest, AMaildirIsReadTheSameWayNewMailLeavesNewOnlyAfterTheAck) {
  const std::string md = dir_.path() + "/Maildir";
  for (const char* d : {"new", "cur", "tmp"}) std::filesystem::create_directories(md + "/" + d);
  std::ofstream(md + "/new/1700000001.A.host") << mail(1);
  std::ofstream(md + "/new/1700000002.B.host") << mail(2);
  FakeHost host("", md);
  host.refuse = true;
  auto c = connector();
  ASSERT_EQ(c->start(host), "");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(std::filesystem::exists(md + "/new/1700000001.A.host")) << "not acknowledged";
  {
    std::lock_guard lock(host.mu);
    host.refuse = false;
  }
  ASSERT_TRUE(testing::wait_until([&] { return host.count() == 2; }));
  ASSERT_TRUE(testing::wait_until(
      [&] { return std::filesystem::exists(md + "/cur/1700000002.B.host:2,S"); }));
  c->stop();
  EXPECT_TRUE(std::filesystem::is_empty(md + "/new"));
  {
    std::lock_guard lock(host.mu);
    EXPECT_EQ(host.published[0].message().external_message_id(), "q1@example.com");
    EXPECT_EQ(host.published[1].message().provider_metadata().at("maildir_file"),
              "1700000002.B.host");
  }
  auto again = connector();
  ASSERT_EQ(again->start(host), "");
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  again->stop();
  EXPECT_EQ(host.count(), 2u) << "nothing read twice";
}

TEST_F(ImapTest, AfterIngestCanMoveMailToAFolderOrLeaveItUnread) {
  Dovecot dovecot(dir_.path() + "/dovecot");
  dovecot.add_folder("Processed");
  dovecot.deliver("1.eml", mail(1));
  {
    FakeHost host(dovecot.url(), "", "move:Processed");
    auto c = connector();
    ASSERT_EQ(c->start(host), "");
    ASSERT_TRUE(testing::wait_until([&] { return dovecot.in_folder("Processed") == 1; }));
    c->stop();
    EXPECT_EQ(host.count(), 1u);
  }
  dovecot.deliver("2.eml", mail(2));
  FakeHost host(dovecot.url(), "", "none");
  auto c = connector();
  ASSERT_EQ(c->start(host), "");
  ASSERT_TRUE(testing::wait_until([&] { return host.count() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  c->stop();
  EXPECT_EQ(dovecot.seen(), 0u) << "after_ingest: none leaves it unread";
  std::lock_guard lock(host.mu);
  EXPECT_EQ(host.published[0].message().external_message_id(), "q2@example.com");
}

}  // namespace
}  // namespace omniroute::connectors::email
