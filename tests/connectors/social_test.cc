// Social connectors: Meta's and Telegram's webhook bodies; the running connectors against
// a fake Host and local fake Graph / Bot APIs, with signatures computed here (OpenSSL).
#include <chrono>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "connectors/http/client.h"
#include "connectors/social/social.h"
#include "connectors/telegram/telegram.h"
#include "tests/connectors/social_fixture.h"
#include "tests/support/fake_host.h"
#include "tests/support/fake_providers.h"
#include "tests/support/support.h"

namespace omniroute::connectors::social {
namespace {

using json = nlohmann::json;

std::string messenger_body() {
  return json{
      {"object", "page"},
      {"entry",
       {{{"id", "PAGE1"},
         {"time", 1},
         {"messaging",
          {{{"sender", {{"id", "PSID1"}}},
            {"recipient", {{"id", "PAGE1"}}},
            {"timestamp", 1700000000000},
            {"message",
             {{"mid", "m_1"}, {"text", "Hola"}, {"quick_reply", {{"payload", "ORDER_STATUS"}}}}}},
           {{"sender", {{"id", "PAGE1"}}},
            {"recipient", {{"id", "PSID1"}}},
            {"timestamp", 1700000000001},
            {"message", {{"mid", "m_echo"}, {"text", "ours"}, {"is_echo", true}}}},
           {{"sender", {{"id", "PSID1"}}},
            {"timestamp", 1700000000002},
            {"message",
             {{"mid", "m_2"},
              {"attachments",
               {{{"type", "image"}, {"payload", {{"url", "https://cdn.example/p.jpg"}}}}}}}}},
           {{"sender", {{"id", "PSID1"}}},
            {"timestamp", 1700000000003},
            {"postback", {{"title", "Talk to a person"}, {"payload", "HUMAN"}, {"mid", "m_3"}}}},
           {{"sender", {{"id", "PSID1"}}},
            {"delivery", {{"mids", {"m_out1", "m_out2"}}, {"watermark", 1700000000004}}}},
           {{"sender", {{"id", "PSID1"}}},
            {"timestamp", 1700000000005},
            {"read", {{"watermark", 1700000000004}}}}}}},
        {{"id", "PAGE2"},
         {"messaging",
          {{{"sender", {{"id", "PSID9"}}},
            {"timestamp", 1700000000006},
            {"message", {{"mid", "m_9"}, {"text", "other page"}}}}}}}}}}
      .dump();
}

TEST(SocialParse, MessengerBatchBecomesMessagesReceiptsAndSignals) {
  std::vector<Event> ev;
  ASSERT_EQ(parse_meta(messenger_body(), Platform::kMessenger, Limits{}, ev), "");
  ASSERT_EQ(ev.size(), 7u);  // the echo of our own message is skipped
  const auto& m1 = ev[0].envelope.message();
  EXPECT_EQ(ev[0].account, "PAGE1");
  EXPECT_EQ(m1.channel(), v1::CHANNEL_MESSENGER);
  EXPECT_EQ(m1.customer_handle(), "PAGE1/PSID1");
  EXPECT_EQ(m1.external_message_id(), "m_1");
  EXPECT_EQ(m1.provider_metadata().at("quick_reply_payload"), "ORDER_STATUS");
  ASSERT_EQ(ev[1].envelope.message().attachments_size(), 1);
  EXPECT_EQ(ev[1].envelope.message().attachments(0).url(), "https://cdn.example/p.jpg");
  EXPECT_EQ(ev[2].envelope.message().text_body(), "Talk to a person");
  EXPECT_EQ(ev[2].envelope.message().provider_metadata().at("postback_payload"), "HUMAN");
  EXPECT_EQ(ev[3].envelope.delivery_status().provider_message_id(), "m_out1");
  EXPECT_EQ(ev[4].envelope.delivery_status().state(), v1::DeliveryStatus::STATE_DELIVERED);
  EXPECT_EQ(ev[5].envelope.signal().kind(), v1::Signal::KIND_READ);
  EXPECT_EQ(ev[6].account, "PAGE2");
  EXPECT_EQ(ev[6].envelope.message().customer_handle(), "PAGE2/PSID9");
}

TEST(SocialParse, BadBodiesAreRefusedWithAReason) {
  std::vector<Event> ev;
  EXPECT_NE(parse_meta(messenger_body(), Platform::kInstagram, Limits{}, ev).find("instagram"),
            std::string::npos);
  EXPECT_NE(parse_meta("not json", Platform::kMessenger, Limits{}, ev), "");
  EXPECT_NE(
      parse_meta(std::string(100, '[') + std::string(100, ']'), Platform::kMessenger, Limits{}, ev)
          .find("deeply"),
      std::string::npos);
  Limits few;
  few.max_events = 3;
  ev.clear();
  EXPECT_NE(parse_meta(messenger_body(), Platform::kMessenger, few, ev).find("more than 3"),
            std::string::npos);
  // An empty message fails only itself: the body is taken, the event goes to the DLQ.
  ev.clear();
  ParseReport report;
  EXPECT_EQ(parse_meta(R"({"object":"page","entry":[{"id":"P","messaging":[{"sender":{"id":"S"},
      "message":{"mid":"m","text":""}}]}]})",
                       Platform::kMessenger, Limits{}, ev, &report),
            "");
  EXPECT_TRUE(ev.empty());
  ASSERT_EQ(report.rejected.size(), 1u);
  EXPECT_EQ(report.rejected[0].first, "message without text or attachments");
}

