#include <gtest/gtest.h>

#include "connectors/host/host.h"
#include "connectors/sdk/connector.h"
#include "connectors/webhook/webhook.h"

namespace omniroute {
namespace {

TEST(ConnectorRegistry, DuplicateNameIsAnError) {
  sdk::Registry r;
  sdk::ConnectorFactory f;
  f.name = "x";
  EXPECT_EQ(r.add(f), "");
  EXPECT_NE(r.add(f), "");
  EXPECT_NE(r.find("x"), nullptr);
  EXPECT_EQ(r.find("y"), nullptr);
}

TEST(ConnectorRegistry, OneConnectorPerChannel) {
  sdk::Registry r;
  sdk::ConnectorFactory a, b;
  a.name = "a";
  b.name = "b";
  a.channel = b.channel = v1::CHANNEL_SMS;
  EXPECT_EQ(r.add(a), "");
  EXPECT_NE(r.add(b), "");
}

TEST(ConnectorRegistry, BuiltinHasWebhook) {
  const auto* f = sdk::builtin_registry().find(v1::CHANNEL_WEBHOOK);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->name, "webhook");
}

TEST(ConnectorSettings, DefaultsBoundsAndTypes) {
  using T = sdk::ConfigField::Type;
  std::vector<sdk::ConfigField> fields{{"n", T::kInt, "", "5", false, 1, 10},
                                       {"s", T::kString, "", "dflt"},
                                       {"b", T::kBool, "", "false"}};
  std::vector<std::string> errors;
  auto s = connectors::resolve_settings(YAML::Load("{b: true}"), fields, "x", errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(s.integer("n"), 5);
  EXPECT_EQ(s.str("s"), "dflt");
  EXPECT_TRUE(s.boolean("b"));
  connectors::resolve_settings(YAML::Load("{n: 11, z: 1}"), fields, "x", errors);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].find("x.n: must be between 1 and 10"), std::string::npos);
  EXPECT_NE(errors[1].find("x.z: unknown key"), std::string::npos);
}

TEST(RetryPolicy, BackoffDoublesUpToTheCap) {
  connectors::RetryPolicy p;
  p.initial_backoff_ms = 100;
  p.max_backoff_ms = 1000;
  EXPECT_EQ(p.backoff_ms(1), 100);
  EXPECT_EQ(p.backoff_ms(2), 200);
  EXPECT_EQ(p.backoff_ms(4), 800);
  EXPECT_EQ(p.backoff_ms(5), 1000);
  EXPECT_EQ(p.backoff_ms(50), 1000);
}

TEST(WebhookParse, AcceptsCanonicalJson) {
  connectors::webhook::Limits limits;
  v1::InboundMessage m;
  EXPECT_EQ(connectors::webhook::parse_inbound(
                R"({"external_message_id":"e1","customer_handle":"c@x","text_body":"hi",
                    "thread":{"thread_id":"T1"},"attachments":[{"name":"a.png","size_bytes":"12"}]})",
                limits, m),
            "");
  EXPECT_EQ(m.thread().thread_id(), "T1");
  EXPECT_EQ(m.attachments(0).size_bytes(), 12u);
}

TEST(WebhookParse, RejectsWithAReason) {
  connectors::webhook::Limits limits;
  limits.max_attachments = 1;
  v1::InboundMessage m;
  using connectors::webhook::parse_inbound;
  EXPECT_NE(parse_inbound("{not json", limits, m).find("invalid InboundMessage JSON"),
            std::string::npos);
  EXPECT_NE(parse_inbound(R"({"customer_handle":"c","text_body":"x"})", limits, m)
                .find("external_message_id"),
            std::string::npos);
  EXPECT_NE(parse_inbound(R"({"external_message_id":"e","text_body":"x"})", limits, m)
                .find("customer_handle"),
            std::string::npos);
  EXPECT_NE(parse_inbound(R"({"external_message_id":"e","customer_handle":"c"})", limits, m)
                .find("text_body"),
            std::string::npos);
  EXPECT_NE(parse_inbound(
                R"({"external_message_id":"e","customer_handle":"c","text_body":"x","surprise":1})",
                limits, m)
                .find("invalid"),
            std::string::npos);
  EXPECT_NE(
      parse_inbound(R"({"external_message_id":"e","customer_handle":"c","attachments":[{},{}]})",
                    limits, m)
          .find("too many attachments"),
      std::string::npos);
}

TEST(WebhookSignature, IsHmacSha256OfTheBodyInHex) {
  // RFC 4231 test case 2.
  EXPECT_EQ(connectors::webhook::sign("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

}  // namespace
}  // namespace omniroute
