// The SMS connector: Twilio's signatures (computed here with OpenSSL), parameters,
// keywords and segments; the running connector against a fake Host and a local fake
// Twilio that sends signed status callbacks back (Python).
#include <algorithm>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "connectors/http/client.h"
#include "connectors/http/server.h"
#include "connectors/sms/sms.h"
#include "tests/support/fake_host.h"
#include "tests/support/fake_providers.h"
#include "tests/support/support.h"

namespace omniroute::connectors::sms {
namespace {

using testing::base64_of;
using testing::hmac_raw;

std::string expected_signature(const std::string& token, const std::string& url, Params params) {
  std::sort(params.begin(), params.end());
  std::string data = url;
  for (const auto& [k, v] : params) data += k + v;
  return base64_of(hmac_raw(EVP_sha1(), token, data));
}

TEST(SmsTwilio, SignatureIsHmacSha1OverUrlAndSortedParameters) {
  const Params p = {{"To", "+18005551212"},
                    {"From", "+12349013030"},
                    {"Body", "Hi there"},
                    {"AccountSid", "AC1"}};
  const std::string url = "https://sms.acme.example/v1/sms/acme/line/messages?x=1";
  EXPECT_EQ(twilio_signature("12345", url, p), expected_signature("12345", url, p));
  EXPECT_NE(twilio_signature("12345", url + "2", p), expected_signature("12345", url, p));
  EXPECT_NE(twilio_signature("12346", url, p), expected_signature("12345", url, p));
}

TEST(SmsTwilio, KeywordsAreWholeMessagesInAnyCase) {
  EXPECT_EQ(keyword_of("STOP"), Keyword::kStop);
  EXPECT_EQ(keyword_of("  stop. "), Keyword::kStop);
  EXPECT_EQ(keyword_of("Stop all"), Keyword::kStop);
  EXPECT_EQ(keyword_of("unsubscribe"), Keyword::kStop);
  EXPECT_EQ(keyword_of("start"), Keyword::kStart);
  EXPECT_EQ(keyword_of("Unstop"), Keyword::kStart);
  EXPECT_EQ(keyword_of("HELP!"), Keyword::kHelp);
  EXPECT_EQ(keyword_of("please stop sending me the wrong invoice"), Keyword::kNone);
  EXPECT_EQ(keyword_of("stopped"), Keyword::kNone);
  EXPECT_EQ(keyword_of(""), Keyword::kNone);
}

TEST(SmsTwilio, SegmentsFollowGsm7AndUcs2Rules) {
  auto s = segments_of("hello");
  EXPECT_TRUE(s.gsm7);
  EXPECT_EQ(s.count, 1);
  EXPECT_EQ(segments_of(std::string(160, 'a')).count, 1);
  EXPECT_EQ(segments_of(std::string(161, 'a')).count, 2);
  EXPECT_EQ(segments_of(std::string(306, 'a')).count, 2);
  EXPECT_EQ(segments_of(std::string(307, 'a')).count, 3);
  std::string euros;
  for (int i = 0; i < 80; ++i) euros += "€";  // extension table: two septets each
  s = segments_of(euros);
  EXPECT_TRUE(s.gsm7);
  EXPECT_EQ(s.units, 160);
  EXPECT_EQ(s.count, 1);
  EXPECT_EQ(segments_of(euros + "€").count, 2);
  EXPECT_TRUE(segments_of("Grüße, Ærø, ¿qué?").gsm7);
  std::string polish;
  for (int i = 0; i < 70; ++i) polish += "ł";
  s = segments_of(polish);
  EXPECT_FALSE(s.gsm7);
  EXPECT_EQ(s.count, 1);
  EXPECT_EQ(segments_of(polish + "ł").count, 2);
  std::string emoji;
  for (int i = 0; i < 35; ++i) emoji += "😀";  // two UTF-16 units each
  s = segments_of(emoji);
  EXPECT_EQ(s.units, 70);
  EXPECT_EQ(s.count, 1);
  EXPECT_EQ(segments_of(emoji + "😀").count, 2);
  EXPECT_FALSE(segments_of("bad \xff byte").gsm7);
}

TEST(SmsTwilio, InboundParametersBecomeAnE164MessageWithMedia) {
  v1::InboundMessage m;
  ASSERT_EQ(parse_inbound({{"MessageSid", "SM1"},
                           {"From", "015112345678"},
                           {"To", "+4930123456"},
                           {"Body", "Hallo"},
                           {"NumMedia", "2"},
                           {"MediaUrl0", "https://api.twilio.com/media/ME1"},
                           {"MediaContentType0", "image/jpeg"},
                           {"MediaUrl1", "https://api.twilio.com/media/ME2"},
                           {"MediaContentType1", "application/pdf"},
                           {"FromCountry", "DE"}},
                          "DE", Limits{}, m),
            "");
  EXPECT_EQ(m.channel(), v1::CHANNEL_SMS);
  EXPECT_EQ(m.customer_handle(), "+4915112345678");
  EXPECT_EQ(m.external_message_id(), "SM1");
  ASSERT_EQ(m.attachments_size(), 2);
  EXPECT_EQ(m.attachments(1).content_type(), "application/pdf");
  EXPECT_EQ(m.attachments(0).url(), "https://api.twilio.com/media/ME1");
  EXPECT_EQ(m.provider_metadata().at("FromCountry"), "DE");

  auto rejects = [](Params p, const std::string& why) {
    v1::InboundMessage x;
    const std::string err = parse_inbound(p, "US", Limits{}, x);
    EXPECT_NE(err.find(why), std::string::npos) << err;
  };
  rejects({{"From", "+14155550100"}, {"Body", "x"}}, "MessageSid");
  rejects({{"MessageSid", "SM1"}, {"From", "not a number"}, {"Body", "x"}}, "From");
  rejects({{"MessageSid", "SM1"}, {"From", "+14155550100"}}, "neither Body nor media");
  rejects({{"MessageSid", "SM1"}, {"From", "+14155550100"}, {"NumMedia", "11"}}, "NumMedia");
  rejects({{"MessageSid", "SM1"}, {"From", "+14155550100"}, {"NumMedia", "1x"}}, "NumMedia");
  rejects({{"MessageSid", "SM1"}, {"From", "+14155550100"}, {"NumMedia", "1"}}, "MediaUrl0");
  rejects({{"MessageSid", "SM1"},
           {"From", "+14155550100"},
           {"NumMedia", "1"},
           {"MediaUrl0", "file:///etc/passwd"}},
          "MediaUrl0");
  rejects({{"MessageSid", "SM1"}, {"From", "+14155550100"}, {"Body", std::string(5000, 'x')}},
          "Body exceeds");
}

TEST(SmsTwilio, IllFormedUtf8NeverReachesAnEvent) {
  // Found by the fuzzer: raw bytes in a media URL made an event protobuf cannot parse.
  v1::InboundMessage m;
  EXPECT_NE(parse_inbound({{"MessageSid", "SM1"},
                           {"From", "+14155550123"},
                           {"NumMedia", "1"},
                           {"MediaUrl0", "https://api.twilio.com/m/\xf3\xf3"}},
                          "US", Limits{}, m)
                .find("MediaUrl0 is not valid UTF-8"),
            std::string::npos);
  ASSERT_EQ(parse_inbound({{"MessageSid", "SM1"},
                           {"From", "+14155550123"},
                           {"Body", "caf\xe9 \xf0\x9f\x98\x80"},
                           {"ProfileName", "Jo\xc3"}},
                          "US", Limits{}, m),
            "");
  EXPECT_EQ(m.text_body(), "caf\xef\xbf\xbd \xf0\x9f\x98\x80");  // the emoji survives
  std::string wire;
  ASSERT_TRUE(m.SerializeToString(&wire));
  v1::InboundMessage back;
  EXPECT_TRUE(back.ParseFromString(wire));
}

// ------------------------------------------------------------------ the running connector

class SmsConnectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = testing::free_port();
    base_ = fmt::format("http://127.0.0.1:{}", port_);
    auto f = factory();
    sdk::InboxInfo inbox{"acme", "line", v1::CHANNEL_SMS, testing::settings_of(f.inbox_settings, R"(
account_sid: AC123
auth_token: tok-secret
from_number: "+14155550100"
default_region: US
max_segments: 3
stop_reply: You are unsubscribed. Text START to resume.
help_reply: "Acme support: reply with your question. STOP to opt out."
)")};
    host_ = std::make_unique<testing::FakeHost>(std::vector<sdk::InboxInfo>{inbox});
    connector_ = f.create(testing::settings_of(
        f.settings, fmt::format("{{listen: '127.0.0.1:{}', public_url: '{}', state_dir: '{}', "
                                "api_base_url: '{}', delivery_timeout_ms: 3000}}",
                                port_, base_, dir_.path() + "/sms", providers_.url())));
    ASSERT_EQ(connector_->start(*host_), "");
    inbox_ = &host_->inboxes()[0];
  }
  void TearDown() override { connector_->stop(); }