std::string whatsapp_body(const std::string& id, int64_t ts, const std::string& text) {
  return json{
      {"object", "whatsapp_business_account"},
      {"entry",
       {{{"id", "WABA"},
         {"changes",
          {{{"field", "messages"},
            {"value",
             {{"messaging_product", "whatsapp"},
              {"metadata", {{"display_phone_number", "15550001111"}, {"phone_number_id", "PN1"}}},
              {"contacts", {{{"profile", {{"name", "Ana Lima"}}}, {"wa_id", "4915112345678"}}}},
              {"messages",
               {{{"from", "4915112345678"},
                 {"id", id},
                 {"timestamp", std::to_string(ts)},
                 {"type", "text"},
                 {"text", {{"body", text}}}}}}}}}}}}}}}
      .dump();
}

std::string whatsapp_status(const std::string& wamid, const std::string& status) {
  json st = {{"id", wamid},
             {"status", status},
             {"timestamp", "1700000000"},
             {"recipient_id", "4915112345678"}};
  if (status == "failed") st["errors"] = {{{"code", 131026}, {"title", "Message undeliverable"}}};
  return json{
      {"object", "whatsapp_business_account"},
      {"entry",
       {{{"id", "WABA"},
         {"changes",
          {{{"field", "messages"},
            {"value", {{"metadata", {{"phone_number_id", "PN1"}}}, {"statuses", {st}}}}}}}}}}}
      .dump();
}

