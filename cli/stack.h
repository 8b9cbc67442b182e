// The one place where real objects are built and wired together: the embedded or real
// Kafka cluster, the router, and the connector hosts. `up`, `router`, `connect` and
// `broker` are thin layers over this.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "analytics/service.h"
#include "config/config.h"
#include "connectors/host/host.h"
#include "connectors/http/server.h"
#include "kafka/kafka.h"
#include "router/router.h"
#include "workspace/api.h"

namespace omniroute::cli {

class Stack {
 public:
  explicit Stack(config::Config cfg)
      : cfg_(std::move(cfg)), configured_brokers_(cfg_.kafka.brokers) {}
  ~Stack();

  // Starts the embedded cluster when kafka.brokers is "embedded" (and then points the
  // config at it), and makes sure every topic exists. "" or an error.
  std::string start_kafka();
  // Starts the router on its own thread (first pairing the agent workspace's gateway with
  // it when the workspace runs in this process).
  std::string start_router();
  // Starts connectors: `names` empty = every connector that has an inbox or a section.
  std::string start_connectors(const std::vector<std::string>& names = {});
  // Starts the agent workspace's sign-in and API on the front door when the config has an
  // agent_workspace section ("" also when it has none).
  std::string start_workspace();
  // Starts the analytics consumer of omni.routing (analytics/service.h).
  std::string start_analytics();
  // All of the above in order (what `omniroute up` runs; analytics when
  // analytics.enabled); the first error, or "".
  std::string start_all();
  // /metrics, /livez, /readyz on every front door this process runs and on
  // operations.listen when set (ops/endpoints.h). Call after the front doors opened (or
  // first, for `omniroute router`, so /readyz answers while it starts). "" or an error.
  std::string serve_operations();
  // Where serve_operations serves ("127.0.0.1:9464", ...).
  std::vector<std::string> operations_addresses() const;
  void stop();
  // Hands a new configuration to the running router (SIGHUP) and waits for its verdict:
  // "" = applied, else why not (settings bound at start, or work it would strand).
  // Connectors keep the settings they started with until they restart.
  std::string reload(config::Config next);

  const config::Config& config() const { return cfg_; }
  config::Config& mutable_config() { return cfg_; }
  kafka::EmbeddedCluster* cluster() { return cluster_.get(); }
  const kafka::ClientConfig& kafka_config() const { return kcfg_; }
  router::Router* router() { return router_.get(); }
  workspace::Api* workspace() { return workspace_.get(); }
  analytics::Service* analytics() { return analytics_.get(); }
  const std::vector<std::unique_ptr<connectors::ConnectorHost>>& connectors() const {
    return hosts_;
  }

 private:
  void pair_workspace_gateway();
  config::Config cfg_;
  std::string configured_brokers_;  // as in the file ("embedded" is replaced at start)
  std::unique_ptr<kafka::EmbeddedCluster> cluster_;
  kafka::ClientConfig kcfg_;
  std::unique_ptr<router::Router> router_;
  std::thread router_thread_;
  std::atomic<bool> router_stop_{false};
  std::vector<std::unique_ptr<connectors::ConnectorHost>> hosts_;
  std::unique_ptr<workspace::Api> workspace_;
  std::unique_ptr<analytics::Service> analytics_;
  std::optional<config::Router::Gateway> paired_gateway_;  // made by pair_workspace_gateway
  std::vector<std::shared_ptr<connectors::http::Server>> ops_servers_;
};

// Process-wide stop flag set by SIGINT/SIGTERM.
std::atomic<bool>& stop_requested();
// Set by SIGHUP: reload the configuration.
std::atomic<bool>& reload_requested();
void install_signal_handlers();

}  // namespace omniroute::cli
