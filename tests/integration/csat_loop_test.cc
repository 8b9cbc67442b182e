// Satisfaction surveys end to end on web chat, WhatsApp and SMS: the agent resolves, the
// connector asks the customer natively (chat rating buttons, a WhatsApp interactive list,
// an SMS "reply with a number"), the customer answers through the real front door, and
// the rating reaches the agent's desk and omni.routing. Never to an opted-out number.
#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/stack.h"
#include "tests/integration/channel_posts.h"
#include "tests/integration/harness.h"
#include "tests/support/fake_host.h"
#include "tests/support/ws_client.h"

namespace omniroute::testing {
namespace {

constexpr const char* kRouter =
    R"(router: {agent_endpoint: "tcp://127.0.0.1:*", agent_auth: none, insecure: true, heartbeat_interval_ms: 200, heartbeat_timeout_ms: 800})";
constexpr const char* kCsat =
    R"(csat: {question: {en: "How did we do?", pt: "Como foi?"}, thanks: {en: "Thanks!"}, window_hours: 1})";

// (Passed to fmt as arguments: single braces.)

// The rating the desk was shown, 0 while none.
uint32_t rating_at(const RecordingDesk& d, std::string* comment = nullptr) {
  for (const auto& m : d.messages())
    if (m.message().has_csat()) {
      if (comment) *comment = m.message().text_body();
      return m.message().csat().rating();
    }
  return 0;
}

// Everything on omni.routing so far (each read waits up to 2 s for a slow consumer join).
std::vector<v1::RoutingEvent> routing(cli::Stack& stack) {
  std::vector<v1::RoutingEvent> out;
  for (const auto& r :
       read_topic(stack.config().kafka.brokers, "omni.routing", 1, SIZE_MAX, 2000)) {
    v1::RoutingEvent e;
    if (e.ParseFromString(r)) out.push_back(std::move(e));
  }
  return out;
}

// The ratings on omni.routing (KIND_CSAT), in order.
std::vector<uint32_t> routed_ratings(cli::Stack& stack) {
  std::vector<uint32_t> out;
  for (const auto& e : routing(stack))
    if (e.kind() == v1::RoutingEvent::KIND_CSAT) {
      EXPECT_EQ(e.agent_id(), "alice");
      out.push_back(e.csat_rating());
    }
  return out;
}

// Waits (up to 20 s, reading the topic again and again) until omni.routing holds exactly
// `want` ratings; the last reading otherwise.
std::vector<uint32_t> ratings_when(cli::Stack& stack, const std::vector<uint32_t>& want) {
  std::vector<uint32_t> got;
  wait_until([&] { return (got = routed_ratings(stack)) == want; }, std::chrono::seconds(20));
  return got;
}

TEST(CsatLoop, SmsAsksForADigitTheReplyIsTheRatingNeverToOptedOut) {
  TempDir dir;
  FakeProviders providers;
  const int port = free_port();
  const std::string base = fmt::format("http://127.0.0.1:{}", port);
  const std::string yaml = sms_stack_yaml(dir.path(), port, base, providers.url(), kCsat);
  auto running = start_stack(yaml, {"sms"});
  ASSERT_TRUE(running.stack);
  cli::Stack& stack = *running.stack;
  RecordingDesk& alice = *running.alice;
  auto sms = [&](const std::string& sid, const std::string& from, const std::string& body) {
    return post_sms(base, sid, from, body);
  };
  auto bodies = [&] {
    std::vector<std::string> out;
    for (const auto& r : providers.requests())
      for (const auto& kv : r["body"])
        if (kv[0] == "Body") out.push_back(kv[1]);
    return out;
  };
  ASSERT_EQ(sms("SM1", "+14155550123", "Where is my parcel?"), 200);
  ASSERT_TRUE(wait_until([&] { return bodies().size() == 1; }));  // alice's answer
  const std::string conv = alice.assignments().at(0).conversation().conversation_id();
  alice.desk().resolve(conv);
  ASSERT_TRUE(wait_until([&] { return bodies().size() == 2; }));
  EXPECT_EQ(bodies()[1], "How did we do?\nReply with a number from 1 (bad) to 5 (excellent).");
  // The customer answers with a digit and a few words: a rating, not a new conversation.
  ASSERT_EQ(sms("SM2", "+14155550123", "4 - quick, thanks"), 200);
  ASSERT_TRUE(wait_until([&] { return rating_at(alice) == 4; }));
  std::string comment;
  rating_at(alice, &comment);
  EXPECT_EQ(comment, "quick, thanks");
  ASSERT_TRUE(wait_until([&] { return bodies().size() == 3; }));
  EXPECT_EQ(bodies()[2], "Thanks!");
  EXPECT_EQ(ratings_when(stack, {4}), std::vector<uint32_t>{4});
  EXPECT_EQ(alice.offers().size(), 1u) << "the answer opened nothing";

  // A second customer opts out before the conversation is resolved: the survey is not
  // sent, and the router records why.
  ASSERT_EQ(sms("SM3", "+14155550124", "Hello"), 200);
  ASSERT_TRUE(wait_until([&] { return alice.assignments().size() == 2 && bodies().size() == 4; }));
  ASSERT_EQ(sms("SM4", "+14155550124", "STOP"), 200);
  ASSERT_TRUE(wait_until([&] {  // the router has it before the resolve (desk and Kafka race)
    for (const auto& m : alice.messages())
      if (m.message().text_body() == "STOP") return true;
    return false;
  }));
  alice.desk().resolve(alice.assignments()[1].conversation().conversation_id());
  bool refused = false;
  for (int i = 0; i < 10 && !refused; ++i)
    for (const auto& e : routing(stack))
      refused = refused || (e.kind() == v1::RoutingEvent::KIND_DELIVERY &&
                            e.reason().find("FAILED") != std::string::npos);
  EXPECT_TRUE(refused) << "the survey's failure reached the router";
  EXPECT_EQ(bodies().size(), 4u) << "nothing went to the opted-out number";
  stack.stop();
}

TEST(CsatLoop, WhatsAppInteractiveListOrButtonsThePressIsTheRating) {
  TempDir dir;
  FakeProviders providers;
  const int port = free_port();
  const std::string base = fmt::format("http://127.0.0.1:{}", port);
  const std::string yaml = fmt::format(R"(log_level: warn
state: {{dir: "{0}/state"}}
kafka: {{brokers: embedded, partitions: 1}}
{3}
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
        {4}
        settings: {{phone_number_id: PN1, access_token: wa-token}}
      - id: wa3
        channel: whatsapp
        queue: general
        csat: {{question: {{en: "Happy?"}}, scale: 3}}
        settings: {{phone_number_id: PN2, access_token: wa-token}}
    agents:
      - {{id: alice, capacity: {{whatsapp: 5}}}}
)",
                                       dir.path(), port, providers.url(), kRouter, kCsat);
  auto running = start_stack(yaml, {"whatsapp"});
  ASSERT_TRUE(running.stack);
  cli::Stack& stack = *running.stack;
  RecordingDesk& alice = *running.alice;
  const std::string hook = base + "/v1/whatsapp/webhook";
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  auto from_customer = [&](const std::string& id, const nlohmann::json& content,
                           const std::string& to = "PN1",
                           const std::string& from = "5511987654321") {
    nlohmann::json m = {{"from", from}, {"id", id}, {"timestamp", std::to_string(now_s)}};
    m.update(content);
    return post_whatsapp(hook, "app-secret",
                         {{"metadata", {{"phone_number_id", to}}},
                          {"contacts", {{{"profile", {{"name", "Rita"}}}, {"wa_id", from}}}},
                          {"messages", {m}}});
  };
  ASSERT_EQ(from_customer("wamid.1", {{"type", "text"}, {"text", {{"body", "Oi"}}}}), 200);
  ASSERT_TRUE(wait_until([&] { return providers.requests().size() == 1; }));
  alice.desk().resolve(alice.assignments().at(0).conversation().conversation_id());
  ASSERT_TRUE(wait_until([&] { return providers.requests().size() == 2; }));
  const auto survey = providers.requests()[1]["body"];
  ASSERT_EQ(survey["type"], "interactive") << survey.dump();
  EXPECT_EQ(survey["interactive"]["type"], "list");
  EXPECT_EQ(survey["interactive"]["body"]["text"], "How did we do?");
  const auto rows = survey["interactive"]["action"]["sections"][0]["rows"];
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0]["title"], "5 \u2605\u2605\u2605\u2605\u2605");
  // The customer picks "3" in the list: WhatsApp reports an interactive list_reply.
  const nlohmann::json three = rows[2];
  ASSERT_EQ(from_customer("wamid.2",
                          {{"type", "interactive"},
                           {"interactive",
                            {{"type", "list_reply"},
                             {"list_reply", {{"id", three["id"]}, {"title", three["title"]}}}}}}),
            200);
  ASSERT_TRUE(wait_until([&] { return rating_at(alice) == 3; }));
  EXPECT_EQ(ratings_when(stack, {3}), std::vector<uint32_t>{3});
  // A forged press (another survey id) is refused by the router: nothing more is counted.
  ASSERT_EQ(from_customer("wamid.3",
                          {{"type", "interactive"},
                           {"interactive",
                            {{"type", "button_reply"},
                             {"button_reply", {{"id", "csat:acme/C9/9:5"}, {"title", "5"}}}}}}),
            200);
  ASSERT_TRUE(wait_until([&] { return providers.requests().size() == 3; }));  // the thanks
  EXPECT_EQ(providers.requests()[2]["body"]["text"]["body"], "Thanks!");
  EXPECT_EQ(routed_ratings(stack), std::vector<uint32_t>{3});

  // A 3-point survey is three reply buttons (WhatsApp's limit); the customer taps "1".
  ASSERT_EQ(from_customer("wamid.4", {{"type", "text"}, {"text", {{"body", "Oi"}}}}, "PN2",
                          "5511900000002"),
            200);
  ASSERT_TRUE(wait_until([&] { return alice.assignments().size() == 2; }));
  ASSERT_TRUE(wait_until([&] { return providers.requests().size() == 4; }));  // alice's answer
  alice.desk().resolve(alice.assignments()[1].conversation().conversation_id());
  ASSERT_TRUE(wait_until([&] { return providers.requests().size() == 5; }));
  const auto buttons = providers.requests()[4]["body"]["interactive"];
  ASSERT_EQ(buttons["type"], "button") << buttons.dump();
  const auto choices = buttons["action"]["buttons"];
  ASSERT_EQ(choices.size(), 3u);
  EXPECT_EQ(choices[2]["reply"]["title"], "1 \u2605");
  ASSERT_EQ(
      from_customer("wamid.5",
                    {{"type", "interactive"},
                     {"interactive",
                      {{"type", "button_reply"},
                       {"button_reply", {{"id", choices[2]["reply"]["id"]}, {"title", "1"}}}}}},
                    "PN2", "5511900000002"),
      200);
  EXPECT_EQ(ratings_when(stack, {3, 1}), (std::vector<uint32_t>{3, 1}));
  stack.stop();
}

