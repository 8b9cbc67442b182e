// RAII wrappers over librdkafka: a producer (acks=all, one request in flight) whose delivery
// reports surface as completions, a consumer that can be driven from an event loop, and the
// embedded mock cluster. Only this module includes librdkafka headers in its interface.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace omniroute::kafka {

// Where clients connect and the pass-through librdkafka properties (SASL, TLS, tuning).
// A property named `consumer.<name>` or `producer.<name>` is `<name>` for that kind of client
// only (as Kafka Streams scopes its client settings); librdkafka names no property so.
struct ClientConfig {
  std::string brokers;
  std::map<std::string, std::string> properties;
};

enum class PropertyScope { kAll, kConsumer, kProducer };
struct ScopedProperty {
  PropertyScope scope;
  std::string_view name;  // without the scope's prefix
};
ScopedProperty scoped_property(std::string_view key);

// The outcome of one produce, delivered once Kafka acknowledged (or gave up on) it.
struct DeliveryReport {
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  std::string error;  // Empty on success.
  int32_t partition = -1;
  int64_t offset = -1;
  bool ok() const { return err == RD_KAFKA_RESP_ERR_NO_ERROR; }
};

using Completion = std::function<void(const DeliveryReport&)>;

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const;
};
using HandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;

// Producer with acks=all and one request in flight, so retries keep order; not idempotent
// (enable.idempotence=false, see kafka.cc: a retry may duplicate a record, which the
// consumers' ids make harmless). Completions run on the producer's own poll thread; they
// must be quick and thread-safe.
class Producer {
 public:
  // Returns nullptr and sets `err` when librdkafka refuses the configuration.
  static std::unique_ptr<Producer> create(const ClientConfig& cfg, std::string& err,
                                          const std::map<std::string, std::string>& overrides = {});
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Queues one record. Returns false (and calls nothing) if it could not be queued,
  // e.g. the local queue is full; otherwise `done` runs exactly once later.
  [[nodiscard]] bool produce(const std::string& topic, std::string_view key, std::string_view value,
                             Completion done, std::string* err = nullptr,
                             rd_kafka_resp_err_t* code = nullptr);
  // To one partition (RD_KAFKA_PARTITION_UA: the partitioner's choice); a null `value` is a
  // tombstone (a delete, for compacted topics).
  [[nodiscard]] bool produce_to(const std::string& topic, int32_t partition, std::string_view key,
                                const std::string_view* value, Completion done,
                                std::string* err = nullptr, rd_kafka_resp_err_t* code = nullptr);
  // Waits until every queued record has a delivery report; false on timeout.
  bool flush(int timeout_ms);
  // Records still waiting for a delivery report.
  int outstanding() const;
  rd_kafka_t* handle() { return rk_.get(); }

 private:
  Producer() = default;
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void*);
  rd_kafka_topic_t* topic_handle(const std::string& topic);
  HandlePtr rk_;
  std::atomic<bool> stop_{false};
  std::thread poller_;
  std::mutex topics_mu_;
  std::unordered_map<std::string, rd_kafka_topic_t*> topics_;  // destroyed before rk_
};

struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};

// One consumed record (or a consumer error), owned.
class Message {
 public:
  explicit Message(rd_kafka_message_t* m) : m_(m) {}
  bool is_error() const { return m_->err != RD_KAFKA_RESP_ERR_NO_ERROR; }
  bool is_eof() const { return m_->err == RD_KAFKA_RESP_ERR__PARTITION_EOF; }
  std::string error() const { return rd_kafka_message_errstr(m_.get()); }
  std::string topic() const { return m_->rkt ? rd_kafka_topic_name(m_->rkt) : std::string(); }
  int32_t partition() const { return m_->partition; }
  int64_t offset() const { return m_->offset; }
  std::string_view key() const {
    return m_->key ? std::string_view(static_cast<const char*>(m_->key), m_->key_len)
                   : std::string_view();
  }
  std::string_view value() const {
    return m_->payload ? std::string_view(static_cast<const char*>(m_->payload), m_->len)
                       : std::string_view();
  }

 private:
  std::unique_ptr<rd_kafka_message_t, MessageDeleter> m_;
};

struct PartitionOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = RD_KAFKA_OFFSET_BEGINNING;  // Next offset to read.
};

// What a group member is told when partitions move (cooperative: only the partitions that
// change). Runs on the thread that polls the consumer, inside poll().
struct Rebalance {
  // Partitions given to this member; returns where to start reading each (offsets filled
  // in; a partition left out is not consumed now: Consumer::add_assignment later).
  std::function<std::vector<PartitionOffset>(const std::vector<PartitionOffset>&)> assigned;
  // Partitions taken away. `lost`: the member's session ended before it could hand them
  // over (another member may own them already): do not flush anything for them.
  std::function<void(const std::vector<PartitionOffset>&, bool lost)> revoked;
};

// The partition of `key` among `partitions`, as our producers' partitioner picks it
// (consistent_random: CRC32 of the key).
int32_t partition_for_key(std::string_view key, int32_t partitions);

