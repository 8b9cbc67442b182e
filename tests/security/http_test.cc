// The HTTP front door under hostile clients: idle and slow floods over the cap, one peer
// holding many connections, WebSockets counted, framing that proxies read differently,
// bytes that are not UTF-8, and a server stopped with requests in flight. During each
// attack signed legitimate requests keep succeeding.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/crypto.h"
#include "connectors/host/host.h"
#include "connectors/http/client.h"
#include "connectors/http/listener.h"
#include "connectors/http/server.h"
#include "connectors/webhook/callback_receiver.h"
#include "connectors/webhook/webhook.h"
#include "connectors/webhook/webhook_connector.h"
#include "tests/support/fake_host.h"
#include "tests/support/support.h"
#include "tests/support/ws_client.h"

namespace omniroute::testing {
namespace {

namespace http = connectors::http;
using M = std::map<std::string, std::string>;

// Sends `raw`, reads until the peer closes or `ms` pass.
std::string exchange(int port, const std::string& raw, int ms = 2000, bool* closed = nullptr) {
  int fd = connect_tcp(port);
  if (fd < 0) return {};
  (void)::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL);
  timeval tv{0, 100 * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  char buf[4096];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  bool eof = false;
  while (std::chrono::steady_clock::now() < deadline) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) {
      eof = true;
      break;
    }
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  }
  if (closed) *closed = eof;
  ::close(fd);
  return out;
}

class HttpAttack : public ::testing::Test {
 protected:
  void start(M extra = {}) {
    M s{{"listen", "127.0.0.1:0"},
        {"threads", "2"},
        {"max_body_bytes", "65536"},
        {"max_attachments", "2"},
        {"request_timeout_ms", "20000"},
        {"max_connections", "50"},
        {"max_connections_per_client", "30"},
        {"delivery_timeout_ms", "2000"}};
    for (auto& [k, v] : extra) s[k] = v;
    connector_ = std::make_unique<connectors::webhook::WebhookConnector>(sdk::Settings(s));
    ASSERT_EQ(connector_->start(host_), "");
    const std::string ep = connector_->endpoints().at(0);
    base_ = ep.substr(0, ep.find("/v1/"));
    port_ = std::stoi(base_.substr(base_.rfind(':') + 1));
  }
  void TearDown() override {
    if (connector_) connector_->stop();
  }
  // A signed customer message; the HTTP status.
  int legit(int i) {
    const std::string body = fmt::format(
        R"({{"external_message_id":"e{}","customer_handle":"c{}","text_body":"hi"}})", i, i);
    return connectors::webhook::post_signed(base_ + "/v1/webhook/acme/api/messages", "s3cret",
                                            body);
  }
  // Of `n` signed requests, how many got 202.
  int legit_ok(int n) {
    int ok = 0;
    for (int i = 0; i < n; ++i) ok += legit(i) == 202 ? 1 : 0;
    return ok;
  }

  FakeHost host_{std::vector<sdk::InboxInfo>{
      sdk::InboxInfo{"acme", "api", v1::CHANNEL_WEBHOOK, sdk::Settings(M{{"secret", "s3cret"}})}}};
  std::unique_ptr<connectors::webhook::WebhookConnector> connector_;
  std::string base_;
  int port_ = 0;
};

TEST_F(HttpAttack, AnIdleFloodOverTheCapNeverLocksOutSignedRequests) {
  start();
  // 200 connections that never send a byte, from four "clients" (the cap is 50).
  std::vector<int> fds;
  for (int i = 0; i < 200; ++i)
    if (int fd = connect_tcp(port_, fmt::format("127.0.0.{}", 2 + i % 4)); fd >= 0)
      fds.push_back(fd);
  const int ok = legit_ok(100);
  EXPECT_GE(ok, 99) << "signed requests locked out by idle connections";
  const auto st = connector_->server_stats();
  EXPECT_LE(st.connections, 51);
  EXPECT_GT(st.idle_closed + st.refused_at_cap + st.refused_per_client, 100u);
  fmt::print(
      "idle flood: {} of 100 signed requests accepted; {} idle closed, {} refused at the "
      "cap, {} refused per client\n",
      ok, st.idle_closed, st.refused_at_cap, st.refused_per_client);
  for (int fd : fds) ::close(fd);
}

TEST_F(HttpAttack, ASlowClientHoldsNoMoreThanItsShare) {
  start({{"max_connections_per_client", "5"}});
  std::vector<int> fds;
  int refused = 0;
  for (int i = 0; i < 20; ++i) {
    int fd = connect_tcp(port_, "127.0.0.9");
    // Slowloris: half a request line, never finished.
    (void)::send(fd, "POST /v1/webhook/acme/api/messages HTTP/1.1\r\nHo", 48, MSG_NOSIGNAL);
    fds.push_back(fd);
  }
  for (int fd : fds) refused += closed_within(fd, 200) ? 1 : 0;
  EXPECT_GE(refused, 15) << "one client held more than max_connections_per_client";
  EXPECT_GE(legit_ok(20), 20);
  for (int fd : fds) ::close(fd);
}

