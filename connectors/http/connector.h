// The base of every connector that receives HTTP (webhook, SMS, Meta, Telegram, chat).
// Like fluent-bit's HTTP inputs, a connector only declares that it is an HTTP server: the
// listener settings come from listener_fields() (the host checks that connectors sharing
// an address agree), and start/stop, the shared server, route registration, endpoints and
// the publish-result -> HTTP answer mapping live here. A connector adds its routes, its
// signature check (signature.h) and its channel's parsing.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/http/server.h"
#include "connectors/sdk/connector.h"

namespace omniroute::connectors::http {

// The answer to a request whose event Kafka did not take: 503 with Retry-After when it may
// succeed later (no internals said), 400 or 413 (the sender's mistake) with the reason.
Response publish_failure(const sdk::PublishResult& r);

class HttpConnector : public sdk::Connector {
 public:
  // Opens what the connector needs (prepare), joins the shared server on `listen` and
  // adds its routes. "" or why not (prefixed with the connector's name).
  std::string start(sdk::Host& host) final;
  // Removes its routes (waiting for running handlers) and leaves the server. Derived
  // classes call it from their destructor.
  void stop() final;
  // "http://<address><path>" for every path().
  std::vector<std::string> endpoints() const final;
  // The shared server's connection counters (tests, logs).
  Server::Stats server_stats() const { return server_ ? server_->stats() : Server::Stats{}; }

 protected:
  HttpConnector(std::string name, sdk::Settings settings)
      : name_(std::move(name)), settings_(std::move(settings)) {}

  // Before listening: open state, check the inboxes. "" or why not.
  virtual std::string prepare() { return {}; }
  // The routes it serves (prefix, body limit, handler, optional WebSocket upgrade).
  virtual std::vector<Route> routes() = 0;
  // What `endpoints` shows, after "http://<address>": "/v1/sms/{workspace}/{inbox}/messages".
  virtual std::vector<std::string> paths() const = 0;
  // Stop hooks: before the routes go, and after (still on the server: WebSocket sessions
  // live on its threads and must end before it does).
  virtual void stopping() {}
  virtual void routes_removed() {}

  // Publishes `env` and answers `respond` once Kafka decided: `ok(result)` when durable,
  // else publish_failure (a connector answers its channel only after durability).
  void publish_and_answer(v1::Envelope env, Respond respond,
                          std::function<Response(const sdk::PublishResult&)> ok);

  sdk::Host& host() const { return *host_; }
  const sdk::Settings& settings() const { return settings_; }
  const std::string& name() const { return name_; }
  bool running() const { return server_ != nullptr; }

 private:
  std::string name_;
  sdk::Settings settings_;
  sdk::Host* host_ = nullptr;
  std::shared_ptr<Server> server_;
  std::vector<std::string> prefixes_;
};

}  // namespace omniroute::connectors::http
