// librdkafka's mock cluster as the embedded broker, and its fault injection.
#include "kafka/kafka.h"

#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <fmt/format.h>

namespace omniroute::kafka {

void EmbeddedCluster::MockDeleter::operator()(rd_kafka_mock_cluster_t* c) const {
  rd_kafka_mock_cluster_destroy(c);
}

std::unique_ptr<EmbeddedCluster> EmbeddedCluster::start(int brokers, std::string& err) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    err = errstr;
    return nullptr;
  }
  std::unique_ptr<EmbeddedCluster> c(new EmbeddedCluster());
  c->rk_.reset(rk);
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc) {
    err = "could not start the embedded Kafka cluster";
    return nullptr;
  }
  c->mock_.reset(mc);
  c->bootstraps_ = rd_kafka_mock_cluster_bootstraps(mc);
  c->brokers_ = brokers;
  return c;
}

EmbeddedCluster::~EmbeddedCluster() {
  mock_.reset();  // before the handle that owns its threads
  rk_.reset();
}

bool EmbeddedCluster::create_topic(const std::string& topic, int partitions, int replication_factor,
                                   std::string& err) {
  rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mock_.get(), topic.c_str(), partitions,
                                                     std::min(replication_factor, brokers_));
  if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
    err = fmt::format("topic {}: {}", topic, rd_kafka_err2str(e));
    return false;
  }
  return true;
}

namespace {
// Whether a socket other than the broker's own (its listener and the connections it
// accepted) uses local port `port` (IPv4, from /proc/net/tcp): a client connection that
// got the port as its source port while it was free, or connected to itself.
bool port_held_by_others(int port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  struct Entry {
    int local, remote;
    bool listening;
  };
  std::vector<Entry> entries;
  std::set<int> listening;
  while (std::getline(in, line)) {
    // "  0: 0100007F:80F5 0100007F:C2A6 01 ..."
    std::istringstream f(line);
    std::string sl, local, remote, st;
    if (!(f >> sl >> local >> remote >> st)) continue;
    const auto port_of = [](const std::string& a) {
      const auto c = a.find(':');
      return c == std::string::npos ? -1
                                    : static_cast<int>(std::stoul(a.substr(c + 1), nullptr, 16));
    };
    Entry e{port_of(local), port_of(remote), st == "0A"};
    if (e.listening) listening.insert(e.local);
    entries.push_back(e);
  }
  for (const auto& e : entries) {
    if (e.local != port || e.listening) continue;
    // The broker's accepted connections have a client's source port at the other end;
    // a foreign socket on this port points at some listener (or at this very port).
    if (e.remote == port || (listening.count(e.remote) && e.remote != port)) return true;
  }
  return false;
}
}  // namespace

bool EmbeddedCluster::set_broker_down(int32_t broker_id, bool down) {
  if (!down) {
    rd_kafka_mock_broker_set_up(mock_.get(), broker_id);
    return true;
  }
  // Taking a broker down, the mock closes its listener and binds the same port again at
  // once; when another socket holds the port by then (seen in the fault harness: "Address
  // already in use"), librdkafka 2.0.2 aborts the process. So not while one does.
  int port = 0;
  size_t start = 0;
  for (int32_t id = 1; start != std::string::npos; ++id) {
    const size_t end = bootstraps_.find(',', start);
    const std::string hp = bootstraps_.substr(start, end == std::string::npos ? end : end - start);
    if (id == broker_id) port = std::atoi(hp.substr(hp.rfind(':') + 1).c_str());
    start = end == std::string::npos ? end : end + 1;
  }
  bool free = false;
  for (int attempt = 0; attempt < 30 && !free; ++attempt) {
    free = port > 0 && !port_held_by_others(port);
    if (!free) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!free) return false;
  rd_kafka_mock_broker_set_down(mock_.get(), broker_id);
  return true;
}

void EmbeddedCluster::set_broker_rtt(int32_t broker_id, int rtt_ms) {
  rd_kafka_mock_broker_set_rtt(mock_.get(), broker_id, rtt_ms);
}

void EmbeddedCluster::set_partition_leader(const std::string& topic, int32_t partition,
                                           int32_t broker_id) {
  rd_kafka_mock_partition_set_leader(mock_.get(), topic.c_str(), partition, broker_id);
}

void EmbeddedCluster::set_group_coordinator(const std::string& group, int32_t broker_id) {
  rd_kafka_mock_coordinator_set(mock_.get(), "group", group.c_str(), broker_id);
}

void EmbeddedCluster::push_request_errors(int16_t api_key,
                                          const std::vector<rd_kafka_resp_err_t>& errs) {
  rd_kafka_mock_push_request_errors_array(mock_.get(), api_key, errs.size(), errs.data());
}

}  // namespace omniroute::kafka
