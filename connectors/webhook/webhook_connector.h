#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "connectors/sdk/connector.h"
#include "connectors/webhook/webhook.h"

namespace omniroute::connectors::webhook {

class HttpServer;

class WebhookConnector : public sdk::Connector {
 public:
  explicit WebhookConnector(const sdk::Settings& settings);
  ~WebhookConnector() override;

  std::string start(sdk::Host& host) override;
  void stop() override;
  sdk::DeliveryResult deliver(const v1::OutboundMessage& message,
                              const sdk::InboxInfo& inbox) override;
  std::vector<std::string> endpoints() const override;

 private:
  sdk::Settings settings_;
  Limits limits_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace omniroute::connectors::webhook
