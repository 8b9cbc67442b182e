// The webhook connector against a fake Host: what it publishes and what it answers.
#include <atomic>
#include <mutex>

#include <gtest/gtest.h>

#include "connectors/webhook/callback_receiver.h"
#include "connectors/webhook/webhook.h"
#include "connectors/webhook/webhook_connector.h"

namespace omniroute::connectors::webhook {
namespace {

using M = std::map<std::string, std::string>;

class FakeHost : public sdk::Host {
 public:
  FakeHost() {
    inboxes_.push_back(
        {"acme", "api", v1::CHANNEL_WEBHOOK, sdk::Settings(M{{"secret", "s3cret"}})});
  }
  void publish(v1::Envelope e, sdk::PublishDone done) override {
    std::lock_guard lock(mu);
    published.push_back(e);
    done(result);
  }
  void dead_letter(std::string_view, std::string_view) override {}
  const std::vector<sdk::InboxInfo>& inboxes() const override { return inboxes_; }
  const sdk::Logger& logger() const override { return logger_; }

  std::mutex mu;
  std::vector<v1::Envelope> published;
  sdk::PublishResult result{sdk::PublishResult::Code::kOk, {}, "ev-1"};

 private:
  std::vector<sdk::InboxInfo> inboxes_;
  sdk::Logger logger_ = log::get("connector/webhook-test");
};

class WebhookConnectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    connector_ =
        std::make_unique<WebhookConnector>(sdk::Settings(M{{"listen", "127.0.0.1:0"},
                                                           {"threads", "1"},
                                                           {"max_body_bytes", "1000"},
                                                           {"max_attachments", "2"},
                                                           {"request_timeout_ms", "5000"},
                                                           {"max_connections", "16"},
                                                           {"delivery_timeout_ms", "2000"}}));
    ASSERT_EQ(connector_->start(host_), "");
    std::string ep = connector_->endpoints().at(0);
    url_ = ep.substr(0, ep.find("/v1/")) + "/v1/webhook/acme/api/messages";
  }
  void TearDown() override { connector_->stop(); }

  FakeHost host_;
  std::unique_ptr<WebhookConnector> connector_;
  std::string url_;
  const std::string good_ =
      R"({"external_message_id":"e1","customer_handle":"c","text_body":"hi"})";
};

TEST_F(WebhookConnectorTest, SignedMessageIsPublishedWithUrlIdentityAnd202) {
  std::string resp;
  EXPECT_EQ(post_signed(url_, "s3cret", good_, &resp), 202);
  EXPECT_NE(resp.find("ev-1"), std::string::npos);
  ASSERT_EQ(host_.published.size(), 1u);
  const auto& m = host_.published[0].message();
  EXPECT_EQ(m.workspace_id(), "acme");
  EXPECT_EQ(m.inbox_id(), "api");
  EXPECT_EQ(m.channel(), v1::CHANNEL_WEBHOOK);
  EXPECT_EQ(m.text_body(), "hi");
}

TEST_F(WebhookConnectorTest, BadSignatureGets403MissingOne401AndNothingIsPublished) {
  EXPECT_EQ(post_signed(url_, "wrong", good_), 403);
  EXPECT_EQ(post_signed(url_, "", good_), 401);
  EXPECT_TRUE(host_.published.empty());
}

TEST_F(WebhookConnectorTest, OversizedBodyGets413AndPublishesNothing) {
  std::string big = R"({"external_message_id":"e1","customer_handle":"c","text_body":")" +
                    std::string(2000, 'x') + "\"}";
  EXPECT_EQ(post_signed(url_, "s3cret", big), 413);
  EXPECT_TRUE(host_.published.empty());
}

TEST_F(WebhookConnectorTest, BodyThatContradictsTheUrlGets400) {
  std::string resp;
  EXPECT_EQ(
      post_signed(
          url_, "s3cret",
          R"({"workspace_id":"other","external_message_id":"e1","customer_handle":"c","text_body":"x"})",
          &resp),
      400);
  EXPECT_TRUE(host_.published.empty());
}

TEST_F(WebhookConnectorTest, UnavailableKafkaGets503) {
  host_.result = {sdk::PublishResult::Code::kUnavailable, "timed out", "ev-2"};
  std::string resp;
  EXPECT_EQ(post_signed(url_, "s3cret", good_, &resp), 503);
  EXPECT_EQ(resp.find("timed out"), std::string::npos);  // internal detail is not leaked
}

TEST_F(WebhookConnectorTest, DeliverPostsSignedJsonAndClassifiesFailures) {
  CallbackReceiver receiver("s3cret");
  sdk::InboxInfo inbox{"acme", "api", v1::CHANNEL_WEBHOOK,
                       sdk::Settings(M{{"secret", "s3cret"}, {"callback_url", receiver.url()}})};
  v1::OutboundMessage m;
  m.set_outbound_id("acme/C1/2");
  m.set_text_body("answer");
  EXPECT_EQ(connector_->deliver(m, inbox).code, sdk::DeliveryResult::Code::kDelivered);
  ASSERT_EQ(receiver.received().size(), 1u);
  EXPECT_EQ(receiver.received()[0].text_body(), "answer");
  receiver.fail_next(1, 503);
  EXPECT_EQ(connector_->deliver(m, inbox).code, sdk::DeliveryResult::Code::kRetry);
  receiver.fail_next(1, 404);
  auto r = connector_->deliver(m, inbox);
  EXPECT_EQ(r.code, sdk::DeliveryResult::Code::kFailed);
  EXPECT_NE(r.detail.find("HTTP 404"), std::string::npos);
  inbox.settings = sdk::Settings(M{{"secret", "s3cret"}, {"callback_url", "http://127.0.0.1:1/x"}});
  EXPECT_EQ(connector_->deliver(m, inbox).code, sdk::DeliveryResult::Code::kRetry);  // refused
}

}  // namespace
}  // namespace omniroute::connectors::webhook
