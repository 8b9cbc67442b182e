// SMS and social channels end to end: a signed provider webhook -> Kafka (mock cluster over
// TCP) -> router -> desk; the desk's reply -> Kafka -> connector -> the provider's API (a
// local fake); the provider's receipts come back as delivery updates at the desk.
#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/stack.h"
#include "connectors/http/client.h"
#include "connectors/http/server.h"
#include "tests/integration/channel_posts.h"
#include "tests/integration/harness.h"
#include "tests/support/fake_host.h"
#include "tests/support/fake_providers.h"
#include "tests/support/ws_client.h"

namespace omniroute::testing {
namespace {

TEST(ChannelsLoop, SmsInReplyOutReceiptsBackStopHonoured) {
  TempDir dir;
  FakeProviders providers;
  const int port = free_port();
  const std::string base = fmt::format("http://127.0.0.1:{}", port);
  const std::string yaml = sms_stack_yaml(dir.path(), port, base, providers.url());
  auto running = start_stack(yaml, {"sms"});
  ASSERT_TRUE(running.stack);
  cli::Stack& stack = *running.stack;
  RecordingDesk& alice = *running.alice;

  const std::string inbound = base + "/v1/sms/acme/line/messages";
  auto sms = [&](const std::string& sid, const std::string& body) {
    return post_sms(base, sid, "+14155550123", body);
  };
  // A forged request is refused and reaches nobody.
  EXPECT_EQ(post_form(inbound, "not-the-token",
                      {{"MessageSid", "SMx"},
                       {"AccountSid", "AC1"},
                       {"From", "+14155550123"},
                       {"To", "+14155550100"},
                       {"Body", "forged"}}),
            403);
  // 1. The customer texts; the provider retries the same webhook (dedup absorbs it).
  ASSERT_EQ(sms("SM1", "Is my order shipped?"), 200);
  ASSERT_EQ(sms("SM1", "Is my order shipped?"), 200);
  ASSERT_TRUE(wait_until([&] { return alice.assignments().size() == 1; }));
  EXPECT_EQ(alice.assignments()[0].conversation().customer_handle(), "+14155550123");
  ASSERT_EQ(alice.assignments()[0].history_size(), 1) << "the provider's retry was absorbed";

  // 2. The desk's reply reaches the provider's API; its receipts come back to the desk.
  ASSERT_TRUE(wait_until([&] { return has_state(alice, v1::DeliveryStatus::STATE_DELIVERED); }));
  auto reqs = providers.requests();
  ASSERT_EQ(reqs.size(), 1u);
  std::map<std::string, std::string> form;
  for (const auto& kv : reqs[0]["body"]) form[kv[0]] = kv[1];
  EXPECT_EQ(form["To"], "+14155550123");
  EXPECT_EQ(form["Body"], "Hi from alice");

  // 3. STOP: recorded; the next reply is refused and the agent is told why.
  ASSERT_EQ(sms("SM2", "STOP"), 200);
  const std::string conv = alice.assignments()[0].conversation().conversation_id();
  alice.desk().reply(conv, "One more thing...");  // the opt-out was recorded before the 200
  ASSERT_TRUE(
      wait_until([&] { return has_state(alice, v1::DeliveryStatus::STATE_FAILED, "opted out"); }));
  EXPECT_EQ(providers.requests().size(), 1u) << "nothing was sent after STOP";
  EXPECT_EQ(alice.offers().size(), 1u) << "STOP joined the open conversation";
  stack.stop();
}

TEST(ChannelsLoop, WhatsAppInReplyOutReceiptBackWindowEnforced) {
  TempDir dir;
  FakeProviders providers;
  const int port = free_port();
  const std::string base = fmt::format("http://127.0.0.1:{}", port);
  const std::string yaml = fmt::format(R"(log_level: warn
state: {{dir: "{0}/state"}}
kafka: {{brokers: embedded, partitions: 1}}
router: {{agent_endpoint: "tcp://127.0.0.1:*", agent_auth: none, insecure: true, heartbeat_interval_ms: 200, heartbeat_timeout_ms: 800}}
connectors:
  whatsapp: {{listen: "127.0.0.1:{1}", state_dir: "{0}/wa", app_secret: app-secret,
              verify_token: v, graph_api_base_url: "{2}", initial_backoff_ms: 100}}
workspaces:
  - id: acme
    queues: [{{id: general}}]
    inboxes:
      - id: wa
        channel: whatsapp
        queue: general
        settings: {{phone_number_id: PN1, access_token: wa-token}}
    agents:
      - {{id: alice, capacity: {{whatsapp: 5}}}}
)",
                                       dir.path(), port, providers.url());
  auto running = start_stack(yaml, {"whatsapp"});
  ASSERT_TRUE(running.stack);
  cli::Stack& stack = *running.stack;
  RecordingDesk& alice = *running.alice;
  const std::string hook = base + "/v1/whatsapp/webhook";
  auto meta_post = [&](const nlohmann::json& value) {
    return post_whatsapp(hook, "app-secret", value);
  };
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  nlohmann::json msg = {
      {"metadata", {{"phone_number_id", "PN1"}}},
      {"contacts", {{{"profile", {{"name", "Ana"}}}, {"wa_id", "4915112345678"}}}},
      {"messages",
       {{{"from", "4915112345678"},
         {"id", "wamid.IN1"},
         {"timestamp", std::to_string(now_s)},
         {"type", "text"},
         {"text", {{"body", "Olá, my order?"}}}}}}};
  ASSERT_EQ(meta_post(msg), 200);
  ASSERT_EQ(meta_post(msg), 200);  // Meta's retry: absorbed
  ASSERT_TRUE(wait_until([&] { return alice.assignments().size() == 1; }));
  EXPECT_EQ(alice.assignments()[0].conversation().customer_handle(), "+4915112345678");
  EXPECT_EQ(alice.assignments()[0].history_size(), 1);
  // The reply reaches the Graph API; its "delivered" receipt reaches the desk.
  ASSERT_TRUE(wait_until([&] { return providers.requests().size() == 1; }));
  auto req = providers.requests()[0];
  EXPECT_EQ(req["body"]["to"], "4915112345678");
  EXPECT_EQ(req["body"]["text"]["body"], "Hi from alice");
  ASSERT_EQ(meta_post({{"metadata", {{"phone_number_id", "PN1"}}},
                       {"statuses",
                        {{{"id", req["id"]},
                          {"status", "delivered"},
                          {"timestamp", std::to_string(now_s)},
                          {"recipient_id", "4915112345678"}}}}}),
            200);
  ASSERT_TRUE(wait_until([&] { return has_state(alice, v1::DeliveryStatus::STATE_DELIVERED); }));
  stack.stop();
}

TEST(ChannelsLoop, TelegramUpdateInReplyOutThroughTheBotApi) {
  TempDir dir;
  FakeProviders providers;
  const int port = free_port();
  const std::string yaml = fmt::format(R"(log_level: warn
state: {{dir: "{0}/state"}}
kafka: {{brokers: embedded, partitions: 1}}
router: {{agent_endpoint: "tcp://127.0.0.1:*", agent_auth: none, insecure: true, heartbeat_interval_ms: 200, heartbeat_timeout_ms: 800}}
connectors:
  telegram: {{listen: "127.0.0.1:{1}", state_dir: "{0}/tg", bot_api_base_url: "{2}"}}
workspaces:
  - id: acme
    queues: [{{id: general}}]
    inboxes:
      - {{id: tg, channel: telegram, queue: general,
          settings: {{bot_token: "777:bot-secret", secret_token: hook-secret}}}}
    agents:
      - {{id: alice, languages: [pt], capacity: {{telegram: 5}}}}
)",
                                       dir.path(), port, providers.url());
  auto running = start_stack(yaml, {"telegram"});
  ASSERT_TRUE(running.stack);
  cli::Stack& stack = *running.stack;
  RecordingDesk& alice = *running.alice;
  connectors::http::ClientRequest r;
  r.url = fmt::format("http://127.0.0.1:{}/v1/telegram/acme/tg", port);
  r.headers = {"Content-Type: application/json", "X-Telegram-Bot-Api-Secret-Token: hook-secret"};
  r.body = R"({"update_id":1,"message":{"message_id":9,"chat":{"id":4242,"type":"private"},
      "from":{"id":4242,"first_name":"Ana","language_code":"pt"},"date":1700000000,
      "text":"Olá, preciso de ajuda"}})";
  ASSERT_EQ(connectors::http::send(r).status, 200);
  ASSERT_TRUE(wait_until([&] { return alice.assignments().size() == 1; }));
  EXPECT_EQ(alice.assignments()[0].conversation().customer_handle(), "777/4242");
  ASSERT_TRUE(wait_until([&] { return has_state(alice, v1::DeliveryStatus::STATE_SENT); }));
  auto req = providers.requests().at(0);
  EXPECT_EQ(req["path"], "/bot777:bot-secret/sendMessage");
  EXPECT_EQ(req["body"]["chat_id"], "4242");
  EXPECT_EQ(req["body"]["text"], "Hi from alice");
  stack.stop();
}

