// The workspace's sign-in API over real HTTP on the shared front door: cookies with the
// right flags, CSRF on every state change, cross-site requests and wrong passwords refused.
#include "workspace/api.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "workspace/passwords.h"

namespace omniroute::workspace {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using json = nlohmann::json;

struct Answer {
  int status = 0;
  std::string body, set_cookie, retry_after;
};

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_.enabled = true;
    cfg_.listen = "127.0.0.1:0";
    cfg_.login_max_failures = 2;
    cfg_.session_idle_ms = 60000;
    cfg_.accounts.push_back(
        {"alice", "acme", "alice", hash_password("correct horse").value(), config::Role::kAgent});
    api_ = std::make_unique<Api>(cfg_, [this] { return now_; });
    ASSERT_EQ(api_->start(), "");
    const std::string url = api_->url();  // http://127.0.0.1:PORT/agent/
    const auto colon = url.rfind(':');
    port_ = url.substr(colon + 1, url.find('/', colon) - colon - 1);
  }

  Answer call(bhttp::verb method, const std::string& path, const std::string& body = {},
              std::vector<std::pair<std::string, std::string>> headers = {}) {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.connect(resolver.resolve("127.0.0.1", port_));
    bhttp::request<bhttp::string_body> req{method, "/agent/" + path, 11};
    req.set(bhttp::field::host, "127.0.0.1:" + port_);
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    bhttp::write(stream, req);
    beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buf, res);
    return {static_cast<int>(res.result_int()), res.body(),
            std::string(res[bhttp::field::set_cookie]),
            std::string(res[bhttp::field::retry_after])};
  }
  Answer login(const std::string& password) {
    return call(bhttp::verb::post, "api/login",
                json{{"login", "alice"}, {"password", password}}.dump());
  }
  static std::string token_of(const Answer& a) {
    const auto eq = a.set_cookie.find('='), semi = a.set_cookie.find(';');
    return a.set_cookie.substr(eq + 1, semi - eq - 1);
  }

  config::AgentWorkspace cfg_;
  int64_t now_ = 1000;
  std::unique_ptr<Api> api_;
  std::string port_;
};

TEST_F(ApiTest, SignInSetsAStrictHttpOnlyCookieAndMeNeedsIt) {
  Answer ok = login("correct horse");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_NE(ok.set_cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(ok.set_cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_NE(ok.set_cookie.find("Path=/agent/"), std::string::npos);
  EXPECT_EQ(ok.set_cookie.find("Secure"), std::string::npos) << "not behind TLS here";
  const json me = json::parse(ok.body);
  EXPECT_EQ(me["agent"], "alice");
  EXPECT_EQ(me["role"], "agent");
  EXPECT_EQ(me["csrf"].get<std::string>().size(), 64u);
  EXPECT_EQ(ok.body.find(token_of(ok)), std::string::npos) << "the token is only in the cookie";

  EXPECT_EQ(call(bhttp::verb::get, "api/me").status, 401);
  Answer again =
      call(bhttp::verb::get, "api/me", {}, {{"Cookie", "omniroute_session=" + token_of(ok)}});
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(json::parse(again.body)["login"], "alice");
}

TEST_F(ApiTest, SignOutNeedsTheCsrfTokenAndEndsTheSession) {
  Answer ok = login("correct horse");
  ASSERT_EQ(ok.status, 200);
  const std::string cookie = "omniroute_session=" + token_of(ok);
  const std::string csrf = json::parse(ok.body)["csrf"];
  EXPECT_EQ(call(bhttp::verb::post, "api/logout", "{}", {{"Cookie", cookie}}).status, 403);
  EXPECT_EQ(call(bhttp::verb::post, "api/logout", "{}",
                 {{"Cookie", cookie}, {"X-CSRF-Token", csrf}, {"Origin", "https://evil.example"}})
                .status,
            403)
      << "a page of another site, even with the token";
  Answer out =
      call(bhttp::verb::post, "api/logout", "{}", {{"Cookie", cookie}, {"X-CSRF-Token", csrf}});
  EXPECT_EQ(out.status, 200);
  EXPECT_NE(out.set_cookie.find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(call(bhttp::verb::get, "api/me", {}, {{"Cookie", cookie}}).status, 401);
}

TEST_F(ApiTest, WrongPasswordsGet401ThenALockOutWithRetryAfter) {
  EXPECT_EQ(login("nope").status, 401);
  EXPECT_EQ(login("nope").status, 401);
  Answer locked = login("correct horse");
  EXPECT_EQ(locked.status, 429);
  EXPECT_FALSE(locked.retry_after.empty());
  EXPECT_EQ(call(bhttp::verb::post, "api/login", "login=alice&password=x",
                 {{"Content-Type", "application/x-www-form-urlencoded"}})
                .status,
            415)
      << "a plain cross-site form cannot even try";
}

TEST_F(ApiTest, ExpiredSessionsAreSignedOut) {
  Answer ok = login("correct horse");
  ASSERT_EQ(ok.status, 200);
  now_ += 61000;
  EXPECT_EQ(call(bhttp::verb::get, "api/me", {}, {{"Cookie", "omniroute_session=" + token_of(ok)}})
                .status,
            401);
}

}  // namespace
}  // namespace omniroute::workspace