TEST(SocialParse, WhatsAppMessagesInE164AndStatuses) {
  std::vector<Event> ev;
  ASSERT_EQ(
      parse_meta(whatsapp_body("wamid.A", 1700000000, "Oi"), Platform::kWhatsApp, Limits{}, ev),
      "");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].account, "PN1");
  const auto& m = ev[0].envelope.message();
  EXPECT_EQ(m.customer_handle(), "+4915112345678");
  EXPECT_EQ(m.customer_display_name(), "Ana Lima");
  EXPECT_EQ(m.sent_at_ms(), 1700000000000);
  EXPECT_EQ(m.text_body(), "Oi");
  ev.clear();
  ASSERT_EQ(parse_meta(whatsapp_status("wamid.B", "failed"), Platform::kWhatsApp, Limits{}, ev),
            "");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].envelope.delivery_status().state(), v1::DeliveryStatus::STATE_FAILED);
  EXPECT_NE(ev[0].envelope.delivery_status().detail().find("131026"), std::string::npos);
  ev.clear();
  ASSERT_EQ(parse_meta(R"({"object":"whatsapp_business_account","entry":[{"changes":[{"field":
      "messages","value":{"metadata":{"phone_number_id":"PN1"},"messages":[{"from":"4915112345678",
      "id":"wamid.C","timestamp":"1","type":"interactive","interactive":{"type":"button_reply",
      "button_reply":{"id":"yes","title":"Yes, please"}}},{"from":"4915112345678","id":"wamid.D",
      "timestamp":"2","type":"image","image":{"id":"MEDIA1","mime_type":"image/jpeg",
      "caption":"the damage"}}]}}]}]})",
                       Platform::kWhatsApp, Limits{}, ev),
            "");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].envelope.message().text_body(), "Yes, please");
  EXPECT_EQ(ev[0].envelope.message().provider_metadata().at("reply_id"), "yes");
  EXPECT_EQ(ev[1].envelope.message().text_body(), "the damage");
  EXPECT_EQ(ev[1].envelope.message().attachments(0).url(), "whatsapp:media/MEDIA1");
  ev.clear();
  ParseReport report;  // not a number: this message alone goes to the DLQ
  EXPECT_EQ(parse_meta(R"({"object":"whatsapp_business_account","entry":[{"changes":[{"field":
      "messages","value":{"metadata":{"phone_number_id":"PN1"},"messages":[{"from":"12",
      "id":"x","type":"text","text":{"body":"hi"}}]}}]}]})",
                       Platform::kWhatsApp, Limits{}, ev, &report),
            "");
  EXPECT_TRUE(ev.empty());
  EXPECT_EQ(report.rejected.size(), 1u);
}

std::string telegram_update(int64_t update, int64_t chat, int64_t mid, const std::string& text) {
  return json{{"update_id", update},
              {"message",
               {{"message_id", mid},
                {"from",
                 {{"id", chat},
                  {"is_bot", false},
                  {"first_name", "Ana"},
                  {"last_name", "Lima"},
                  {"language_code", "pt-BR"}}},
                {"chat", {{"id", chat}, {"type", "private"}}},
                {"date", 1700000000},
                {"text", text}}}}
      .dump();
}

TEST(SocialParse, TelegramUpdatesScopeHandlesToTheBot) {
  std::vector<Event> ev;
  ASSERT_EQ(telegram::parse(telegram_update(1, 555, 7, "Olá"), "12345", Limits{}, ev), "");
  ASSERT_EQ(ev.size(), 1u);
  const auto& m = ev[0].envelope.message();
  EXPECT_EQ(m.channel(), v1::CHANNEL_TELEGRAM);
  EXPECT_EQ(m.customer_handle(), "12345/555");
  EXPECT_EQ(m.external_message_id(), "555:7");
  EXPECT_EQ(m.language(), "pt-BR");
  EXPECT_EQ(m.customer_display_name(), "Ana Lima");
  ev.clear();
  ASSERT_EQ(telegram::parse(R"({"update_id":2,"callback_query":{"id":"cb1","from":{"id":555},
      "message":{"message_id":8,"chat":{"id":555}},"data":"track_order"}})",
                            "12345", Limits{}, ev),
            "");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].envelope.message().provider_metadata().at("callback_data"), "track_order");
  ev.clear();
  ASSERT_EQ(telegram::parse(R"({"update_id":3,"message":{"message_id":9,"chat":{"id":555},
      "date":1,"photo":[{"file_id":"small","file_size":10},{"file_id":"big","file_size":900}],
      "caption":"receipt"}})",
                            "12345", Limits{}, ev),
            "");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].envelope.message().attachments(0).url(), "telegram:file/big");
  EXPECT_EQ(ev[0].envelope.message().text_body(), "receipt");
  ev.clear();
  EXPECT_EQ(telegram::parse(R"({"update_id":4,"my_chat_member":{}})", "12345", Limits{}, ev), "");
  EXPECT_TRUE(ev.empty());
  EXPECT_NE(telegram::parse(R"({"message":{}})", "12345", Limits{}, ev), "");
}

// ------------------------------------------------------------------ running connectors

