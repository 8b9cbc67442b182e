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
  // A customer message posted to .../messages, checked against the URL: "" or why not (400).
  std::string accept_message(const std::string& body, const std::string& ws,
                             const std::string& inbox_id, v1::InboundMessage* msg);

  Limits limits_;
};

}  // namespace omniroute::connectors::webhook
