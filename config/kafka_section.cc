#include "config/kafka_section.h"

namespace omniroute::config {

void parse_kafka(MapReader& top, Config& c, Errors& errors) {
  MapReader k(top.child("kafka"), "kafka", errors);
  c.kafka.brokers = k.str("brokers", "embedded");
  if (c.kafka.brokers.empty()) errors.add("kafka.brokers", "must not be empty");
  c.kafka.embedded_brokers = static_cast<int>(k.integer("embedded_brokers", 3, 1, 9));
  c.kafka.partitions = static_cast<int>(k.integer("partitions", 6, 1, 1024));
  c.kafka.replication_factor = static_cast<int>(k.integer("replication_factor", 3, 1, 9));
  if (c.kafka.embedded() && c.kafka.replication_factor > c.kafka.embedded_brokers) {
    errors.add("kafka.replication_factor", "must not exceed kafka.embedded_brokers");
  }
  c.kafka.properties = k.str_map("properties");
  {
    MapReader t(k.child("topics"), "kafka.topics", errors);
    c.kafka.topics.inbound = t.str("inbound", c.kafka.topics.inbound);
    c.kafka.topics.outbound_prefix = t.str("outbound_prefix", c.kafka.topics.outbound_prefix);
    c.kafka.topics.routing = t.str("routing", c.kafka.topics.routing);
    c.kafka.topics.dlq = t.str("dlq", c.kafka.topics.dlq);
    c.kafka.topics.changelog = t.str("changelog", c.kafka.topics.changelog);
    c.kafka.topics.routers = t.str("routers", c.kafka.topics.routers);
    t.finish();
  }
  k.finish();
}

}  // namespace omniroute::config