TEST_F(HttpAttack, FramingProxiesReadDifferentlyIsRefusedAndClosed) {
  start();
  bool closed = false;
  std::string r = exchange(port_,
                           "POST /v1/webhook/acme/api/messages HTTP/1.1\r\nHost: x\r\n"
                           "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
                           2000, &closed);
  EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0u) << r;
  EXPECT_TRUE(closed);
  r = exchange(port_,
               "POST /v1/webhook/acme/api/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
               "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
               2000, &closed);
  EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0u) << r;
  r = exchange(port_, "GET /v1/webhook/acme/api/messages HTTP/1.1\r\n\r\n", 2000, &closed);
  EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0u) << r;
  EXPECT_NE(r.find("without Host"), std::string::npos) << r;
  EXPECT_TRUE(host_.published().empty());
}

TEST_F(HttpAttack, BytesThatAreNotUtf8AreTheClientsMistake) {
  start();
  const std::string body =
      "{\"external_message_id\":\"e1\",\"customer_handle\":\"c\","
      "\"text_body\":\"caf\xe9 \xff\xfe\"}";
  http::ClientRequest req;
  req.url = base_ + "/v1/webhook/acme/api/messages";
  req.headers = {"Content-Type: application/json",
                 "X-Omniroute-Signature: " + connectors::webhook::sign("s3cret", body)};
  req.body = body;
  const auto res = http::send(req);
  EXPECT_EQ(res.status, 400) << res.body;
  EXPECT_LT(res.status, 500);
  EXPECT_TRUE(host_.published().empty());
}

TEST_F(HttpAttack, AnEventKafkaCannotHoldIs413NotRetryLater) {
  start();
  host_.set_result({sdk::PublishResult::Code::kTooLarge, "the event is 2000000 bytes", {}});
  EXPECT_EQ(legit(1), 413);
  host_.set_result({sdk::PublishResult::Code::kUnavailable, "broker down", {}});
  EXPECT_EQ(legit(2), 503);
}

TEST(HttpServerStop, RequestsInFlightLeaveNothingBehind) {
  // A handler that keeps its answer (a publish that never completes, then completes late).
  std::string err;
  auto server = http::Server::listen("127.0.0.1:0", {}, err);
  ASSERT_TRUE(server) << err;
  std::mutex mu;
  std::vector<http::Respond> held;
  http::Route route;
  route.prefix = "/slow/";
  route.handler = [&](http::Request, http::Respond respond) {
    std::lock_guard lock(mu);
    held.push_back(std::move(respond));
  };
  ASSERT_EQ(server->add_route(route), "");
  const int port = std::stoi(server->address().substr(server->address().rfind(':') + 1));
  std::vector<std::thread> clients;
  for (int i = 0; i < 8; ++i)
    clients.emplace_back(
        [port] { (void)exchange(port, "GET /slow/x HTTP/1.1\r\nHost: x\r\n\r\n", 1500); });
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard lock(mu);
    return held.size() == 8;
  }));
  server->remove_route("/slow/");
  server.reset();  // stops with eight requests unanswered
  {
    std::lock_guard lock(mu);
    for (auto& r : held) r(http::Response::error(503, "late"));  // answers nobody
    held.clear();  // the last references: LeakSanitizer checks that nothing stays behind
  }
  for (auto& t : clients) t.join();
}

TEST(HttpListeners, ConnectorsOnOneAddressMustDeclareTheSameListener) {
  std::vector<http::NamedSettings> s{
      {"webhook", sdk::Settings(M{{"listen", "0.0.0.0:8080"}, {"max_connections", "10000"}})},
      {"chat", sdk::Settings(M{{"listen", "0.0.0.0:8080"}, {"max_connections", "500"}})},
      {"sms", sdk::Settings(M{{"listen", "0.0.0.0:9090"}, {"max_connections", "500"}})}};
  auto conflicts = http::listener_conflicts(s);
  ASSERT_EQ(conflicts.size(), 1u);
  EXPECT_NE(conflicts[0].find("connectors.chat.max_connections (500) differs from "
                              "connectors.webhook.max_connections (10000) on 0.0.0.0:8080"),
            std::string::npos)
      << conflicts[0];
  // And two servers asked for one address with different settings: the second is refused.
  std::string err;
  const int port = free_port();
  http::Server::Options a, b;
  b.max_connections = 7;
  auto first = http::Server::listen(fmt::format("127.0.0.1:{}", port), a, err);
  ASSERT_TRUE(first) << err;
  EXPECT_FALSE(http::Server::listen(fmt::format("127.0.0.1:{}", port), b, err));
  EXPECT_NE(err.find("other listener settings"), std::string::npos) << err;
}

}  // namespace
}  // namespace omniroute::testing