  // POSTs Twilio-style, signed over `signed_url` (default: the real one) with `token`.
  http::ClientResponse post(const std::string& kind, const Params& params,
                            const std::string& token = "tok-secret", std::string signed_url = "",
                            bool sign = true) {
    const std::string url = fmt::format("{}/v1/sms/acme/line/{}", base_, kind);
    if (signed_url.empty()) signed_url = url;
    http::ClientRequest r;
    r.url = url;
    r.headers = {"Content-Type: application/x-www-form-urlencoded"};
    if (sign)
      r.headers.push_back("X-Twilio-Signature: " + expected_signature(token, signed_url, params));
    for (const auto& [k, v] : params) {
      if (!r.body.empty()) r.body += '&';
      r.body += http::url_encode(k) + "=" + http::url_encode(v);
    }
    return http::send(r);
  }
  Params message(const std::string& sid, const std::string& body) {
    return {{"MessageSid", sid},    {"AccountSid", "AC123"}, {"From", "+14155550123"},
            {"To", "+14155550100"}, {"Body", body},          {"NumMedia", "0"}};
  }
  v1::OutboundMessage reply(const std::string& id, const std::string& text) {
    v1::OutboundMessage m;
    m.set_outbound_id(id);
    m.set_workspace_id("acme");
    m.set_inbox_id("line");
    m.set_channel(v1::CHANNEL_SMS);
    m.set_conversation_id("C1");
    m.set_customer_handle("+14155550123");
    m.set_text_body(text);
    return m;
  }
  std::vector<v1::DeliveryStatus> statuses() {
    std::vector<v1::DeliveryStatus> out;
    for (const auto& e : host_->published())
      if (e.has_delivery_status()) out.push_back(e.delivery_status());
    return out;
  }
  size_t provider_messages() {
    size_t n = 0;
    for (const auto& r : providers_.requests())
      if (r["path"].get<std::string>().find("/Messages.json") != std::string::npos) ++n;
    return n;
  }

