// The web chat gateway against a fake Host, driven by a real WebSocket client: sessions
// that survive a reconnect, acks only after the publish, origin checks, limits, agent
// replies and live notices pushed to the visitor.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "connectors/chat/chat.h"
#include "connectors/http/client.h"
#include "tests/support/fake_host.h"
#include "tests/support/support.h"
#include "tests/support/ws_client.h"

namespace omniroute::connectors::chat {
namespace {

using json = nlohmann::json;
using testing::WsClient;

class ChatGatewayTest : public ::testing::Test {
 protected:
  void SetUp() override { start("{allowed_origins: 'https://www.acme.example', title: Acme}"); }
  void TearDown() override {
    if (connector_) connector_->stop();
  }
  void start(const std::string& inbox_yaml, const std::string& extra = "") {
    auto f = factory();
    sdk::InboxInfo inbox{"acme", "web", v1::CHANNEL_CHAT,
                         testing::settings_of(f.inbox_settings, inbox_yaml)};
    host_ = std::make_unique<testing::FakeHost>(std::vector<sdk::InboxInfo>{inbox});
    connector_ = f.create(testing::settings_of(
        f.settings, fmt::format("{{listen: '127.0.0.1:0', state_dir: '{}', max_message_bytes: 200, "
                                "rate_limit_per_minute: 5{}}}",
                                dir_.path() + "/chat", extra)));
    ASSERT_EQ(connector_->start(*host_), "");
    const std::string ep = connector_->endpoints().at(0);
    const std::string hostport = ep.substr(7, ep.find("/v1/") - 7);
    port_ = std::stoi(hostport.substr(hostport.rfind(':') + 1));
  }
  std::unique_ptr<WsClient> visitor(const std::string& origin = "https://www.acme.example",
                                    const std::string& path = "/v1/chat/acme/web/ws") {
    return std::make_unique<WsClient>("127.0.0.1", port_, path, origin);
  }
  json hello(WsClient& c, json extra = json::object()) {
    json h = {{"type", "hello"}};
    h.update(extra);
    const size_t from = c.frames().size();
    c.send(h);
    return c.wait_for("welcome", from);
  }
  v1::OutboundMessage reply(const std::string& visitor_id, const std::string& text) {
    v1::OutboundMessage m;
    m.set_outbound_id("acme/C1/2");
    m.set_workspace_id("acme");
    m.set_inbox_id("web");
    m.set_channel(v1::CHANNEL_CHAT);
    m.set_conversation_id("C1");
    m.set_customer_handle(visitor_id);
    m.set_agent_id("alice");
    m.set_agent_display_name("Alice");
    m.set_text_body(text);
    return m;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::FakeHost> host_;
  std::unique_ptr<sdk::Connector> connector_;
  int port_ = 0;
};

TEST_F(ChatGatewayTest, ServesTheWidgetAndItsPage) {
  http::ClientRequest r;
  r.method = "GET";
  r.url = fmt::format("http://127.0.0.1:{}/v1/chat/acme/web/widget.js", port_);
  auto res = http::send(r);
  EXPECT_EQ(res.status, 200);
  EXPECT_NE(res.body.find("omniroute-chat-button"), std::string::npos);
  r.url = fmt::format("http://127.0.0.1:{}/v1/chat/acme/web/", port_);
  res = http::send(r);
  EXPECT_EQ(res.status, 200);
  EXPECT_NE(res.body.find("<title>Acme</title>"), std::string::npos);
  EXPECT_NE(res.body.find("<script src=\"widget.js\""), std::string::npos);
  r.url = fmt::format("http://127.0.0.1:{}/v1/chat/acme/nope/widget.js", port_);
  EXPECT_EQ(http::send(r).status, 404);
}

TEST_F(ChatGatewayTest, OnlyAllowedOriginsOpenAChat) {
  auto evil = visitor("https://evil.example");
  EXPECT_FALSE(evil->connected());
  EXPECT_NE(evil->error().find("declined"), std::string::npos) << evil->error();
  auto none = visitor("");
  EXPECT_FALSE(none->connected());
  auto wrong_inbox = visitor("https://www.acme.example", "/v1/chat/acme/other/ws");
  EXPECT_FALSE(wrong_inbox->connected());
  auto ok = visitor();
  ASSERT_TRUE(ok->connected()) << ok->error();
  EXPECT_FALSE(hello(*ok).is_null());
}

TEST_F(ChatGatewayTest, MessagesAreAckedAfterThePublishAndTheSessionResumes) {
  auto tab = visitor();
  ASSERT_TRUE(tab->connected());
  json w = hello(*tab, {{"name", "Ana Lima"}, {"email", "Ana@Example.com"}, {"lang", "pt-BR"}});
  ASSERT_FALSE(w.is_null());
  const std::string token = w["token"], id = w["visitor"];
  EXPECT_EQ(w["title"], "Acme");
  EXPECT_TRUE(w["history"].empty());
  tab->send({{"type", "message"}, {"id", "c1"}, {"text", "Olá, where is my order?"}});
  json ack = tab->wait_for("ack");
  ASSERT_FALSE(ack.is_null());
  EXPECT_EQ(ack["id"], "c1");
  auto pub = host_->published();
  ASSERT_EQ(pub.size(), 1u);
  const auto& m = pub[0].message();
  EXPECT_EQ(m.channel(), v1::CHANNEL_CHAT);
  EXPECT_EQ(m.customer_handle(), id);
  EXPECT_EQ(m.external_message_id(), id + ":c1");
  EXPECT_EQ(m.customer_display_name(), "Ana Lima");
  EXPECT_EQ(m.language(), "pt-BR");
  ASSERT_EQ(m.identities_size(), 1);
  EXPECT_EQ(m.identities(0).value(), "ana@example.com");
  EXPECT_FALSE(m.identities(0).verified()) << "typed into a form: never linked on";

  // The agent answers while the tab is open: pushed live.
  ASSERT_EQ(connector_->deliver(reply(id, "It ships today."), host_->inboxes()[0]).code,
            sdk::DeliveryResult::Code::kDelivered);
  json pushed = tab->wait_for("message");
  ASSERT_FALSE(pushed.is_null());
  EXPECT_EQ(pushed["text"], "It ships today.");
  EXPECT_EQ(pushed["name"], "Alice");

  // A reload: a new connection with the token gets the same visitor and the transcript.
  tab.reset();
  auto again = visitor();
  json w2 = hello(*again, {{"token", token}});
  ASSERT_FALSE(w2.is_null());
  EXPECT_EQ(w2["visitor"], id);
  ASSERT_EQ(w2["history"].size(), 2u);
  EXPECT_EQ(w2["history"][0]["text"], "Olá, where is my order?");
  EXPECT_EQ(w2["history"][1]["text"], "It ships today.");
  EXPECT_EQ(w2["history"][1]["author"], "agent");

  // A forged token is a new visitor, never someone else's transcript.
  auto stranger = visitor();
  json w3 = hello(*stranger, {{"token", token.substr(0, token.size() - 1) + "x"}});
  EXPECT_NE(w3["visitor"], id);
  EXPECT_TRUE(w3["history"].empty());
}

TEST_F(ChatGatewayTest, NothingIsAckedWhenKafkaDidNotTakeIt) {
  host_->set_result({sdk::PublishResult::Code::kUnavailable, "down", ""});
  auto tab = visitor();
  hello(*tab);
  tab->send({{"type", "message"}, {"id", "c1"}, {"text", "hello?"}});
  json err = tab->wait_for("error");
  ASSERT_FALSE(err.is_null());
  EXPECT_EQ(err["id"], "c1");
  EXPECT_TRUE(tab->wait_for("ack", 0, std::chrono::milliseconds(300)).is_null());
  // The widget sends the same id again once Kafka is back: published, acknowledged.
  host_->set_result({sdk::PublishResult::Code::kOk, {}, "ev"});
  tab->send({{"type", "message"}, {"id", "c1"}, {"text", "hello?"}});
  EXPECT_FALSE(tab->wait_for("ack").is_null());
}

TEST_F(ChatGatewayTest, LimitsAnswerWithAReasonAndPublishNothing) {
  auto tab = visitor();
  hello(*tab);
  tab->send({{"type", "message"}, {"id", "long"}, {"text", std::string(300, 'x')}});
  json err = tab->wait_for("error");
  ASSERT_FALSE(err.is_null());
  EXPECT_NE(err["reason"].get<std::string>().find("too long"), std::string::npos);
  tab->send({{"type", "message"}, {"id", "blank"}, {"text", "   "}});
  tab->send({"not an object"});
  for (int i = 0; i < 6; ++i)
    tab->send({{"type", "message"}, {"id", fmt::format("r{}", i)}, {"text", "spam"}});
  ASSERT_TRUE(testing::wait_until([&] {
    for (const auto& f : tab->frames())
      if (f.value("type", "") == "error" && f.value("id", "") == "r5") return true;
    return false;
  }));
  EXPECT_EQ(host_->published().size(), 5u) << "5 per minute, the sixth refused";
  // Frames before hello close the connection.
  auto rude = visitor();
  rude->send({{"type", "message"}, {"id", "x"}, {"text", "hi"}});
  EXPECT_TRUE(testing::wait_until([&] { return rude->closed(); }));
  EXPECT_EQ(host_->published().size(), 5u);
}

TEST_F(ChatGatewayTest, TypingGoesOutAsASignalAndNoticesArePushed) {
  auto tab = visitor();
  json w = hello(*tab);
  const std::string id = w["visitor"];
  tab->send({{"type", "typing"}, {"on", true}});
  ASSERT_TRUE(testing::wait_until([&] {
    for (const auto& e : host_->published())
      if (e.has_signal() && e.signal().kind() == v1::Signal::KIND_TYPING) return true;
    return false;
  }));
  auto note = [&](v1::ChannelNotice n) {
    auto m = reply(id, "");
    *m.mutable_notice() = n;
    return connector_->deliver(m, host_->inboxes()[0]).code;
  };
  v1::ChannelNotice q;
  q.set_kind(v1::ChannelNotice::KIND_QUEUE);
  q.set_queue_position(3);
  q.set_expected_wait_s(120);
  q.set_agents_available(2);
  EXPECT_EQ(note(q), sdk::DeliveryResult::Code::kDelivered);
  json qf = tab->wait_for("queue");
  EXPECT_EQ(qf["position"], 3);
  EXPECT_EQ(qf["expected_wait_s"], 120);
  v1::ChannelNotice j;
  j.set_kind(v1::ChannelNotice::KIND_AGENT_JOINED);
  note(j);
  EXPECT_EQ(tab->wait_for("agent_joined")["name"], "Alice");
  v1::ChannelNotice t;
  t.set_kind(v1::ChannelNotice::KIND_TYPING);
  t.set_on(true);
  note(t);
  EXPECT_EQ(tab->wait_for("typing")["on"], true);
  // Notices are not history; "joined" is kept as a line of the transcript.
  auto again = visitor();
  json w2 = hello(*again, {{"token", w["token"]}});
  ASSERT_EQ(w2["history"].size(), 1u);
  EXPECT_EQ(w2["history"][0]["author"], "system");
  // Replies to visitors of another inbox, or unknown ones, fail with a reason.
  EXPECT_EQ(connector_->deliver(reply("v-unknown", "x"), host_->inboxes()[0]).code,
            sdk::DeliveryResult::Code::kFailed);
}

TEST_F(ChatGatewayTest, IdleConnectionsAreClosedAndResumeLater) {
  connector_->stop();
  connector_.reset();
  start("{allowed_origins: '*'}", ", idle_timeout_s: 5");
  auto tab = visitor("https://shop.example");
  json w = hello(*tab);
  ASSERT_FALSE(w.is_null());
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(testing::wait_until([&] { return tab->closed(); }, std::chrono::seconds(15)));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4));
  auto back = visitor("https://shop.example");
  EXPECT_EQ(hello(*back, {{"token", w["token"]}})["visitor"], w["visitor"]);
}

TEST_F(ChatGatewayTest, RequiredPrechatRefusesAnonymousVisitors) {
  connector_->stop();
  connector_.reset();
  start("{allowed_origins: '*', prechat: required}");
  auto anon = visitor("https://anywhere.example");
  ASSERT_TRUE(anon->connected());
  anon->send({{"type", "hello"}});
  EXPECT_FALSE(anon->wait_for("prechat_required").is_null());
  auto known = visitor("https://anywhere.example");
  EXPECT_FALSE(hello(*known, {{"name", "Ana"}, {"email", "ana@example.com"}}).is_null());
}

TEST_F(ChatGatewayTest, OfflineFormBecomesAnEmailConversationWithTheChatQuoted) {
  connector_->stop();
  connector_.reset();
  start("{allowed_origins: 'https://www.acme.example', offline_email_inbox: mail}");
  auto tab = visitor();
  json w = hello(*tab, {{"name", "Ana"}});
  EXPECT_EQ(w["offline_form"], true);
  tab->send({{"type", "message"}, {"id", "c1"}, {"text", "Is anyone there?"}});
  ASSERT_FALSE(tab->wait_for("ack").is_null());
  auto post = [&](const std::string& origin, const json& body, const std::string& method = "POST") {
    http::ClientRequest r;
    r.method = method;
    r.url = fmt::format("http://127.0.0.1:{}/v1/chat/acme/web/offline", port_);
    r.headers = {"Content-Type: application/json", "Origin: " + origin};
    r.body = body.dump();
    return http::send(r);
  };
  // A CORS preflight from the site is allowed, from elsewhere not.
  EXPECT_EQ(post("https://www.acme.example", json::object(), "OPTIONS").status, 204);
  EXPECT_EQ(post("https://evil.example", json::object(), "OPTIONS").status, 403);
  EXPECT_EQ(post("https://evil.example", {{"email", "a@b.example"}, {"message", "x"}}).status, 403);
  EXPECT_EQ(
      post("https://www.acme.example", {{"email", "not-an-address"}, {"message", "x"}}).status,
      400);
  const size_t before = host_->published().size();
  auto r = post("https://www.acme.example", {{"token", w["token"]},
                                             {"name", "Ana"},
                                             {"email", "Ana@Example.com"},
                                             {"message", "Please call me back."},
                                             {"id", "f1"}});
  EXPECT_EQ(r.status, 202) << r.body;
  auto pub = host_->published();
  ASSERT_EQ(pub.size(), before + 1);
  const auto& m = pub.back().message();
  EXPECT_EQ(m.channel(), v1::CHANNEL_EMAIL);
  EXPECT_EQ(m.inbox_id(), "mail");
  EXPECT_EQ(m.customer_handle(), "ana@example.com");
  EXPECT_EQ(m.subject(), "Message from the website chat");
  EXPECT_NE(m.text_body().find("Please call me back."), std::string::npos);
  EXPECT_NE(m.text_body().find("> Ana: Is anyone there?"), std::string::npos) << m.text_body();
  EXPECT_EQ(m.provider_metadata().at("source"), "chat_offline_form");
  EXPECT_EQ(m.external_message_id(), "chat-offline:" + w["visitor"].get<std::string>() + ":f1");
}

}  // namespace
}  // namespace omniroute::connectors::chat
