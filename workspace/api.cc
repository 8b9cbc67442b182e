#include "workspace/api.h"

#include "ops/metrics.h"

#include <fmt/format.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "workspace/assets.h"

namespace omniroute::workspace {

namespace http = connectors::http;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using json = nlohmann::json;

namespace {

http::Response json_response(int status, const json& body) {
  http::Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

std::string cookie_from(const std::string& all) {
  const std::string want = std::string(kCookie) + "=";
  size_t at = 0;
  while (at < all.size()) {
    while (at < all.size() && (all[at] == ' ' || all[at] == ';')) ++at;
    const size_t end = all.find(';', at);
    const std::string part =
        all.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (part.rfind(want, 0) == 0) return part.substr(want.size());
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return {};
}

std::string cookie_value(const http::Request& req) {
  return cookie_from(req.header("cookie"));
}

// Only pages of this host may act for the session (browsers always send Origin on a
// WebSocket and on cross-site requests).
bool same_origin(const std::string& origin, const std::string& host) {
  return origin.empty() || origin == "http://" + host || origin == "https://" + host;
}

json who(const Session& s) {
  return {{"login", s.login},
          {"workspace", s.workspace},
          {"agent", s.agent},
          {"role", s.role == config::Role::kSupervisor ? "supervisor" : "agent"},
          {"csrf", s.csrf}};
}

}  // namespace

Api::Api(const config::AgentWorkspace& cfg, std::function<int64_t()> now,
         std::optional<GatewayOptions> gateway)
    : cfg_(cfg), now_(std::move(now)), sign_in_(cfg_) {
  if (gateway) gateway_ = std::make_shared<Gateway>(std::move(*gateway));
}

Api::~Api() {
  stop();
}

std::string Api::start() {
  http::Server::Options o;
  std::string err;
  server_ = http::Server::listen(cfg_.listen, o, err);
  if (!server_) return "agent_workspace: " + err;
  http::Route route;
  route.prefix = std::string(kPrefix);
  route.max_body_bytes = 8192;
  route.handler = [this](http::Request req, http::Respond respond) {
    handle(std::move(req), std::move(respond));
  };
  if (gateway_ || board_) {
    route.upgrade = [this](beast::tcp_stream stream, bhttp::request<bhttp::string_body> req,
                           http::ConnectionLease lease) {
      upgrade(std::move(stream), std::move(req), std::move(lease));
    };
  }
  if (err = server_->add_route(std::move(route)); !err.empty()) {
    server_.reset();
    return "agent_workspace: " + err;
  }
  log::get("workspace")->info("agent workspace on {}", url());
  return {};
}

void Api::stop() {
  if (gateway_) gateway_->close_all();
  if (board_) board_->stop();
  if (!server_) return;
  server_->remove_route(std::string(kPrefix));
  server_.reset();
}

void Api::upgrade(beast::tcp_stream stream, bhttp::request<bhttp::string_body> req,
                  http::ConnectionLease lease) {
  const std::string target(req.target());
  const std::string path = target.substr(0, target.find('?'));
  std::string token = cookie_from(std::string(req[bhttp::field::cookie]));
  auto session = sign_in_.find(token, now_());
  int refuse = 0;
  std::string why;
  const bool board = path == std::string(kPrefix) + "board";
  const bool tab = path == std::string(kPrefix) + "ws" && gateway_;
  if (!tab && !(board && board_)) {
    refuse = 404;
    why = "unknown path";
  } else if (!same_origin(std::string(req[bhttp::field::origin]),
                          std::string(req[bhttp::field::host]))) {
    refuse = 403;
    why = "cross-site WebSocket refused";
  } else if (!session) {
    refuse = 401;
    why = "not signed in";
  } else if (board && session->role != config::Role::kSupervisor) {
    refuse = 403;
    why = "supervisors only";
  }
  if (refuse) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(refuse), req.version());
    res->set(bhttp::field::content_type, "application/json");
    res->body() = json{{"error", why}}.dump();
    res->keep_alive(false);
    res->prepare_payload();
    auto s = std::make_shared<beast::tcp_stream>(std::move(stream));
    bhttp::async_write(*s, *res, [s, res, lease](beast::error_code, size_t) {
      beast::error_code ec;
      s->socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    });
    return;
  }
  if (board)
    return board_->attach(std::move(stream), std::move(req), std::move(lease), session->workspace);
  uint64_t since = 0;
  if (auto q = target.find("since="); q != std::string::npos) {
    try {
      since = std::stoull(target.substr(q + 6, 20));
    } catch (...) {
      since = 0;  // a full state instead
    }
  }
  std::string epoch;
  if (auto q = target.find("epoch="); q != std::string::npos)
    epoch = target.substr(q + 6, 36);  // a uuid; anything else simply never matches
  gateway_->upgrade(std::move(stream), std::move(req), std::move(lease), *session, since, epoch);
}

std::string Api::url() const {
  return server_ ? fmt::format("http://{}{}", server_->address(), kPrefix) : std::string();
}

std::string Api::cookie(const std::string& token, int64_t max_age_s) const {
  return fmt::format("{}={}; Path={}; Max-Age={}; HttpOnly; SameSite=Strict{}", kCookie, token,
                     kPrefix, max_age_s, cfg_.secure_cookies ? "; Secure" : "");
}

std::optional<Session> Api::session_of(const http::Request& req, std::string* token) {
  *token = cookie_value(req);
  return sign_in_.find(*token, now_());
}

void Api::handle(http::Request req, http::Respond respond) {
  const std::string path = req.path.substr(kPrefix.size());
  const bool changes = req.method != "GET" && req.method != "HEAD";
  // A browser says where a request comes from: only pages of this host may change state.
  if (changes && !same_origin(req.header("origin"), req.header("host")))
    return respond(json_response(403, {{"error", "cross-site request refused"}}));
  if (path == "api/login") {
    if (req.method != "POST") return respond(json_response(405, {{"error", "use POST"}}));
    return respond(login(req));
  }
  if (!changes) {  // the page and its assets need no session: the page signs in
    if (auto asset = web_asset(path)) return respond(std::move(*asset));
  }
  std::string token;
  const auto session = session_of(req, &token);
  if (!session) return respond(json_response(401, {{"error", "not signed in"}}));
  if (changes && !SignIn::csrf_ok(*session, req.header("x-csrf-token")))
    return respond(json_response(403, {{"error", "missing or wrong X-CSRF-Token"}}));
  if (path == "api/me") {
    if (req.method != "GET") return respond(json_response(405, {{"error", "use GET"}}));
    return respond(json_response(200, who(*session)));
  }
  if (path == "api/logout") {
    if (req.method != "POST") return respond(json_response(405, {{"error", "use POST"}}));
    sign_in_.close(token);
    log::get("workspace")->info("{} signed out", session->login);
    http::Response r = json_response(200, {{"status", "signed out"}});
    r.headers.emplace_back("Set-Cookie", cookie("", 0));
    return respond(std::move(r));
  }
  if (path == "api/live" || path == "api/reports" || path == "api/conversation") {
    if (session->role != config::Role::kSupervisor)
      return respond(json_response(403, {{"error", "supervisors only"}}));
    if (supervisor_api_) {
      if (auto r = supervisor_api_(path, req, session->workspace)) return respond(std::move(*r));
    }
    return respond(json_response(404, {{"error", "analytics is not running"}}));
  }
  respond(json_response(404, {{"error", "unknown path"}}));
}

http::Response Api::login(const http::Request& req) {
  if (req.header("content-type").rfind("application/json", 0) != 0)
    return json_response(415, {{"error", "send JSON: {\"login\": ..., \"password\": ...}"}});
  const json body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("login") || !body["login"].is_string() ||
      !body.contains("password") || !body["password"].is_string())
    return json_response(400, {{"error", "needs login and password"}});
  const std::string login = body["login"];
  const std::string password = body["password"];
  if (login.size() > 128 || password.size() > 1024)
    return json_response(400, {{"error", "login or password too long"}});
  auto result = sign_in_.open(login, password, req.remote, now_());
  if (auto* refusal = std::get_if<Refusal>(&result)) {
    static constexpr const char* kReasons[] = {"bad_credentials", "locked_out", "rate_limited",
                                               "too_many_sessions"};
    ops::metrics()
        .auth_rejected
        .Add({{"surface", "sign_in"}, {"reason", kReasons[static_cast<int>(refusal->why)]}})
        .Increment();
    auto log = log::get("workspace");
    switch (refusal->why) {
      case Refused::kBadCredentials:
        log->warn("sign-in refused for '{}' from {}: wrong login or password", login.substr(0, 64),
                  req.remote);
        return json_response(401, {{"error", "wrong login or password"}});
      case Refused::kLockedOut:
      case Refused::kRateLimited: {
        const int64_t s = (refusal->retry_after_ms + 999) / 1000;
        log->warn("sign-in refused for '{}' from {}: {}", login.substr(0, 64), req.remote,
                  refusal->why == Refused::kLockedOut ? "locked out" : "too many attempts");
        http::Response r = json_response(
            429, {{"error", refusal->why == Refused::kLockedOut
                                ? fmt::format("too many wrong passwords; try again in {} s", s)
                                : fmt::format("too many sign-in attempts; try again in {} s", s)}});
        r.headers.emplace_back("Retry-After", std::to_string(s));
        return r;
      }
      case Refused::kTooManySessions:
        return json_response(
            409, {{"error", "too many open sessions for this account; sign out elsewhere"}});
    }
  }
  auto& opened = std::get<SignIn::Opened>(result);
  log::get("workspace")
      ->info("{} signed in as {}/{}", opened.session.login, opened.session.workspace,
             opened.session.agent);
  http::Response r = json_response(200, who(opened.session));
  r.headers.emplace_back("Set-Cookie", cookie(opened.token, cfg_.session_max_ms / 1000));
  return r;
}

}  // namespace omniroute::workspace