TEST_F(SocialConnectorTest, MetaVerificationAndSignedBatchesOnlyAfterTheAck) {
  auto c = start(messenger_factory(), "{page_id: PAGE1, access_token: page-token}",
                 v1::CHANNEL_MESSENGER);
  http::ClientRequest get;
  get.method = "GET";
  get.url = base_ +
            "/v1/messenger/webhook?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=42";
  auto r = http::send(get);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "42");
  get.url =
      base_ + "/v1/messenger/webhook?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=42";
  EXPECT_EQ(http::send(get).status, 403);

  const std::string body = messenger_body();
  // Tampered: signed over another body.
  EXPECT_EQ(post("/v1/messenger/webhook", body,
                 {"X-Hub-Signature-256: " + hub_signature("app-secret", body + " ")})
                .status,
            403);
  EXPECT_EQ(post("/v1/messenger/webhook", body, {}).status, 401);
  EXPECT_EQ(post("/v1/messenger/webhook", body,
                 {"X-Hub-Signature-256: " + hub_signature("other-secret", body)})
                .status,
            403);
  EXPECT_TRUE(host_->published().empty());

  host_->set_result({sdk::PublishResult::Code::kUnavailable, "down", ""});
  EXPECT_EQ(meta_post("/v1/messenger/webhook", body).status, 503) << "Meta retries the batch";
  host_->set_result({sdk::PublishResult::Code::kOk, {}, "ev"});
  r = meta_post("/v1/messenger/webhook", body);
  EXPECT_EQ(r.status, 200) << r.body;
  // PAGE1's three messages and its read signal; receipts for messages we never sent are
  // dropped; PAGE2 has no inbox here: dead-lettered with the reason.
  auto pub = host_->published();
  int messages = 0, signals = 0;
  for (const auto& e : pub) {
    if (e.has_message()) {
      ++messages;
      EXPECT_EQ(e.message().workspace_id(), "acme");
      EXPECT_EQ(e.message().inbox_id(), "social");
    }
    if (e.has_signal()) ++signals;
  }
  EXPECT_EQ(messages, 3);
  EXPECT_EQ(signals, 1);
  ASSERT_EQ(host_->dead_letters().size(), 2u) << "once per time Meta sent it";
  EXPECT_NE(host_->dead_letters()[1].find("no inbox for account PAGE2"), std::string::npos);
  c->stop();
}

TEST_F(SocialConnectorTest, MessengerRepliesUseTheWindowAndHumanAgentTag) {
  auto c = start(messenger_factory(), "{page_id: PAGE1, access_token: page-token}",
                 v1::CHANNEL_MESSENGER);
  auto say = [&](const std::string& psid, int64_t age_s) {
    const std::string body = json{{"object", "page"},
                                  {"entry",
                                   {{{"id", "PAGE1"},
                                     {"messaging",
                                      {{{"sender", {{"id", psid}}},
                                        {"timestamp", (now_s() - age_s) * 1000},
                                        {"message", {{"mid", "m_" + psid}, {"text", "hi"}}}}}}}}}}
                                 .dump();
    ASSERT_EQ(meta_post("/v1/messenger/webhook", body).status, 200);
  };
  say("FRESH", 60);
  say("OLD", 3 * 24 * 3600);
  say("GONE", 8 * 24 * 3600);
  auto d = c->deliver(reply("o1", "PAGE1/FRESH", "Hello!"), host_->inboxes()[0]);
  ASSERT_EQ(d.code, sdk::DeliveryResult::Code::kDelivered) << d.detail;
  auto req = last_request();
  EXPECT_EQ(req["path"], "/v19.0/PAGE1/messages");
  EXPECT_EQ(req["auth"], "Bearer page-token");
  EXPECT_EQ(req["body"]["messaging_type"], "RESPONSE");
  EXPECT_EQ(req["body"]["recipient"]["id"], "FRESH");
  EXPECT_EQ(req["body"]["message"]["text"], "Hello!");
  const std::string fresh_mid = d.provider_message_id;
  EXPECT_FALSE(fresh_mid.empty());
  d = c->deliver(reply("o2", "PAGE1/OLD", "Sorry for the wait"), host_->inboxes()[0]);
  ASSERT_EQ(d.code, sdk::DeliveryResult::Code::kDelivered) << d.detail;
  req = last_request();
  EXPECT_EQ(req["body"]["messaging_type"], "MESSAGE_TAG");
  EXPECT_EQ(req["body"]["tag"], "HUMAN_AGENT");
  const size_t before = providers_.requests().size();
  d = c->deliver(reply("o3", "PAGE1/GONE", "Hello?"), host_->inboxes()[0]);
  EXPECT_EQ(d.code, sdk::DeliveryResult::Code::kFailed);
  EXPECT_NE(d.detail.find("7 days"), std::string::npos) << d.detail;
  EXPECT_EQ(providers_.requests().size(), before);
  // Receipts for our messages come back as delivery statuses of the outbound message.
  const std::string receipt =
      json{{"object", "page"},
           {"entry",
            {{{"id", "PAGE1"},
              {"messaging",
               {{{"sender", {{"id", "FRESH"}}}, {"delivery", {{"mids", {fresh_mid}}}}}}}}}}}
          .dump();
  ASSERT_EQ(meta_post("/v1/messenger/webhook", receipt).status, 200);
  bool delivered = false;
  for (const auto& e : host_->published())
    if (e.has_delivery_status() && e.delivery_status().outbound_id() == "o1" &&
        e.delivery_status().state() == v1::DeliveryStatus::STATE_DELIVERED &&
        e.delivery_status().conversation_id() == "C1")
      delivered = true;
  EXPECT_TRUE(delivered);
  c->stop();
}

