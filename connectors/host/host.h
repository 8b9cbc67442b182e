// The connector host: runs one connector, publishes for it, and owns its outbound
// delivery loop (consume omni.outbound.<channel>, deliver, retry with backoff, record
// DeliveryStatus, commit the offset only when the status is durable).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "connectors/sdk/connector.h"
#include "kafka/kafka.h"

namespace omniroute::connectors {

// Retry policy the host applies to kRetry delivery results.
struct RetryPolicy {
  int max_attempts = 8;
  int initial_backoff_ms = 200;
  int max_backoff_ms = 30000;
  int backoff_ms(int attempt) const;  // attempt >= 1: delay before attempt+1
};

// Validates `connectors.<name>` and every inbox's `settings` against the registered
// connectors. Unknown connector names, channels without a connector, unknown keys and
// bad values are errors. Fills resolved settings when `out_*` are given.
void validate(const config::Config& cfg, const sdk::Registry& registry,
              std::vector<std::string>& errors);
sdk::Settings resolve_settings(const YAML::Node& node, const std::vector<sdk::ConfigField>& fields,
                               const std::string& path, std::vector<std::string>& errors);

class ConnectorHost : public sdk::Host {
 public:
  ConnectorHost(const config::Config& cfg, const sdk::ConnectorFactory& factory,
                kafka::ClientConfig kafka_cfg);
  ~ConnectorHost() override;

  // Creates and starts the connector and the delivery loop. "" or an error text.
  std::string start();
  void stop();
  std::vector<std::string> endpoints() const;
  const std::string& name() const { return factory_.name; }

  // sdk::Host
  void publish(v1::Envelope envelope, sdk::PublishDone done) override;
  void dead_letter(std::string_view payload, std::string_view reason) override;
  const std::vector<sdk::InboxInfo>& inboxes() const override { return inboxes_; }
  const sdk::Logger& logger() const override { return logger_; }

  // Delivery counters (for `up --demo` summaries and tests).
  struct Stats {
    std::atomic<uint64_t> published{0}, publish_failed{0}, delivered{0}, delivery_failed{0},
        retries{0};
  };
  const Stats& stats() const { return stats_; }

 private:
  void delivery_loop();
  // omniroute_deliveries_total and, for agents' replies, omniroute_reply_to_outbound_seconds.
  void count_delivery(const v1::OutboundMessage& msg, const sdk::DeliveryResult& res);

  const config::Config& cfg_;
  const sdk::ConnectorFactory& factory_;
  kafka::ClientConfig kafka_cfg_;
  std::unique_ptr<kafka::Producer>
      producer_;  // own: its timeout is this connector's publish_timeout_ms
  sdk::Logger logger_;
  std::vector<sdk::InboxInfo> inboxes_;
  sdk::Settings settings_;
  RetryPolicy retry_;
  std::unique_ptr<sdk::Connector> connector_;
  std::atomic<bool> stop_{false};
  std::thread delivery_thread_;
  Stats stats_;
};

}  // namespace omniroute::connectors
