#include "connectors/http/connector.h"

#include <fmt/format.h>

#include "connectors/http/listener.h"

namespace omniroute::connectors::http {

Response publish_failure(const sdk::PublishResult& r) {
  switch (r.code) {
    case sdk::PublishResult::Code::kInvalid:
      return Response::error(400, r.detail);
    case sdk::PublishResult::Code::kTooLarge:
      return Response::error(413, r.detail);
    case sdk::PublishResult::Code::kOk:
    case sdk::PublishResult::Code::kUnavailable:
      break;
  }
  return Response::error(503, "event store unavailable, retry later");  // server adds Retry-After
}

std::string HttpConnector::start(sdk::Host& host) {
  host_ = &host;
  if (std::string err = prepare(); !err.empty()) return name_ + ": " + err;
  std::string err;
  server_ = listen(settings_, err);
  if (!server_) return name_ + ": " + err;
  for (auto& r : routes()) {
    const std::string prefix = r.prefix;
    if (err = server_->add_route(std::move(r)); !err.empty()) {
      stop();
      return name_ + ": " + err;
    }
    prefixes_.push_back(prefix);
  }
  for (const auto& e : endpoints()) host.logger()->info("listening on {}", e);
  return {};
}

void HttpConnector::stop() {
  stopping();
  if (!server_) return;
  for (const auto& p : prefixes_) server_->remove_route(p);
  prefixes_.clear();
  routes_removed();
  server_.reset();
}

std::vector<std::string> HttpConnector::endpoints() const {
  std::vector<std::string> out;
  if (!server_) return out;
  for (const auto& p : paths()) out.push_back(fmt::format("http://{}{}", server_->address(), p));
  return out;
}

void HttpConnector::publish_and_answer(v1::Envelope env, Respond respond,
                                       std::function<Response(const sdk::PublishResult&)> ok) {
  host_->publish(std::move(env),
                 [respond = std::move(respond), ok = std::move(ok)](const sdk::PublishResult& r) {
                   respond(r.ok() ? ok(r) : publish_failure(r));
                 });
}

}  // namespace omniroute::connectors::http