TEST_F(SocialConnectorTest, WhatsAppWindowTemplatesReceiptsAndErrors) {
  auto c = start(whatsapp_factory(), "{phone_number_id: PN1, access_token: wa-token}",
                 v1::CHANNEL_WHATSAPP);
  const auto& inbox = host_->inboxes()[0];
  // No message from this customer yet: free text is refused, a template goes out.
  auto d = c->deliver(reply("o0", "+4915112345678", "Hello"), inbox);
  EXPECT_EQ(d.code, sdk::DeliveryResult::Code::kFailed);
  EXPECT_NE(d.detail.find("template"), std::string::npos) << d.detail;
  EXPECT_TRUE(providers_.requests().empty());

  // The customer wrote 25 hours ago: the window is closed.
  ASSERT_EQ(meta_post("/v1/whatsapp/webhook",
                      whatsapp_body("wamid.IN1", now_s() - 25 * 3600, "Any news?"))
                .status,
            200);
  d = c->deliver(reply("o1", "+4915112345678", "Yes!"), inbox);
  EXPECT_EQ(d.code, sdk::DeliveryResult::Code::kFailed);
  EXPECT_NE(d.detail.find("24-hour customer service window closed"), std::string::npos) << d.detail;
  auto t = reply("o2", "+4915112345678", "");
  t.mutable_message_template()->set_name("order_update");
  t.mutable_message_template()->set_language("en_US");
  t.mutable_message_template()->add_parameters("55");
  d = c->deliver(t, inbox);
  ASSERT_EQ(d.code, sdk::DeliveryResult::Code::kDelivered) << d.detail;
  auto req = last_request();
  EXPECT_EQ(req["path"], "/v19.0/PN1/messages");
  EXPECT_EQ(req["auth"], "Bearer wa-token");
  EXPECT_EQ(req["body"]["to"], "4915112345678");
  EXPECT_EQ(req["body"]["type"], "template");
  EXPECT_EQ(req["body"]["template"]["name"], "order_update");
  EXPECT_EQ(req["body"]["template"]["components"][0]["parameters"][0]["text"], "55");

  // The customer writes now: free text within the window; its receipts come back.
  ASSERT_EQ(meta_post("/v1/whatsapp/webhook", whatsapp_body("wamid.IN2", now_s(), "Thanks")).status,
            200);
  d = c->deliver(reply("o3", "+4915112345678", "You're welcome"), inbox);
  ASSERT_EQ(d.code, sdk::DeliveryResult::Code::kDelivered) << d.detail;
  EXPECT_EQ(last_request()["body"]["text"]["body"], "You're welcome");
  ASSERT_EQ(
      meta_post("/v1/whatsapp/webhook", whatsapp_status(d.provider_message_id, "read")).status,
      200);
  bool read = false;
  for (const auto& e : host_->published())
    if (e.has_delivery_status() && e.delivery_status().outbound_id() == "o3" &&
        e.delivery_status().state() == v1::DeliveryStatus::STATE_READ)
      read = true;
  EXPECT_TRUE(read);

  providers_.fail("/v19.0", 400, 1, {{"error", {{"code", 130429}, {"message", "Rate limit hit"}}}});
  EXPECT_EQ(c->deliver(reply("o4", "+4915112345678", "x"), inbox).code,
            sdk::DeliveryResult::Code::kRetry);
  providers_.fail("/v19.0", 400, 1,
                  {{"error", {{"code", 131047}, {"message", "Re-engagement message"}}}});
  d = c->deliver(reply("o5", "+4915112345678", "x"), inbox);
  EXPECT_EQ(d.code, sdk::DeliveryResult::Code::kFailed);
  EXPECT_NE(d.detail.find("messaging window"), std::string::npos) << d.detail;
  c->stop();
}