  testing::TempDir dir_;
  testing::FakeProviders providers_;
  int port_ = 0;
  std::string base_;
  std::unique_ptr<testing::FakeHost> host_;
  std::unique_ptr<sdk::Connector> connector_;
  const sdk::InboxInfo* inbox_ = nullptr;
};

TEST_F(SmsConnectorTest, SignedMessageIsPublishedAndAnsweredWithTwiML) {
  auto r = post("messages", message("SM1", "Where is my order?"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("<Response>"), std::string::npos) << r.body;
  auto pub = host_->published();
  ASSERT_EQ(pub.size(), 1u);
  const auto& m = pub[0].message();
  EXPECT_EQ(m.workspace_id(), "acme");
  EXPECT_EQ(m.inbox_id(), "line");
  EXPECT_EQ(m.channel(), v1::CHANNEL_SMS);
  EXPECT_EQ(m.customer_handle(), "+14155550123");
  EXPECT_EQ(m.external_message_id(), "SM1");
  EXPECT_EQ(m.text_body(), "Where is my order?");
}

TEST_F(SmsConnectorTest, ForgedOrMisdirectedRequestsAreRefusedAndPublishNothing) {
  EXPECT_EQ(post("messages", message("SM1", "x"), "wrong-token").status, 403);
  EXPECT_EQ(post("messages", message("SM1", "x"), "tok-secret", "", false).status, 401);
  // Signed for another URL (a proxy rewriting paths, or a replay to another inbox).
  EXPECT_EQ(
      post("messages", message("SM1", "x"), "tok-secret", base_ + "/v1/sms/acme/other/messages")
          .status,
      403);
  auto other_account = message("SM1", "x");
  other_account[1].second = "AC999";
  EXPECT_EQ(post("messages", other_account).status, 403);
  auto other_number = message("SM1", "x");
  other_number[3].second = "+14155550199";
  EXPECT_EQ(post("messages", other_number).status, 400);
  auto bad_from = message("SM1", "x");
  bad_from[2].second = "hello";
  auto r = post("messages", bad_from);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("From"), std::string::npos) << r.body;
  // Too large for the route: 413 before anything is read.
  EXPECT_EQ(post("messages", message("SM1", std::string(70000, 'x'))).status, 413);
  http::ClientRequest json;
  json.url = base_ + "/v1/sms/acme/line/messages";
  json.headers = {"Content-Type: application/json"};
  json.body = "{}";
  EXPECT_EQ(http::send(json).status, 415);
  EXPECT_TRUE(host_->published().empty());
}

TEST_F(SmsConnectorTest, KafkaUnavailableGets503) {
  host_->set_result({sdk::PublishResult::Code::kUnavailable, "timed out", ""});
  EXPECT_EQ(post("messages", message("SM1", "x")).status, 503);
}

TEST_F(SmsConnectorTest, StopOptsOutRepliesAreRefusedWithTheReasonUntilStart) {
  auto r = post("messages", message("SM1", "Stop"));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("<Message>You are unsubscribed. Text START to resume.</Message>"),
            std::string::npos)
      << r.body;
  ASSERT_EQ(host_->published().size(), 1u);
  EXPECT_EQ(host_->published()[0].message().provider_metadata().at("sms_keyword"), "STOP");

