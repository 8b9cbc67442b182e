// Providers as they really behave: Meta batches with events we do not route or cannot
// read, late re-deliveries, replies longer than a channel message, Twilio URLs with or
// without the default port, numbers libphonenumber does not know yet.
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "common/utf8.h"
#include "connectors/phone/phone.h"
#include "connectors/sms/sms.h"
#include "connectors/social/social.h"
#include "tests/connectors/social_fixture.h"
#include "tests/support/fake_host.h"
#include "tests/support/fake_providers.h"
#include "tests/support/support.h"

namespace omniroute::connectors::social {
namespace {

TEST(MetaBatches, EventsWeDoNotRouteAreSkippedAndABadOneFailsOnlyItself) {
  const std::string body =
      json{{"object", "instagram"},
           {"entry",
            {{{"id", "IG1"},
              {"messaging",
               {{{"sender", {{"id", "U1"}}},
                 {"timestamp", 1},
                 {"message", {{"mid", "m1"}, {"text", "hello"}}}},
                {{"sender", {{"id", "U1"}}},
                 {"timestamp", 2},
                 {"message", {{"mid", "m0"}, {"is_deleted", true}}}},
                {{"sender", {{"id", "U1"}}},
                 {"timestamp", 3},
                 {"message", {{"mid", "m2"}, {"is_unsupported", true}}}},
                {{"sender", {{"id", "U1"}}},
                 {"timestamp", 4},
                 {"reaction", {{"mid", "m1"}, {"action", "react"}, {"reaction", "love"}}}},
                {{"sender", {{"id", ""}}},
                 {"timestamp", 5},
                 {"message", {{"mid", "m3"}, {"text", "no sender"}}}},
                {{"sender", {{"id", "U2"}}},
                 {"timestamp", 6},
                 {"message", {{"mid", "m4"}, {"text", "after the bad one"}}}}}}}}}}
          .dump();
  std::vector<Event> ev;
  ParseReport report;
  ASSERT_EQ(parse_meta(body, Platform::kInstagram, Limits{}, ev, &report), "");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].envelope.message().text_body(), "hello");
  EXPECT_EQ(ev[1].envelope.message().text_body(), "after the bad one");
  EXPECT_EQ(report.skipped, 3);  // unsent, unsupported, reaction
  ASSERT_EQ(report.rejected.size(), 1u);
  EXPECT_EQ(report.rejected[0].first, "missing sender.id");
  EXPECT_NE(report.rejected[0].second.find("no sender"), std::string::npos);
}

TEST(MetaBatches, AWhatsAppMessageFromABadNumberFailsOnlyItself) {
  auto msg = [](const std::string& from, const std::string& id) {
    return json{{"from", from},
                {"id", id},
                {"timestamp", "1"},
                {"type", "text"},
                {"text", {{"body", "hi " + id}}}};
  };
  const std::string body = json{{"object", "whatsapp_business_account"},
                                {"entry",
                                 {{{"id", "WABA"},
                                   {"changes",
                                    {{{"field", "messages"},
                                      {"value",
                                       {{"metadata", {{"phone_number_id", "PN1"}}},
                                        {"messages",
                                         {msg("4915112345678", "w1"), msg("not-a-number", "w2"),
                                          msg("99912345678", "w3")}}}}}}}}}}}
                               .dump();
  std::vector<Event> ev;
  ParseReport report;
  ASSERT_EQ(parse_meta(body, Platform::kWhatsApp, Limits{}, ev, &report), "");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].envelope.message().customer_handle(), "+4915112345678");
  EXPECT_FALSE(ev[0].envelope.message().handle_unverified());
  // A well-formed number libphonenumber does not know (yet): answered, not used to link.
  EXPECT_EQ(ev[1].envelope.message().customer_handle(), "+99912345678");
  EXPECT_TRUE(ev[1].envelope.message().handle_unverified());
  ASSERT_EQ(report.rejected.size(), 1u);
  EXPECT_NE(report.rejected[0].first.find("messages[].from"), std::string::npos);
}

TEST(PhoneHandles, UnknownRangesAndShortCodesAreUnverifiedHandles) {
  auto h = phone::to_handle("+49 151 12345678", "");
  EXPECT_EQ(h.value, "+4915112345678");
  EXPECT_TRUE(h.verified);
  h = phone::to_handle("+99912345678", "");
  EXPECT_EQ(h.value, "+99912345678");
  EXPECT_FALSE(h.verified);
  h = phone::to_handle("72345", "US");  // a short code
  EXPECT_EQ(h.value, "72345");
  EXPECT_FALSE(h.verified);
  std::string why;
  EXPECT_EQ(phone::to_handle("call me", "US", &why).value, "");
  EXPECT_NE(why, "");
  EXPECT_EQ(phone::to_handle("+0123456789", "").value, "");  // no country code starts with 0
}

TEST(PhoneHandles, TwilioShortCodeSendersAreAnswered) {
  v1::InboundMessage m;
  const sms::Params p{{"MessageSid", "SM1"},
                      {"AccountSid", "AC1"},
                      {"From", "72345"},
                      {"To", "+14155550100"},
                      {"Body", "hi"}};
  ASSERT_EQ(sms::parse_inbound(p, "US", sms::Limits{}, m), "");
  EXPECT_EQ(m.customer_handle(), "72345");
  EXPECT_TRUE(m.handle_unverified());
}