TEST(CsatLoop, WebChatRatingButtonsCommentAndReloadShowsItAnswered) {
  TempDir dir;
  const int port = free_port();
  const std::string yaml = fmt::format(R"(log_level: warn
state: {{dir: "{0}/state"}}
kafka: {{brokers: embedded, partitions: 1}}
{2}
connectors:
  chat: {{listen: "127.0.0.1:{1}", state_dir: "{0}/chat"}}
workspaces:
  - id: acme
    queues: [{{id: general}}]
    inboxes:
      - {{id: web, channel: chat, queue: general, settings: {{allowed_origins: "*"}},
          {3}}}
    agents:
      - {{id: alice, name: Alice, capacity: {{chat: 5}}}}
)",
                                       dir.path(), port, kRouter, kCsat);
  auto running = start_stack(yaml, {"chat"});
  ASSERT_TRUE(running.stack);
  cli::Stack& stack = *running.stack;
  RecordingDesk& alice = *running.alice;
  WsClient tab("127.0.0.1", port, "/v1/chat/acme/web/ws", "https://shop.example");
  ASSERT_TRUE(tab.connected()) << tab.error();
  tab.send({{"type", "hello"}, {"name", "Ana"}, {"lang", "pt-BR"}});
  auto welcome = tab.wait_for("welcome");
  ASSERT_FALSE(welcome.is_null());
  tab.send({{"type", "message"}, {"id", "m1"}, {"text", "Olá"}});
  ASSERT_FALSE(tab.wait_for("message").is_null());  // alice's answer
  alice.desk().resolve(alice.assignments().at(0).conversation().conversation_id());
  auto survey = tab.wait_for("survey");
  ASSERT_FALSE(survey.is_null());
  EXPECT_EQ(survey["text"], "Como foi?") << "in the visitor's language";
  EXPECT_EQ(survey["scale"], 5);
  // Refused: another survey, a rating off the scale.
  size_t from = tab.frames().size();
  tab.send({{"type", "csat"}, {"id", "c0"}, {"survey", "acme/C1/1"}, {"rating", 5}});
  auto err = tab.wait_for("error", from);
  ASSERT_FALSE(err.is_null());
  EXPECT_EQ(err["reason"], "no such survey");
  from = tab.frames().size();
  tab.send({{"type", "csat"}, {"id", "c1"}, {"survey", survey["id"]}, {"rating", 7}});
  err = tab.wait_for("error", from);
  ASSERT_FALSE(err.is_null());
  EXPECT_EQ(err["reason"], "rating must be a whole number from 1 to 5");
  // The visitor presses 5, then adds a comment.
  tab.send({{"type", "csat"}, {"id", "c2"}, {"survey", survey["id"]}, {"rating", 5}});
  ASSERT_FALSE(tab.wait_for("rated").is_null());
  ASSERT_TRUE(wait_until([&] { return rating_at(alice) == 5; }));
  from = tab.frames().size();
  tab.send({{"type", "csat"},
            {"id", "c3"},
            {"survey", survey["id"]},
            {"rating", 5},
            {"comment", "<b>muito</b> bom"}});
  ASSERT_FALSE(tab.wait_for("rated", from).is_null());
  ASSERT_TRUE(wait_until([&] { return alice.messages().size() >= 2; }));
  EXPECT_EQ(alice.messages().back().message().text_body(), "<b>muito</b> bom");
  EXPECT_EQ(ratings_when(stack, {5, 5}), (std::vector<uint32_t>{5, 5}));
  // A reload shows the survey answered.
  WsClient again("127.0.0.1", port, "/v1/chat/acme/web/ws", "https://shop.example");
  again.send({{"type", "hello"}, {"token", welcome["token"]}});
  auto back = again.wait_for("welcome");
  ASSERT_FALSE(back.is_null());
  int surveys = 0, ratings = 0;
  for (const auto& h : back["history"]) {
    surveys += h["author"] == "survey";
    ratings += h["author"] == "rating";
  }
  EXPECT_EQ(surveys, 1);
  EXPECT_EQ(ratings, 2);
  stack.stop();
}