TEST_F(SocialConnectorTest, TelegramSecretTokenUpdatesAndBotApi) {
  auto c = start(telegram::factory(), "{bot_token: '12345:bot-secret', secret_token: tg-hook}",
                 v1::CHANNEL_TELEGRAM);
  const std::string path = "/v1/telegram/acme/social";
  const std::string update = telegram_update(10, 555, 7, "Olá");
  EXPECT_EQ(post(path, update, {}).status, 401);
  EXPECT_EQ(post(path, update, {"X-Telegram-Bot-Api-Secret-Token: guess"}).status, 403);
  EXPECT_TRUE(host_->published().empty());
  auto r = post(path, update, {"X-Telegram-Bot-Api-Secret-Token: tg-hook"});
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(host_->published().size(), 1u);
  EXPECT_EQ(host_->published()[0].message().customer_handle(), "12345/555");
  EXPECT_EQ(
      post(path, "{\"update_id\": \"x\"}", {"X-Telegram-Bot-Api-Secret-Token: tg-hook"}).status,
      400);

  const auto& inbox = host_->inboxes()[0];
  auto d = c->deliver(reply("o1", "12345/555", "Oi Ana"), inbox);
  ASSERT_EQ(d.code, sdk::DeliveryResult::Code::kDelivered) << d.detail;
  auto req = last_request();
  EXPECT_EQ(req["path"], "/bot12345:bot-secret/sendMessage");
  EXPECT_EQ(req["body"]["chat_id"], "555");
  EXPECT_EQ(req["body"]["text"], "Oi Ana");
  providers_.fail("/bot", 429, 1,
                  {{"ok", false},
                   {"error_code", 429},
                   {"description", "Too Many Requests: retry after 3"},
                   {"parameters", {{"retry_after", 3}}}});
  d = c->deliver(reply("o2", "12345/555", "x"), inbox);
  EXPECT_EQ(d.code, sdk::DeliveryResult::Code::kRetry);
  EXPECT_EQ(d.retry_after_ms, 3000);
  EXPECT_EQ(d.detail.find("bot-secret"), std::string::npos) << "never the token";
  providers_.fail("/bot", 403, 1,
                  {{"ok", false},
                   {"error_code", 403},
                   {"description", "Forbidden: bot was blocked by the user"}});
  d = c->deliver(reply("o3", "12345/555", "x"), inbox);
  EXPECT_EQ(d.code, sdk::DeliveryResult::Code::kFailed);
  EXPECT_NE(d.detail.find("blocked"), std::string::npos);
  EXPECT_EQ(c->deliver(reply("o4", "999/555", "x"), inbox).code, sdk::DeliveryResult::Code::kFailed)
      << "another bot's customer";
  c->stop();
}

}  // namespace
}  // namespace omniroute::connectors::social
