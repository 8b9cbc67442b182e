// The workspace gateway end to end: a person signs in, opens tabs over WebSocket, and works
// a webhook conversation through the router; every tab sees the same numbered events, and
// a tab that reconnects gets exactly what it missed.
#include <gtest/gtest.h>
#include <zmq.h>

#include <csignal>
#include <fstream>

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "common/child_process.h"
#include "tests/integration/harness.h"
#include "tests/support/ws_client.h"
#include "workspace/passwords.h"

namespace omniroute::testing {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using json = nlohmann::json;

// Signs in as ana on the workspace at `port`; the session cookie ("name=value").
std::string sign_in_cookie(int port) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  stream.connect(resolver.resolve("127.0.0.1", std::to_string(port)));
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/agent/api/login", 11};
  req.set(bhttp::field::host, fmt::format("127.0.0.1:{}", port));
  req.set(bhttp::field::content_type, "application/json");
  req.body() = R"({"login":"ana","password":"correct horse"})";
  req.prepare_payload();
  bhttp::write(stream, req);
  beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(stream, buf, res);
  EXPECT_EQ(res.result_int(), 200u) << res.body();
  const std::string c(res[bhttp::field::set_cookie]);
  return c.substr(0, c.find(';'));
}

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    receiver_ = std::make_unique<connectors::webhook::CallbackReceiver>(params_.secret);
    params_.state_dir = dir_.path() + "/state";
    params_.callback_url = receiver_->url();
    const std::string yaml =
        config_yaml(params_) + fmt::format(R"(agent_workspace:
  listen: "127.0.0.1:0"
  accounts:
    - {{login: ana, workspace: acme, agent: alice, password_hash: "{}"}}
)",
                                           workspace::hash_password("correct horse").value());
    running_ = start_stack(yaml, {"webhook"}, false);
    ASSERT_TRUE(running_.stack);
    ASSERT_EQ(running_.stack->start_workspace(), "");
    const std::string url = running_.stack->workspace()->url();  // http://127.0.0.1:P/agent/
    port_ = std::stoi(url.substr(url.rfind(':') + 1));
    const std::string ep = running_.stack->connectors().at(0)->endpoints().at(0);
    webhook_ = ep.substr(0, ep.find("/v1/")) + "/v1/webhook/acme/api/messages";
    cookie_ = sign_in();
  }
  void TearDown() override {
    if (running_.stack) running_.stack->stop();
  }

  std::string sign_in() { return sign_in_cookie(port_); }
  std::unique_ptr<WsClient> tab(uint64_t since = 0, const std::string& cookie = "use mine",
                                const std::string& origin = "", const std::string& epoch = "") {
    return std::make_unique<WsClient>(
        "127.0.0.1", port_,
        since ? fmt::format("/agent/ws?since={}&epoch={}", since, epoch) : "/agent/ws",
        origin.empty() ? fmt::format("http://127.0.0.1:{}", port_) : origin,
        cookie == "use mine" ? cookie_ : cookie);
  }
  // The HTTP status a WebSocket upgrade to /agent/ws gets.
  int upgrade_status(const std::string& cookie, const std::string& origin) {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.connect(resolver.resolve("127.0.0.1", std::to_string(port_)));
    bhttp::request<bhttp::string_body> req{bhttp::verb::get, "/agent/ws", 11};
    req.set(bhttp::field::host, fmt::format("127.0.0.1:{}", port_));
    req.set(bhttp::field::upgrade, "websocket");
    req.set(bhttp::field::connection, "Upgrade");
    req.set(bhttp::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
    req.set(bhttp::field::sec_websocket_version, "13");
    req.set(bhttp::field::origin, origin);
    if (!cookie.empty()) req.set(bhttp::field::cookie, cookie);
    bhttp::write(stream, req);
    beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    beast::error_code ec;
    bhttp::read(stream, buf, res, ec);
    return static_cast<int>(res.result_int());
  }
  int post(const std::string& id, const std::string& text) {
    v1::InboundMessage m;
    m.set_external_message_id(id);
    m.set_customer_handle("cust-1");
    m.set_text_body(text);
    std::string body;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &body).ok());
    return connectors::webhook::post_signed(webhook_, params_.secret, body);
  }
  static uint64_t last_seq(const WsClient& t) {
    uint64_t s = 0;
    for (const auto& f : t.frames())
      if (f.contains("seq")) s = std::max<uint64_t>(s, f["seq"].get<uint64_t>());
    return s;
  }
  static std::vector<uint64_t> seqs(const WsClient& t, const std::string& type) {
    std::vector<uint64_t> out;
    for (const auto& f : t.frames())
      if (f.value("type", "") == type) out.push_back(f["seq"]);
    return out;
  }

  TempDir dir_;
  ConfigParams params_;
  std::unique_ptr<connectors::webhook::CallbackReceiver> receiver_;
  RunningStack running_;
  int port_ = 0;
  std::string webhook_, cookie_;
};

