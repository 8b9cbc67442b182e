// What the tests of router instances in one consumer group share: workspaces placed on a
// chosen partition, a router's YAML, the ownership directory (omni.routers) read as it
// grows, and customer messages published straight to omni.inbound.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include <fmt/format.h>

#include "config/config.h"
#include "kafka/kafka.h"
#include "omniroute/v1/events.pb.h"
#include "omniroute/v1/store.pb.h"
#include "tests/integration/harness.h"

namespace omniroute::testing::group {

// The first "r<k>" that hashes to partition `p` of `partitions`.
inline std::string ws_on(int32_t p, int partitions) {
  for (int k = 0;; ++k) {
    const std::string id = fmt::format("r{}", k);
    if (kafka::partition_for_key(id, partitions) == p) return id;
  }
}

struct RouterOptions {
  int standby_replicas = 0;  // 0: the new owner restores from the changelog
  int ops_port = 0;          // operations.listen (/metrics with token "scrape"), 0: none
};

// A router of the group with one workspace per partition (agent "a" in each), a 3 s group
// session.
inline std::string router_yaml(const std::string& brokers, int partitions, const std::string& state,
                               const std::string& endpoint, const RouterOptions& opt = {}) {
  std::string workspaces;
  for (int32_t p = 0; p < partitions; ++p)
    workspaces += fmt::format(R"(  - id: {}
    queues: [{{id: general}}]
    inboxes:
      - {{id: api, channel: webhook, queue: general, settings: {{secret: s, callback_url: "http://127.0.0.1:1/x"}}}}
    agents:
      - {{id: a, capacity: {{webhook: 100}}}}
)",
                              ws_on(p, partitions));
  const std::string ops =
      opt.ops_port
          ? fmt::format("operations: {{listen: \"127.0.0.1:{}\", metrics_token: scrape}}\n",
                        opt.ops_port)
          : "";
  return fmt::format(R"(log_level: warn
kafka: {{brokers: "{}", partitions: {}, replication_factor: 1}}
state: {{dir: "{}"}}
{}router:
  agent_endpoint: "{}"
  agent_auth: none
  insecure: true
  membership: group
  standby_replicas: {}
  session_timeout_ms: 3000
  heartbeat_interval_ms: 200
  heartbeat_timeout_ms: 1500
  presence_grace_ms: 600000
workspaces:
{})",
                     brokers, partitions, state, ops, endpoint, opt.standby_replicas, workspaces);
}

// Creates every topic the router config `yaml` names, with `partitions` partitions each.
// "" or what went wrong.
inline std::string create_topics(kafka::EmbeddedCluster& cluster, const std::string& yaml,
                                 int partitions) {
  std::vector<std::string> errors;
  auto cfg = config::parse(yaml, errors);
  if (!cfg) return errors.empty() ? "config does not parse" : errors.front();
  std::string err;
  for (const auto& t : cfg->all_topics())
    if (!cluster.create_topic(t, partitions, 1, err)) return t + ": " + err;
  return {};
}

inline int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// omni.routers read as it grows: the latest announcement per partition.
class Directory {
 public:
  Directory(const std::string& brokers, int partitions) {
    std::string err;
    c_ = kafka::Consumer::create({brokers, {}}, "test-directory", err);
    std::vector<kafka::PartitionOffset> parts;
    for (int32_t p = 0; p < partitions; ++p)
      parts.push_back({"omni.routers", p, RD_KAFKA_OFFSET_BEGINNING});
    EXPECT_TRUE(c_ && c_->assign(parts, err)) << err;
  }
  // Waits until `pred(latest)` holds; false after `secs`.
  template <typename Pred>
  bool wait_for(Pred pred, int secs = 60) {
    return wait_until(
        [&] {
          for (auto& m : c_->poll(100, 20)) {
            v1::store::RouterOwner o;
            if (!m.is_error() &&
                o.ParseFromArray(m.value().data(), static_cast<int>(m.value().size())))
              latest_[o.partition()] = o;
          }
          return pred(latest_);
        },
        std::chrono::seconds(secs));
  }
  const std::map<int32_t, v1::store::RouterOwner>& latest() const { return latest_; }

 private:
  std::unique_ptr<kafka::Consumer> c_;
  std::map<int32_t, v1::store::RouterOwner> latest_;
};

inline bool served_by(const std::map<int32_t, v1::store::RouterOwner>& d, int32_t p,
                      const std::string& endpoint) {
  auto it = d.find(p);
  return it != d.end() && it->second.endpoint() == endpoint && !it->second.released() &&
         !it->second.restoring();
}

// A customer message of workspace `ws` (inbox "api"), as a connector would publish it.
inline void publish(kafka::Producer& producer, const std::string& ws, const std::string& customer,
                    const std::string& id) {
  v1::Envelope env;
  auto* m = env.mutable_message();
  m->set_workspace_id(ws);
  m->set_inbox_id("api");
  m->set_channel(v1::CHANNEL_WEBHOOK);
  m->set_event_id("ev-" + id);
  m->set_customer_handle(customer);
  m->set_external_message_id(id);
  m->set_text_body("message " + id);
  ASSERT_TRUE(producer.produce("omni.inbound", ws, env.SerializeAsString(), [](const auto&) {}));
}

}  // namespace omniroute::testing::group