// A consumer either assigned explicit partitions at explicit offsets (the router keeps
// its offsets in RocksDB) or subscribed in a consumer group with manual commits.
class Consumer {
 public:
  // A member of `group_id` whose partitions move by cooperative-sticky rebalancing
  // (kafka/group.cc); `on` is called from poll(). Subscribe, then poll.
  static std::unique_ptr<Consumer> create_member(
      const ClientConfig& cfg, const std::string& group_id, Rebalance on, std::string& err,
      const std::map<std::string, std::string>& overrides = {});
  static std::unique_ptr<Consumer> create(const ClientConfig& cfg, const std::string& group_id,
                                          std::string& err,
                                          const std::map<std::string, std::string>& overrides = {});
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  [[nodiscard]] bool assign(const std::vector<PartitionOffset>& parts, std::string& err);
  [[nodiscard]] bool subscribe(const std::vector<std::string>& topics, std::string& err);
  // A group member (cooperative) starts consuming partitions the group gave it earlier,
  // outside the rebalance handler (e.g. once their state is restored).
  // Cooperative protocol only (cooperative()).
  [[nodiscard]] bool add_assignment(const std::vector<PartitionOffset>& parts, std::string& err);
  // Stops consuming partitions (those not consumed now are skipped); cooperative only.
  [[nodiscard]] bool remove_assignment(const std::vector<PartitionOffset>& parts, std::string& err);
  // The group's rebalance protocol is cooperative (incremental).
  bool cooperative();
  // Up to `max` records; waits at most `timeout_ms` for the first one.
  std::vector<Message> poll(size_t max, int timeout_ms);
  // Makes librdkafka write a byte to `fd` whenever the queue turns non-empty, so an
  // event loop can poll() the fd. Drain with poll(max, 0) until empty after each wake.
  void enable_wakeup_fd(int fd);
  // Commits "next offset to read" for each partition (group consumers).
  [[nodiscard]] bool commit(const std::vector<PartitionOffset>& next, std::string& err);
  // Partition count of `topic` from cluster metadata, or -1.
  int partition_count(const std::string& topic, int timeout_ms);
  // High watermark of each assigned partition as the last fetch saw it (no request to the
  // broker); partitions not fetched yet are left out.
  std::vector<PartitionOffset> high_watermarks();
  // Low and high watermark of a partition, asked of the broker. False on error/timeout.
  bool query_watermarks(const std::string& topic, int32_t partition, int64_t& low, int64_t& high,
                        int timeout_ms);
  // A group member got its first assignment (perhaps empty).
  bool assigned_once() const { return assigned_once_; }
  // Leaves the group (revoking what it owns through the Rebalance handler) and closes.
  void close();
  // close() does not wait for librdkafka to settle (short-lived readers made by the dozen,
  // e.g. one per partition restored; they keep librdkafka#3608's small risk).
  void skip_settle_on_close() { settle_on_close_ = false; }

 private:
  Consumer() = default;
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* parts, void* opaque);
  std::unique_ptr<Rebalance> rebalance_;
  bool assigned_once_ = false;  // a group member got its first assignment
  bool before_first_assignment();
  HandlePtr rk_;
  rd_kafka_queue_t* queue_ = nullptr;
  bool closed_ = false;
  bool settle_on_close_ = true;
};

// Whether retrying a produce that failed with `e` can never succeed (the record is too
// large, malformed, or the client is not allowed to write the topic).
bool permanent_produce_error(rd_kafka_resp_err_t e);

// How many times a consumer in this process found its position gone from the broker
// (offset out of range: records dropped before they were read). Logged as an error too.
uint64_t offset_out_of_range_resets();

// Creates topics that do not exist yet (real cluster: Admin API).
[[nodiscard]] bool ensure_topics(const ClientConfig& cfg, const std::vector<std::string>& topics,
                                 int partitions, int replication_factor, std::string& err);

// librdkafka's mock cluster: real Kafka protocol on loopback TCP, in memory. For
// development, tests and benchmarks; data is gone when the process exits.
class EmbeddedCluster {
 public:
  static std::unique_ptr<EmbeddedCluster> start(int brokers, std::string& err);
  ~EmbeddedCluster();
  const std::string& bootstraps() const { return bootstraps_; }
  int brokers() const { return brokers_; }
  [[nodiscard]] bool create_topic(const std::string& topic, int partitions, int replication_factor,
                                  std::string& err);
  // Fault injection (tests, chaos harness). Taking a broker down is refused (false) while
  // a socket other than the broker's own holds its port (up to 3 s): the mock could not
  // bind it again and would abort the process.
  [[nodiscard]] bool set_broker_down(int32_t broker_id, bool down);
  void set_broker_rtt(int32_t broker_id, int rtt_ms);
  // Which broker leads a partition / coordinates a group (brokers are numbered from 1).
  void set_partition_leader(const std::string& topic, int32_t partition, int32_t broker_id);
  void set_group_coordinator(const std::string& group, int32_t broker_id);
  void push_request_errors(int16_t api_key, const std::vector<rd_kafka_resp_err_t>& errs);

 private:
  EmbeddedCluster() = default;
  HandlePtr rk_;
  struct MockDeleter {
    void operator()(rd_kafka_mock_cluster_t* c) const;
  };
  std::unique_ptr<rd_kafka_mock_cluster_t, MockDeleter> mock_;
  std::string bootstraps_;
  int brokers_ = 0;
};

}  // namespace omniroute::kafka
