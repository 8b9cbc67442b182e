// The web chat under hostile visitors: WebSockets count against the connection cap,
// typing floods, one visitor on many tabs, sessions past their lifetime, and messages
// refused for good that must never be re-sent.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "connectors/chat/chat.h"
#include "connectors/chat/visitors.h"
#include "connectors/http/client.h"
#include "connectors/state/kv.h"
#include "tests/support/fake_host.h"
#include "tests/support/support.h"
#include "tests/support/ws_client.h"

namespace omniroute::connectors::chat {
namespace {

using json = nlohmann::json;
using testing::WsClient;

class ChatAttack : public ::testing::Test {
 protected:
  void TearDown() override {
    if (connector_) connector_->stop();
  }
  void start(const std::string& extra) {
    auto f = factory();
    sdk::InboxInfo inbox{"acme", "web", v1::CHANNEL_CHAT,
                         testing::settings_of(f.inbox_settings, "{allowed_origins: '*'}")};
    host_ = std::make_unique<testing::FakeHost>(std::vector<sdk::InboxInfo>{inbox});
    connector_ = f.create(
        testing::settings_of(f.settings, fmt::format("{{listen: '127.0.0.1:0', state_dir: '{}', "
                                                     "max_message_bytes: 200{}}}",
                                                     dir_.path() + "/chat", extra)));
    ASSERT_EQ(connector_->start(*host_), "");
    const std::string ep = connector_->endpoints().at(0);
    const std::string hostport = ep.substr(7, ep.find("/v1/") - 7);
    port_ = std::stoi(hostport.substr(hostport.rfind(':') + 1));
  }
  std::unique_ptr<WsClient> tab() {
    return std::make_unique<WsClient>("127.0.0.1", port_, "/v1/chat/acme/web/ws",
                                      "https://www.acme.example");
  }
  json hello(WsClient& c, json extra = json::object()) {
    json h = {{"type", "hello"}};
    h.update(extra);
    const size_t from = c.frames().size();
    c.send(h);
    return c.wait_for("welcome", from);
  }
  int typing_signals() {
    int n = 0;
    for (const auto& e : host_->published())
      if (e.has_signal() && e.signal().kind() == v1::Signal::KIND_TYPING) ++n;
    return n;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::FakeHost> host_;
  std::unique_ptr<sdk::Connector> connector_;
  int port_ = 0;
};

TEST_F(ChatAttack, WebSocketsCountAgainstTheConnectionCap) {
  start(", max_connections: 10");
  std::vector<std::unique_ptr<WsClient>> tabs;
  for (int i = 0; i < 10; ++i) {
    tabs.push_back(tab());
    ASSERT_FALSE(hello(*tabs.back()).is_null()) << i;
  }
  // The cap is full of live chats (none idle at the HTTP level): a new one is refused.
  auto extra = tab();
  EXPECT_TRUE(extra->closed() || !extra->connected() ||
              testing::wait_until([&] { return extra->closed(); }, std::chrono::seconds(3)))
      << "an eleventh connection got in while ten WebSockets were open";
  // When chats end, their places are free again.
  tabs.pop_back();
  tabs.pop_back();
  ASSERT_TRUE(testing::wait_until([&] {
    auto t = tab();
    return t->connected() && !hello(*t).is_null();
  }));
}

TEST_F(ChatAttack, TypingFloodsCostAFewEventsOnOrOff) {
  start("");
  auto t = tab();
  hello(*t);
  for (int i = 0; i < 200; ++i) t->send({{"type", "typing"}, {"on", i % 2 == 0}});
  t->send({{"type", "ping"}});
  ASSERT_FALSE(t->wait_for("pong").is_null());
  EXPECT_LE(typing_signals(), 2) << "typing on/off frames went to Kafka one by one";
}

TEST_F(ChatAttack, OneVisitorOnManyTabsSharesOneBudget) {
  start(", rate_limit_per_minute: 100, visitor_rate_limit_per_minute: 10");
  auto first = tab();
  json w = hello(*first);
  std::vector<std::unique_ptr<WsClient>> tabs;
  for (int i = 0; i < 5; ++i) {
    tabs.push_back(tab());
    hello(*tabs.back(), {{"token", w["token"]}});
  }
  for (int i = 0; i < 30; ++i)
    tabs[static_cast<size_t>(i % 5)]->send(
        {{"type", "message"}, {"id", fmt::format("m{}", i)}, {"text", "spam"}});
  ASSERT_TRUE(testing::wait_until([&] {
    size_t answered = 0;
    for (auto& t : tabs)
      for (const auto& f : t->frames())
        answered += f.value("type", "") == "ack" || f.value("type", "") == "error";
    return answered >= 30;
  }));
  EXPECT_EQ(host_->published().size(), 10u) << "the per-visitor budget is 10 a minute";
  // The refusal says to wait (retry), not that the message is wrong.
  for (auto& t : tabs)
    for (const auto& f : t->frames())
      if (f.value("type", "") == "error") {
        EXPECT_TRUE(f.value("retry", false)) << f.dump();
      }
}

TEST_F(ChatAttack, AMessageRefusedForGoodSaysSoAndIsNotRetryable) {
  start("");
  auto t = tab();
  hello(*t);
  t->send({{"type", "message"}, {"id", "long"}, {"text", std::string(300, 'x')}});
  json err = t->wait_for("error");
  ASSERT_FALSE(err.is_null());
  EXPECT_EQ(err["id"], "long");
  EXPECT_FALSE(err.value("retry", true));
  host_->set_result({sdk::PublishResult::Code::kUnavailable, "down", ""});
  const size_t from = t->frames().size();  // counted before sending: the answer may be quick
  t->send({{"type", "message"}, {"id", "later"}, {"text", "hello"}});
  err = t->wait_for("error", from);
  ASSERT_FALSE(err.is_null());
  EXPECT_TRUE(err.value("retry", false));
}

TEST(ChatRetention, SessionsPastTheirLifetimeGoWithTheirTranscripts) {
  testing::TempDir dir;
  std::string err;
  auto kv = state::Kv::open(dir.path(), err);
  ASSERT_TRUE(kv) << err;
  const int64_t now = 1'000'000'000'000;
  ASSERT_EQ(kv->put("s/old", json{{"visitor", "vold"}, {"last_ms", now - 90'000}}.dump()), "");
  ASSERT_EQ(kv->put("s/new", json{{"visitor", "vnew"}, {"last_ms", now - 10'000}}.dump()), "");
  ASSERT_EQ(kv->put("v/vold", "{}"), "");
  ASSERT_EQ(kv->put("t/vold/1", "{}"), "");
  ASSERT_EQ(kv->put("t/vnew/1", "{}"), "");
  EXPECT_EQ(prune_expired(*kv, 60'000, now), 1u);
  std::string v;
  EXPECT_FALSE(kv->get("s/old", &v));
  EXPECT_FALSE(kv->get("v/vold", &v));
  EXPECT_FALSE(kv->get("t/vold/1", &v));
  EXPECT_TRUE(kv->get("s/new", &v));
  EXPECT_TRUE(kv->get("t/vnew/1", &v));
}

}  // namespace
}  // namespace omniroute::connectors::chat
