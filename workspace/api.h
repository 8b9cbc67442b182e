// The workspace's HTTP API on the shared front door (/agent/): sign-in, sign-out and who
// is signed in. Sessions ride in an HttpOnly, SameSite=Strict cookie (Secure behind TLS);
// every state-changing request also carries the session's CSRF token in X-CSRF-Token and,
// when the browser sends one, an Origin of this host.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/config.h"
#include "connectors/http/server.h"
#include "workspace/board.h"
#include "workspace/gateway.h"
#include "workspace/sign_in.h"

namespace omniroute::workspace {

inline constexpr std::string_view kPrefix = "/agent/";
inline constexpr std::string_view kCookie = "omniroute_session";

class Api {
 public:
  // `now` is the clock sessions are measured with (tests move it). With `gateway`, signed-in
  // tabs open /agent/ws and reach the router through it.
  Api(const config::AgentWorkspace& cfg, std::function<int64_t()> now,
      std::optional<GatewayOptions> gateway = std::nullopt);
  ~Api();

  // Joins the HTTP server on agent_workspace.listen and adds the /agent/ route.
  std::string start();
  void stop();
  // "http://127.0.0.1:8080/agent/" once started.
  std::string url() const;
  SignIn& sign_in() { return sign_in_; }
  // Supervisor-only endpoints under /agent/api/ that another part answers (the reports and
  // live board of analytics/api.h): given the path after /agent/, the request and the
  // session's workspace; nullopt = not one of its paths. Agents get 403 on api/live and
  // api/reports; without a handler they are 404.
  using SupervisorApi = std::function<std::optional<connectors::http::Response>(
      const std::string& path, const connectors::http::Request& req, const std::string& workspace)>;
  void set_supervisor_api(SupervisorApi api) { supervisor_api_ = std::move(api); }
  // The live board supervisors open at /agent/board (before start()).
  void set_board(std::shared_ptr<Board> board) { board_ = std::move(board); }
  Board* board() { return board_.get(); }
  Gateway* gateway() { return gateway_.get(); }

 private:
  void handle(connectors::http::Request req, connectors::http::Respond respond);
  connectors::http::Response login(const connectors::http::Request& req);
  // The request's session, or the 401 to answer.
  std::optional<Session> session_of(const connectors::http::Request& req, std::string* token);
  std::string cookie(const std::string& token, int64_t max_age_s) const;
  void upgrade(boost::beast::tcp_stream stream,
               boost::beast::http::request<boost::beast::http::string_body> req,
               connectors::http::ConnectionLease lease);

  config::AgentWorkspace cfg_;
  std::function<int64_t()> now_;
  SignIn sign_in_;
  std::shared_ptr<Gateway> gateway_;
  std::shared_ptr<connectors::http::Server> server_;
  SupervisorApi supervisor_api_;
  std::shared_ptr<Board> board_;
};

}  // namespace omniroute::workspace