TEST(TwilioSignatures, TheDefaultPortMayBeAddedOrRemoved) {
  auto v = sms::twilio_url_variants("https://example.com/v1/sms/acme/sms?x=1");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1], "https://example.com:443/v1/sms/acme/sms?x=1");
  v = sms::twilio_url_variants("http://example.com:80/hook");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1], "http://example.com/hook");
  v = sms::twilio_url_variants("https://example.com:8443/hook");  // not the default: as is
  EXPECT_EQ(v.size(), 1u);
}

TEST(LongReplies, SplitAtWordsWithinTheLimitAndNothingLost) {
  std::string text;
  for (int i = 0; i < 900; ++i) text += "word" + std::to_string(i) + " ";
  auto parts = utf8::split(text, 2000);
  ASSERT_GE(parts.size(), 3u);
  std::string joined;
  for (const auto& p : parts) {
    EXPECT_LE(p.size(), 2000u);
    joined += p;
  }
  EXPECT_EQ(joined, text);
  EXPECT_EQ(parts[0].back(), ' ');  // cut after a word, not inside one
  // Characters beyond the BMP count twice (UTF-16), and are never cut in half.
  std::string emoji;
  for (int i = 0; i < 3000; ++i) emoji += "\xF0\x9F\x98\x80";
  parts = utf8::split(emoji, 4096);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].size(), 2048u * 4);
  EXPECT_TRUE(utf8::valid(parts[0]) && utf8::valid(parts[1]));
}

class ProviderQuirks : public SocialConnectorTest {
 protected:
  static std::string whatsapp_text(const std::string& id, int64_t ts) {
    return json{{"object", "whatsapp_business_account"},
                {"entry",
                 {{{"id", "WABA"},
                   {"changes",
                    {{{"field", "messages"},
                      {"value",
                       {{"metadata", {{"phone_number_id", "PN1"}}},
                        {"messages",
                         {{{"from", "4915112345678"},
                           {"id", id},
                           {"timestamp", std::to_string(ts)},
                           {"type", "text"},
                           {"text", {{"body", "hi"}}}}}}}}}}}}}}}
        .dump();
  }
};

TEST_F(ProviderQuirks, ALateRedeliveryNeverClosesTheWhatsAppWindow) {
  auto c =
      start(whatsapp_factory(), "{phone_number_id: PN1, access_token: t}", v1::CHANNEL_WHATSAPP);
  ASSERT_EQ(meta_post("/v1/whatsapp/webhook", whatsapp_text("wamid.NEW", now_s())).status, 200);
  // Meta re-delivers a message from two days ago.
  ASSERT_EQ(
      meta_post("/v1/whatsapp/webhook", whatsapp_text("wamid.OLD", now_s() - 48 * 3600)).status,
      200);
  auto d = c->deliver(reply("o1", "+4915112345678", "Still here"), host_->inboxes()[0]);
  EXPECT_EQ(d.code, sdk::DeliveryResult::Code::kDelivered) << d.detail;
  c->stop();
}

TEST_F(ProviderQuirks, LongRepliesGoOutInPartsInOrder) {
  auto c =
      start(whatsapp_factory(), "{phone_number_id: PN1, access_token: t}", v1::CHANNEL_WHATSAPP);
  ASSERT_EQ(meta_post("/v1/whatsapp/webhook", whatsapp_text("wamid.IN", now_s())).status, 200);
  std::string text;
  for (int i = 0; i < 1500; ++i) text += "part" + std::to_string(i) + " ";  // ~12,000 chars
  auto d = c->deliver(reply("o1", "+4915112345678", text), host_->inboxes()[0]);
  ASSERT_EQ(d.code, sdk::DeliveryResult::Code::kDelivered) << d.detail;
  std::string joined;
  int parts = 0;
  for (const auto& r : providers_.requests()) {
    if (r["body"]["type"] != "text") continue;
    const std::string body = r["body"]["text"]["body"];
    EXPECT_LE(body.size(), 4096u);
    joined += body;
    ++parts;
  }
  const int expected = static_cast<int>(utf8::split(text, 4096).size());
  EXPECT_GE(expected, 3);
  EXPECT_EQ(parts, expected);
  EXPECT_EQ(joined, text);
  EXPECT_NE(d.detail.find(fmt::format("{} messages", expected)), std::string::npos) << d.detail;
  // A failure in the middle: the retry sends only what is left.
  providers_.fail("/v19.0", 500, 1);
  d = c->deliver(reply("o2", "+4915112345678", text), host_->inboxes()[0]);
  EXPECT_EQ(d.code, sdk::DeliveryResult::Code::kRetry);
  const size_t before = providers_.requests().size();
  d = c->deliver(reply("o2", "+4915112345678", text), host_->inboxes()[0]);
  ASSERT_EQ(d.code, sdk::DeliveryResult::Code::kDelivered) << d.detail;
  EXPECT_EQ(providers_.requests().size() - before, static_cast<size_t>(expected));
  c->stop();
}

}  // namespace
}  // namespace omniroute::connectors::social
