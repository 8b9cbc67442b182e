// The Kafka layer against the embedded (mock) cluster over loopback TCP.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "kafka/kafka.h"

namespace omniroute::kafka {
namespace {

TEST(Kafka, ConsumerWhosePositionWasDroppedByTheBrokerReportsRecordsLost) {
  std::string err;
  auto cluster = EmbeddedCluster::start(1, err);
  ASSERT_TRUE(cluster) << err;
  ASSERT_TRUE(cluster->create_topic("t", 1, 1, err)) << err;
  ClientConfig cfg;
  cfg.brokers = cluster->bootstraps();
  auto producer = Producer::create(cfg, err, {{"compression.type", "none"}});
  ASSERT_TRUE(producer) << err;
  // The embedded broker keeps about 5 MB per partition: 8 MB pushes the first records out.
  const std::string value(64 * 1024, 'x');
  for (int i = 0; i < 128; ++i) {
    while (!producer->produce("t", "k", value, [](const DeliveryReport&) {})) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ASSERT_TRUE(producer->flush(10000));

  const uint64_t before = offset_out_of_range_resets();
  auto consumer = Consumer::create(cfg, "g", err);
  ASSERT_TRUE(consumer) << err;
  ASSERT_TRUE(consumer->assign({{"t", 0, 0}}, err)) << err;  // offset 0 is gone
  int64_t first = -1;
  for (int i = 0; i < 200 && first < 0; ++i) {
    for (auto& m : consumer->poll(10, 50)) {
      if (!m.is_error() && first < 0) first = m.offset();
    }
  }
  EXPECT_GT(first, 0) << "the consumer restarted from the oldest record the broker still has";
  EXPECT_GT(offset_out_of_range_resets(), before) << "the loss is reported, not silent";
}

// Produce requests that fail with retriable errors (the fault harness injects these):
// every record the producer reports as delivered must be in the log.
void produce_under_injected_errors(const std::map<std::string, std::string>& overrides,
                                   size_t* acked, size_t* in_log) {
  std::string err;
  auto cluster = EmbeddedCluster::start(3, err);
  ASSERT_TRUE(cluster) << err;
  ASSERT_TRUE(cluster->create_topic("t", 1, 3, err)) << err;
  ClientConfig cfg;
  cfg.brokers = cluster->bootstraps();
  auto producer = Producer::create(cfg, err, overrides);
  ASSERT_TRUE(producer) << err;
  std::mutex mu;
  std::set<std::string> ok;
  constexpr int kRecords = 6000;
  for (int i = 0; i < kRecords; ++i) {
    const std::string v = std::to_string(i);
    while (!producer->produce("t", "k", v, [&, v](const DeliveryReport& r) {
      if (!r.ok()) return;
      std::lock_guard lock(mu);
      ok.insert(v);
    })) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (i % 400 == 200)
      cluster->push_request_errors(
          0, {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
              RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS});
    if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
  }
  ASSERT_TRUE(producer->flush(60000));
  auto consumer = Consumer::create(cfg, "check", err);
  ASSERT_TRUE(consumer) << err;
  ASSERT_TRUE(consumer->assign({{"t", 0, RD_KAFKA_OFFSET_BEGINNING}}, err)) << err;
  std::set<std::string> seen;
  for (int idle = 0; idle < 20;) {
    auto batch = consumer->poll(1000, 50);
    bool any = false;
    for (auto& m : batch)
      if (!m.is_error()) {
        seen.insert(std::string(m.value()));
        any = true;
      }
    idle = any ? 0 : idle + 1;
  }
  *acked = ok.size();
  size_t missing = 0;
  for (const auto& v : ok)
    if (!seen.count(v)) ++missing;
  *in_log = ok.size() - missing;
}

TEST(Kafka, EveryRecordReportedDeliveredIsInTheLogDespiteRetriableProduceErrors) {
  size_t acked = 0, in_log = 0;
  produce_under_injected_errors({}, &acked, &in_log);
  EXPECT_EQ(acked, 6000u);
  EXPECT_EQ(in_log, acked) << acked - in_log << " records acknowledged but not in the log";
}

// kafka.properties named `consumer.x` / `producer.x` reach that kind of client only (an
// invalid value shows where each one went); unscoped ones reach both.
TEST(Kafka, ScopedPropertiesReachOnlyTheirKindOfClient) {
  std::string err;
  ClientConfig cfg;
  cfg.brokers = "127.0.0.1:1";  // never contacted: creating a client does not connect

  cfg.properties = {{"consumer.fetch.wait.max.ms", "-5"}};
  EXPECT_TRUE(Producer::create(cfg, err)) << err;
  err.clear();
  EXPECT_FALSE(Consumer::create(cfg, "g", err));
  EXPECT_NE(err.find("kafka property fetch.wait.max.ms"), std::string::npos) << err;

  cfg.properties = {{"producer.linger.ms", "-5"}};
  err.clear();
  EXPECT_TRUE(Consumer::create(cfg, "g", err)) << err;
  EXPECT_FALSE(Producer::create(cfg, err));
  EXPECT_NE(err.find("kafka property linger.ms"), std::string::npos) << err;

  cfg.properties = {{"socket.timeout.ms", "-5"}};
  EXPECT_FALSE(Producer::create(cfg, err));
  EXPECT_FALSE(Consumer::create(cfg, "g", err));

  // A bare prefix names no property: refused, not applied to everything.
  cfg.properties = {{"consumer.", "1"}};
  EXPECT_FALSE(Consumer::create(cfg, "g", err));
  EXPECT_EQ(scoped_property("producer.acks").name, "acks");
  EXPECT_EQ(scoped_property("producer.acks").scope, PropertyScope::kProducer);
  EXPECT_EQ(scoped_property("acks").scope, PropertyScope::kAll);
}

}  // namespace
}  // namespace omniroute::kafka
