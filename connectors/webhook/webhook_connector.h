#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "connectors/http/server.h"
#include "connectors/sdk/connector.h"
#include "connectors/webhook/webhook.h"

namespace omniroute::connectors::webhook {

class WebhookConnector : public sdk::Connector {
 public:
  explicit WebhookConnector(const sdk::Settings& settings);
  ~WebhookConnector() override;

  std::string start(sdk::Host& host) override;
  void stop() override;
  sdk::DeliveryResult deliver(const v1::OutboundMessage& message,
                              const sdk::InboxInfo& inbox) override;
  std::vector<std::string> endpoints() const override;
  // The HTTP server's connection counters (tests, logs).
  http::Server::Stats server_stats() const {
    return server_ ? server_->stats() : http::Server::Stats{};
  }

 private:
  void handle(http::Request req, http::Respond respond);

  sdk::Settings settings_;
  Limits limits_;
  sdk::Host* host_ = nullptr;
  std::shared_ptr<http::Server> server_;
};

}  // namespace omniroute::connectors::webhook