TEST(ChannelsLoop, ChatQueuePositionAgentJoinedRepliesAndTypingBothWays) {
  TempDir dir;
  const int port = free_port();
  const std::string yaml = fmt::format(R"(log_level: warn
state: {{dir: "{0}/state"}}
kafka: {{brokers: embedded, partitions: 1}}
router: {{agent_endpoint: "tcp://127.0.0.1:*", agent_auth: none, insecure: true, heartbeat_interval_ms: 200, heartbeat_timeout_ms: 800}}
connectors:
  chat: {{listen: "127.0.0.1:{1}", state_dir: "{0}/chat"}}
workspaces:
  - id: acme
    queues: [{{id: general}}]
    inboxes:
      - {{id: web, channel: chat, queue: general, settings: {{allowed_origins: "*"}}}}
    agents:
      - {{id: alice, name: Alice, capacity: {{chat: 5}}}}
)",
                                       dir.path(), port);
  auto running = start_stack(yaml, {"chat"}, false);
  ASSERT_TRUE(running.stack);
  cli::Stack& stack = *running.stack;

  WsClient tab("127.0.0.1", port, "/v1/chat/acme/web/ws", "https://shop.example");
  ASSERT_TRUE(tab.connected()) << tab.error();
  tab.send({{"type", "hello"}, {"name", "Ana"}});
  ASSERT_FALSE(tab.wait_for("welcome").is_null());
  tab.send({{"type", "message"}, {"id", "m1"}, {"text", "Anyone there?"}});
  ASSERT_FALSE(tab.wait_for("ack").is_null());
  // Nobody is on: the visitor learns where they wait and that nobody is available.
  auto q = tab.wait_for("queue");
  ASSERT_FALSE(q.is_null());
  EXPECT_EQ(q["position"], 1);
  EXPECT_EQ(q["agents_available"], 0);

  RecordingDesk alice(*stack.router(), "acme", "alice",
                      RecordingDesk::Behaviour{.accept = true, .reply = true});
  auto joined = tab.wait_for("agent_joined");
  ASSERT_FALSE(joined.is_null());
  EXPECT_EQ(joined["name"], "Alice");
  auto reply = tab.wait_for("message");
  ASSERT_FALSE(reply.is_null());
  EXPECT_EQ(reply["text"], "Hi from alice");
  ASSERT_TRUE(wait_until([&] { return has_state(alice, v1::DeliveryStatus::STATE_SENT); }));

  // Typing, both ways.
  const std::string conv = alice.assignments().at(0).conversation().conversation_id();
  const size_t before = tab.frames().size();
  alice.desk().typing(conv, true);
  auto typing = tab.wait_for("typing", before);
  ASSERT_FALSE(typing.is_null());
  EXPECT_EQ(typing["on"], true);
  EXPECT_EQ(typing["name"], "Alice");
  tab.send({{"type", "typing"}, {"on", true}});
  ASSERT_TRUE(wait_until([&] { return !alice.typing().empty(); }));
  EXPECT_EQ(alice.typing()[0].conversation_id(), conv);
  stack.stop();
}

}  // namespace
}  // namespace omniroute::testing