  auto d = connector_->deliver(reply("o1", "Sorry to see you go"), *inbox_);
  EXPECT_EQ(d.code, sdk::DeliveryResult::Code::kFailed);
  EXPECT_NE(d.detail.find("opted out"), std::string::npos) << d.detail;
  EXPECT_NE(d.detail.find("START"), std::string::npos) << d.detail;
  EXPECT_EQ(provider_messages(), 0u) << "nothing may reach an opted-out number";

  // The opt-out survives a restart of the connector.
  connector_->stop();
  auto f = factory();
  connector_ = f.create(testing::settings_of(
      f.settings, fmt::format("{{listen: '127.0.0.1:{}', public_url: '{}', state_dir: '{}', "
                              "api_base_url: '{}'}}",
                              port_, base_, dir_.path() + "/sms", providers_.url())));
  ASSERT_EQ(connector_->start(*host_), "");
  EXPECT_EQ(connector_->deliver(reply("o2", "Still there?"), *inbox_).code,
            sdk::DeliveryResult::Code::kFailed);

  EXPECT_EQ(post("messages", message("SM2", "START")).status, 200);
  EXPECT_EQ(connector_->deliver(reply("o3", "Welcome back"), *inbox_).code,
            sdk::DeliveryResult::Code::kDelivered);
  EXPECT_EQ(provider_messages(), 1u);

  r = post("messages", message("SM3", "help"));
  EXPECT_NE(r.body.find("Acme support: reply with your question."), std::string::npos) << r.body;
}

