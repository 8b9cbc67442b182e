#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "connectors/http/connector.h"
#include "connectors/webhook/webhook.h"

namespace omniroute::connectors::webhook {

class WebhookConnector : public http::HttpConnector {
 public:
  explicit WebhookConnector(const sdk::Settings& settings);
  ~WebhookConnector() override;

  sdk::DeliveryResult deliver(const v1::OutboundMessage& message,
                              const sdk::InboxInfo& inbox) override;

 private:
  std::vector<http::Route> routes() override;
  std::vector<std::string> paths() const override;
  void handle(http::Request req, http::Respond respond);

  Limits limits_;
};

}  // namespace omniroute::connectors::webhook