TEST_F(GatewayTest, TabsShareNumberedEventsAndAReconnectGetsExactlyWhatItMissed) {
  auto one = tab();
  ASSERT_TRUE(one->connected()) << one->error();
  ASSERT_FALSE(one->wait_for("state").is_null()) << "a new tab starts from the whole state";
  ASSERT_FALSE(one->wait_for("welcome").is_null());
  one->send({{"cmd", "presence"}, {"presence", "available"}});
  ASSERT_FALSE(one->wait_for("presence").is_null());
  ASSERT_EQ(post("m1", "hello from the customer"), 202);
  json offer = one->wait_for("offer");
  ASSERT_FALSE(offer.is_null());
  auto two = tab();
  json state = two->wait_for("state");
  ASSERT_FALSE(state.is_null());
  const std::string epoch = state.value("epoch", "");
  ASSERT_FALSE(epoch.empty()) << "the state names its stream";
  ASSERT_EQ(state["offers"].size(), 1u) << "a second tab sees the pending offer";
  one->send({{"cmd", "accept"}, {"offer_id", offer["offer"]["offer_id"]}});
  json a1 = one->wait_for("assignment"), a2 = two->wait_for("assignment");
  ASSERT_FALSE(a1.is_null());
  ASSERT_FALSE(a2.is_null());
  EXPECT_EQ(a1["seq"], a2["seq"]) << "one event, one number, every tab";
  const std::string conv = a1["assignment"]["conversation"]["conversation_id"];
  one->send({{"cmd", "reply"}, {"conversation_id", conv}, {"text", "Hi, how can I help?"}});
  json ack = two->wait_for("reply_ack");
  ASSERT_FALSE(ack.is_null());
  EXPECT_EQ(ack["message"]["text_body"], "Hi, how can I help?")
      << "every tab sees the reply, not only the one that sent it";
  ASSERT_TRUE(wait_until([&] { return receiver_->received_count() >= 1; }));
  EXPECT_EQ(receiver_->received()[0].text_body(), "Hi, how can I help?");

  // Tab two drops; the customer writes twice; it comes back with the last number it saw.
  const uint64_t seen = last_seq(*two);
  two.reset();
  ASSERT_EQ(post("m2", "second"), 202);
  ASSERT_EQ(post("m3", "third"), 202);
  ASSERT_TRUE(wait_until([&] { return seqs(*one, "customer_message").size() >= 2; }));
  auto stranger = tab(seen, "use mine", "", "another-stream");
  ASSERT_FALSE(stranger->wait_for("state").is_null())
      << "numbers of another stream (an ended session) get the whole state";
  auto back = tab(seen, "use mine", "", epoch);
  ASSERT_TRUE(wait_until([&] { return seqs(*back, "customer_message").size() >= 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(seqs(*back, "customer_message"), seqs(*one, "customer_message"))
      << "the same events, once each";
  EXPECT_TRUE(seqs(*back, "state").empty()) << "no full resync when the log has it";
  for (const auto& f : back->frames()) EXPECT_GT(f["seq"].get<uint64_t>(), seen);

  // Someone else's conversation: the router refuses, the tab is told.
  one->send({{"cmd", "resolve"}, {"conversation_id", "C999"}});
  json err = one->wait_for("error");
  ASSERT_FALSE(err.is_null());
  EXPECT_EQ(err["error"]["code"], "CODE_NOT_FOUND");
  one->send({{"cmd", "resolve"}, {"conversation_id", conv}});
  ASSERT_FALSE(back->wait_for("resolved").is_null());
}

TEST_F(GatewayTest, CommandsOfTheWrongShapeAreAnsweredAndTheGatewayKeepsServing) {
  auto t = tab();
  ASSERT_TRUE(t->connected()) << t->error();
  ASSERT_FALSE(t->wait_for("welcome").is_null());
  for (const char* bad :
       {R"({"cmd":"snooze","conversation_id":"C1","until_customer":"yes","until_ms":1.5e300})",
        R"({"cmd":"typing","conversation_id":"C1","on":"yes"})",
        R"({"cmd":"labels","conversation_id":"C1","labels":"not a list"})",
        R"({"cmd":"canned_save","response":{"texts":5}})", R"({"cmd":7})",
        R"({"cmd":"reply","conversation_id":"C1","template":{"name":1,"parameters":{}}})",
        R"({"cmd":"force_assign","conversation_id":"C1","agent_id":"alice"})"})
    t->send(json::parse(bad));
  t->send({{"cmd", "presence"}, {"presence", "available"}});
  EXPECT_FALSE(t->wait_for("presence").is_null()) << "still serving this tab";
  size_t errors = 0;
  for (const auto& f : t->frames()) errors += f.value("type", "") == "error";
  EXPECT_GE(errors, 3u) << "the malformed ones are answered";
}

TEST_F(GatewayTest, TabsWithoutASessionOrFromAnotherSiteAreRefused) {
  const std::string mine = fmt::format("http://127.0.0.1:{}", port_);
  EXPECT_EQ(upgrade_status("", mine), 401);
  EXPECT_EQ(upgrade_status("omniroute_session=deadbeef", mine), 401);
  EXPECT_EQ(upgrade_status(cookie_, "https://evil.example"), 403) << "cross-site WebSocket";
  EXPECT_EQ(upgrade_status(cookie_, mine), 101);
  EXPECT_FALSE(tab(0, "")->connected());
}

// `omniroute workspace`: the workspace in its own process, reaching a router in another
// with the gateway's own CURVE key (listed in the router's router.gateways).
TEST(StandaloneWorkspace, ServesSignInAndReachesTheRouterWithItsOwnKey) {
  TempDir dir;
  char pub[41], sec[41];
  ASSERT_EQ(zmq_curve_keypair(pub, sec), 0);
  ConfigParams params;
  params.state_dir = dir.path() + "/state";
  params.extra_router_yaml =
      fmt::format("  gateways: [{{name: web, public_key: \"{}\", workspaces: [acme]}}]\n", pub);
  const int port = free_port();
  const std::string base =
      config_yaml(params) + fmt::format(R"(agent_workspace:
  listen: "127.0.0.1:{}"
  gateway_secret_key: "{}"
  router_public_key: "{}"
  accounts:
    - {{login: ana, workspace: acme, agent: alice, password_hash: "{}"}}
)",
                                        port, sec, test_router_keys().public_key,
                                        workspace::hash_password("correct horse").value());
  auto running = start_stack(base, {}, false);  // the router only
  ASSERT_TRUE(running.stack);
  const std::string path = dir.file("workspace.yaml");
  std::ofstream(path) << base
                      << fmt::format("  router_endpoint: \"{}\"\n",
                                     running.stack->router()->agent_endpoint());
  ChildProcess ws(omniroute_binary(), {"workspace", "-c", path});
  ws.start();
  ASSERT_TRUE(wait_until([&] { return port_open(port); }, std::chrono::seconds(20)));

  const std::string cookie = sign_in_cookie(port);
  ASSERT_FALSE(cookie.empty());
  WsClient tab("127.0.0.1", port, "/agent/ws", fmt::format("http://127.0.0.1:{}", port), cookie);
  ASSERT_TRUE(tab.connected()) << tab.error();
  EXPECT_FALSE(tab.wait_for("welcome").is_null())
      << "the gateway's session reached the router (CURVE with its own key)";
  EXPECT_EQ(ws.stop(SIGTERM), 0) << "a clean stop";
}

}  // namespace
}  // namespace omniroute::testing