TEST_F(SmsConnectorTest, ReplyGoesToTheProviderAndStatusCallbacksBecomeDeliveryStatuses) {
  auto d = connector_->deliver(reply("o1", "Your parcel left the warehouse today."), *inbox_);
  ASSERT_EQ(d.code, sdk::DeliveryResult::Code::kDelivered) << d.detail;
  EXPECT_EQ(d.provider_message_id.rfind("SM", 0), 0u);
  EXPECT_EQ(d.detail, "1 segment (GSM-7)");
  auto reqs = providers_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0]["path"], "/2010-04-01/Accounts/AC123/Messages.json");
  EXPECT_EQ(reqs[0]["auth"], "Basic " + base64_of("AC123:tok-secret"));
  std::map<std::string, std::string> form;
  for (const auto& kv : reqs[0]["body"]) form[kv[0]] = kv[1];
  EXPECT_EQ(form["To"], "+14155550123");
  EXPECT_EQ(form["From"], "+14155550100");
  EXPECT_EQ(form["Body"], "Your parcel left the warehouse today.");
  EXPECT_EQ(form["StatusCallback"], base_ + "/v1/sms/acme/line/status");
  // The fake Twilio calls back, signed (in Python): sent, then delivered.
  ASSERT_TRUE(testing::wait_until([&] { return statuses().size() == 2; }));
  auto st = statuses();
  EXPECT_EQ(st[0].state(), v1::DeliveryStatus::STATE_SENT);
  EXPECT_EQ(st[1].state(), v1::DeliveryStatus::STATE_DELIVERED);
  EXPECT_EQ(st[1].outbound_id(), "o1");
  EXPECT_EQ(st[1].conversation_id(), "C1");
  EXPECT_EQ(st[1].provider_message_id(), d.provider_message_id);

  providers_.statuses(nlohmann::json::array({nlohmann::json::array({"undelivered", "30003"})}));
  d = connector_->deliver(reply("o2", "Are you there?"), *inbox_);
  ASSERT_EQ(d.code, sdk::DeliveryResult::Code::kDelivered);
  ASSERT_TRUE(testing::wait_until([&] { return statuses().size() == 3; }));
  EXPECT_EQ(statuses()[2].state(), v1::DeliveryStatus::STATE_FAILED);
  EXPECT_NE(statuses()[2].detail().find("30003"), std::string::npos) << statuses()[2].detail();
  EXPECT_EQ(statuses()[2].outbound_id(), "o2");
}

TEST_F(SmsConnectorTest, ProviderErrorsAreRetriedOrFinalAndLongRepliesRefused) {
  providers_.fail("/2010-04-01", 429, 1, {{"code", 20429}, {"message", "Too Many Requests"}}, "2");
  auto d = connector_->deliver(reply("o1", "hi"), *inbox_);
  EXPECT_EQ(d.code, sdk::DeliveryResult::Code::kRetry) << d.detail;
  EXPECT_EQ(d.retry_after_ms, 2000);
  providers_.fail("/2010-04-01", 503, 1);
  EXPECT_EQ(connector_->deliver(reply("o1", "hi"), *inbox_).code,
            sdk::DeliveryResult::Code::kRetry);
  providers_.fail("/2010-04-01", 400, 1,
                  {{"code", 21211}, {"message", "The 'To' number is not a valid phone number."}});
  d = connector_->deliver(reply("o1", "hi"), *inbox_);
  EXPECT_EQ(d.code, sdk::DeliveryResult::Code::kFailed);
  EXPECT_NE(d.detail.find("21211"), std::string::npos) << d.detail;
  // The provider knows of an opt-out we did not see: recorded, later replies refused here.
  providers_.fail("/2010-04-01", 400, 1,
                  {{"code", 21610}, {"message", "Attempt to send to unsubscribed recipient"}});
  EXPECT_EQ(connector_->deliver(reply("o2", "hi"), *inbox_).code,
            sdk::DeliveryResult::Code::kFailed);
  const size_t before = provider_messages();
  d = connector_->deliver(reply("o3", "hi"), *inbox_);
  EXPECT_NE(d.detail.find("opted out"), std::string::npos) << d.detail;
  EXPECT_EQ(provider_messages(), before);
}

TEST_F(SmsConnectorTest, RepliesLongerThanTheSegmentLimitFailWithTheCount) {
  std::string text;
  for (int i = 0; i < 250; ++i) text += "ł";  // UCS-2: 67 per part -> 4 segments
  auto d = connector_->deliver(reply("o1", text), *inbox_);
  EXPECT_EQ(d.code, sdk::DeliveryResult::Code::kFailed);
  EXPECT_NE(d.detail.find("4 SMS segments"), std::string::npos) << d.detail;
  EXPECT_NE(d.detail.find("UCS-2"), std::string::npos) << d.detail;
  EXPECT_EQ(provider_messages(), 0u);
  d = connector_->deliver(reply("o2", std::string(400, 'a')), *inbox_);  // GSM-7: 3 segments
  EXPECT_EQ(d.code, sdk::DeliveryResult::Code::kDelivered);
  EXPECT_EQ(d.detail, "3 segments (GSM-7)");
}

}  // namespace
}  // namespace omniroute::connectors::sms
