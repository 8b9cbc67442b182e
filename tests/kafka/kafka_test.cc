// The Kafka layer against the embedded (mock) cluster over loopback TCP.
#include <gtest/gtest.h>

#include <chrono>
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

}  // namespace
}  // namespace omniroute::kafka
