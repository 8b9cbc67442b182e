#include "ops/endpoints.h"

#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "ops/health.h"
#include "ops/metrics.h"

namespace omniroute::ops {
namespace {

using connectors::http::Request;
using connectors::http::Respond;
using connectors::http::Response;
using connectors::http::Route;

bool get_or_head(const Request& r) {
  return r.method == "GET" || r.method == "HEAD";
}

Response health_answer(const HealthReport& h, const char* good) {
  nlohmann::json j = {{"status", h.ok ? good : "failing"}};
  if (!h.ok) j["failing"] = h.failing;
  Response r = Response::json(h.ok ? 200 : 503, j.dump());
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

// Routes are prefixes; these answer their exact path only.
Route route(std::string path, std::function<Response(const Request&)> answer) {
  Route r;
  r.prefix = path;
  r.max_body_bytes = 0;
  r.handler = [path, answer = std::move(answer)](Request req, Respond respond) {
    if (req.path != path) return respond(Response::error(404, "unknown path"));
    if (!get_or_head(req)) {
      Response e = Response::error(405, "use GET");
      e.headers.emplace_back("Allow", "GET, HEAD");
      return respond(std::move(e));
    }
    respond(answer(req));
  };
  return r;
}

}  // namespace

std::string serve(connectors::http::Server& server, const std::string& metrics_token) {
  std::string err = server.add_route(
      route("/livez", [](const Request&) { return health_answer(liveness(), "live"); }));
  if (!err.empty()) return {};  // served already (a front door shared within the process)
  err = server.add_route(
      route("/readyz", [](const Request&) { return health_answer(readiness(), "ready"); }));
  if (!err.empty()) return err;
  return server.add_route(route("/metrics", [metrics_token](const Request& req) {
    if (!metrics_token.empty() &&
        !crypto::constant_time_equal(req.header("authorization"), "Bearer " + metrics_token)) {
      metrics().auth_rejected.Add({{"surface", "metrics"}, {"reason", "bad_token"}}).Increment();
      Response e =
          Response::error(401, "metrics need Authorization: Bearer <operations.metrics_token>");
      e.headers.emplace_back("WWW-Authenticate", "Bearer");
      return e;
    }
    Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = scrape();
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  }));
}

std::shared_ptr<connectors::http::Server> listen(const std::string& hostport,
                                                 const std::string& metrics_token,
                                                 std::string& err) {
  // A front door already on that address (same options or not) serves them too.
  std::shared_ptr<connectors::http::Server> server;
  for (auto& s : connectors::http::Server::all())
    if (s->address() == hostport) server = s;
  if (!server) server = connectors::http::Server::listen(hostport, {}, err);
  if (!server) return nullptr;
  err = serve(*server, metrics_token);
  if (!err.empty()) return nullptr;
  return server;
}

}  // namespace omniroute::ops