TEST(CsatLoop, TelegramKeyboardAndMessengerQuickRepliesThePressIsTheRating) {
  TempDir dir;
  FakeProviders providers;
  const int port = free_port();
  const std::string base = fmt::format("http://127.0.0.1:{}", port);
  const std::string yaml = fmt::format(R"(log_level: warn
state: {{dir: "{0}/state"}}
kafka: {{brokers: embedded, partitions: 1}}
{3}
connectors:
  telegram: {{listen: "127.0.0.1:{1}", state_dir: "{0}/tg", bot_api_base_url: "{2}"}}
  messenger: {{listen: "127.0.0.1:{1}", state_dir: "{0}/fb", app_secret: app-secret,
               verify_token: v, graph_api_base_url: "{2}"}}
workspaces:
  - id: acme
    queues: [{{id: general}}]
    inboxes:
      - {{id: tg, channel: telegram, queue: general, {4},
          settings: {{bot_token: "777:bot-secret", secret_token: hook-secret}}}}
      - {{id: fb, channel: messenger, queue: general, {4},
          settings: {{page_id: PAGE1, access_token: fb-token}}}}
    agents:
      - {{id: alice, capacity: {{telegram: 5, messenger: 5}}}}
)",
                                       dir.path(), port, providers.url(), kRouter, kCsat);
  auto running = start_stack(yaml, {"telegram", "messenger"});
  ASSERT_TRUE(running.stack);
  cli::Stack& stack = *running.stack;
  RecordingDesk& alice = *running.alice;
  auto telegram = [&](const std::string& update) {
    connectors::http::ClientRequest r;
    r.url = base + "/v1/telegram/acme/tg";
    r.headers = {"Content-Type: application/json", "X-Telegram-Bot-Api-Secret-Token: hook-secret"};
    r.body = update;
    return connectors::http::send(r).status;
  };
  auto messenger = [&](const nlohmann::json& event) {
    const std::string body =
        nlohmann::json{{"object", "page"}, {"entry", {{{"id", "PAGE1"}, {"messaging", {event}}}}}}
            .dump();
    connectors::http::ClientRequest r;
    r.url = base + "/v1/messenger/webhook";
    r.headers = {
        "Content-Type: application/json",
        "X-Hub-Signature-256: sha256=" + hex_of(hmac_raw(EVP_sha256(), "app-secret", body))};
    r.body = body;
    return connectors::http::send(r).status;
  };
  auto request_to = [&](const std::string& path_part, size_t nth) {
    size_t seen = 0;
    for (const auto& r : providers.requests())
      if (r["path"].get<std::string>().find(path_part) != std::string::npos && seen++ == nth)
        return r["body"];
    return nlohmann::json();
  };
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();

  // Telegram: an inline keyboard; the customer taps "2".
  ASSERT_EQ(
      telegram(R"({"update_id":1,"message":{"message_id":9,"chat":{"id":4242,"type":"private"},
      "from":{"id":4242,"first_name":"Ana"},"date":1700000000,"text":"Hi"}})"),
      200);
  ASSERT_TRUE(wait_until([&] { return !request_to("sendMessage", 0).is_null(); }));
  alice.desk().resolve(alice.assignments().at(0).conversation().conversation_id());
  ASSERT_TRUE(wait_until([&] { return !request_to("sendMessage", 1).is_null(); }));
  const auto keyboard = request_to("sendMessage", 1)["reply_markup"]["inline_keyboard"][0];
  ASSERT_EQ(keyboard.size(), 5u) << request_to("sendMessage", 1).dump();
  EXPECT_EQ(keyboard[1]["text"], "2 \u2605\u2605");
  // The webhook's answer to the press is the answerCallbackQuery call (the spinner stops).
  connectors::http::ClientRequest press;
  press.url = base + "/v1/telegram/acme/tg";
  press.headers = {"Content-Type: application/json",
                   "X-Telegram-Bot-Api-Secret-Token: hook-secret"};
  press.body = nlohmann::json{{"update_id", 2},
                              {"callback_query",
                               {{"id", "cb1"},
                                {"from", {{"id", 4242}}},
                                {"data", keyboard[1]["callback_data"]},
                                {"message", {{"message_id", 10}, {"chat", {{"id", 4242}}}}}}}}
                   .dump();
  const auto pressed = connectors::http::send(press);
  ASSERT_EQ(pressed.status, 200);
  EXPECT_EQ(nlohmann::json::parse(pressed.body),
            (nlohmann::json{{"method", "answerCallbackQuery"}, {"callback_query_id", "cb1"}}));
  ASSERT_EQ(telegram(nlohmann::json{{"update_id", 2},
                                    {"callback_query",
                                     {{"id", "cb1"},
                                      {"from", {{"id", 4242}}},
                                      {"data", keyboard[1]["callback_data"]},
                                      {"message", {{"message_id", 10}, {"chat", {{"id", 4242}}}}}}}}
                         .dump()),
            200);
  ASSERT_TRUE(wait_until([&] { return rating_at(alice) == 2; }));

  // Messenger: quick replies; the customer picks "5".
  ASSERT_EQ(messenger({{"sender", {{"id", "U1"}}},
                       {"recipient", {{"id", "PAGE1"}}},
                       {"timestamp", now_ms},
                       {"message", {{"mid", "mid.1"}, {"text", "Hello"}}}}),
            200);
  ASSERT_TRUE(wait_until([&] { return alice.assignments().size() == 2; }));
  ASSERT_TRUE(wait_until([&] { return !request_to("/PAGE1/messages", 0).is_null(); }));
  alice.desk().resolve(alice.assignments()[1].conversation().conversation_id());
  ASSERT_TRUE(wait_until([&] { return !request_to("/PAGE1/messages", 1).is_null(); }));
  const auto quick = request_to("/PAGE1/messages", 1)["message"]["quick_replies"];
  ASSERT_EQ(quick.size(), 5u) << request_to("/PAGE1/messages", 1).dump();
  EXPECT_EQ(quick[0]["title"], "5 \u2605\u2605\u2605\u2605\u2605");
  ASSERT_EQ(messenger({{"sender", {{"id", "U1"}}},
                       {"recipient", {{"id", "PAGE1"}}},
                       {"timestamp", now_ms},
                       {"message",
                        {{"mid", "mid.2"},
                         {"text", quick[0]["title"]},
                         {"quick_reply", {{"payload", quick[0]["payload"]}}}}}}),
            200);
  ASSERT_TRUE(wait_until([&] {
    int n = 0;
    for (const auto& m : alice.messages()) n += m.message().csat().rating() == 5;
    return n == 1;
  }));
  EXPECT_EQ(ratings_when(stack, {2, 5}), (std::vector<uint32_t>{2, 5}));
  EXPECT_EQ(alice.offers().size(), 2u) << "no press opened a conversation";
  stack.stop();
}

}  // namespace
}  // namespace omniroute::testing
