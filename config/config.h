// The omniroute configuration: one YAML file, validated at start. Unknown keys and bad
// values are errors naming the key path and the line. Connector-specific sections
// (`connectors.<name>` and each inbox's `settings`) are kept as YAML here and validated
// by the connector's own declared fields (connectors/sdk/config.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "schemas/channel.h"

namespace omniroute::config {

struct Topics {
  std::string inbound = "omni.inbound";            // Envelopes from connectors.
  std::string outbound_prefix = "omni.outbound.";  // + channel name.
  std::string routing = "omni.routing";            // Routing decisions and lifecycle events.
  std::string dlq = "omni.dlq";                    // Dead letters.
  std::string outbound(v1::Channel c) const { return outbound_prefix + channel_name(c); }
};

struct Kafka {
  // "embedded" starts librdkafka's in-memory mock cluster in-process; anything else is a
  // bootstrap list of a real cluster ("host1:9092,host2:9092").
  std::string brokers = "embedded";
  int embedded_brokers = 3;    // Brokers in the embedded cluster (1..9).
  int partitions = 6;          // Partitions per topic when omniroute creates topics.
  int replication_factor = 3;  // For topics omniroute creates (embedded: <= brokers).
  std::map<std::string, std::string> properties;  // Passed to librdkafka as-is (SASL, TLS...).
  Topics topics;
  bool embedded() const { return brokers == "embedded"; }
};

struct State {
  std::string dir = "var/state";  // RocksDB directory of the router.
  bool sync = false;  // fsync each commit: survives machine crashes, not just process crashes.
};

struct Router {
  std::string agent_endpoint = "tcp://127.0.0.1:5570";  // ZeroMQ ROUTER bind address.
  int heartbeat_interval_ms = 1000;                     // Heartbeat period, both ways.
  int heartbeat_timeout_ms = 3000;                      // Silence after which a desk is offline.
  int offer_timeout_ms = 30000;        // Unanswered offers are withdrawn after this.
  int max_batch = 512;                 // Inputs applied in one RocksDB commit at most.
  int max_history = 200;               // Messages sent with an Assignment at most.
  int64_t max_record_bytes = 1 << 20;  // Larger Kafka records go to the DLQ.
};

struct Inbox {
  std::string id;
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
  std::string queue;    // Queue new conversations go to.
  YAML::Node settings;  // Channel-specific, validated by the connector.
  int line = 0;         // Line of the inbox in the file, for connector errors.
};

struct Queue {
  std::string id;
};

struct Agent {
  std::string id;
  std::string name;
  std::string token;  // Optional: Hello must carry it. Sensitive.
  std::vector<std::string> queues;
  std::map<v1::Channel, int> capacity;  // Per channel; a channel absent here gets 0.
};

struct Workspace {
  std::string id;
  std::string name;
  std::vector<Inbox> inboxes;
  std::vector<Queue> queues;
  std::vector<Agent> agents;
  const Inbox* inbox(const std::string& id) const;
  const Agent* agent(const std::string& id) const;
};

struct Connector {
  bool enabled = true;
  YAML::Node settings;  // Validated by the connector.
  int line = 0;
};

struct Config {
  Kafka kafka;
  State state;
  Router router;
  std::string log_level = "info";
  std::map<std::string, Connector> connectors;  // By connector name.
  std::vector<Workspace> workspaces;
  const Workspace* workspace(const std::string& id) const;
  // Every topic omniroute uses: inbound, routing, dlq and one outbound per channel.
  std::vector<std::string> all_topics() const;
};

// Parses and validates. On failure returns nullopt and fills `errors`.
std::optional<Config> parse(const std::string& yaml_text, std::vector<std::string>& errors);
std::optional<Config> load_file(const std::string& path, std::vector<std::string>& errors);

}  // namespace omniroute::config
