// An outbox record Kafka will never take (left by an older version, or made too large for a
// cluster with a smaller message.max.bytes): the router must not retry it in a tight loop,
// before or after a restart. It goes to omni.dlq with the reason and leaves the outbox.
#include <gtest/gtest.h>

#include "omniroute/v1/store.pb.h"
#include "router/partition.h"
#include "router/store.h"
#include "tests/integration/harness.h"

namespace omniroute::testing {
namespace {

class RefusedOutbox : public StackFixture {
 protected:
  void adjust(ConfigParams& p) override {
    // The state a router left behind: one outbound reply of 2 MB in its outbox.
    std::string err;
    auto store =
        router::Store::open(router::workspace_dir(p.state_dir, "acme", p.partitions), false, err);
    ASSERT_TRUE(store) << err;
    v1::OutboundMessage m;
    m.set_outbound_id("acme/C1/2");
    m.set_workspace_id("acme");
    m.set_inbox_id("api");
    m.set_conversation_id("C1");
    m.set_text_body(std::string(2 << 20, 'x'));
    v1::store::OutboxEntry e;
    e.set_topic("omni.outbound.webhook");
    e.set_key("acme");
    e.set_value(m.SerializeAsString());
    auto b = store->begin();
    b.put(router::Cf::kOutbox, "00000000000000000001", e.SerializeAsString());
    ASSERT_EQ(store->commit(b), "");
  }
};

TEST_F(RefusedOutbox, GoesToTheDlqWithTheReasonInsteadOfSpinning) {
  const std::string brokers = stack_->config().kafka.brokers;
  std::vector<std::string> dlq;
  ASSERT_TRUE(wait_until(
      [&] {
        dlq = read_topic(brokers, "omni.dlq", params_.partitions, 1, 1000);
        return !dlq.empty();
      },
      std::chrono::seconds(20)));
  v1::DeadLetter d;
  ASSERT_TRUE(d.ParseFromString(dlq[0]));
  EXPECT_EQ(d.source_topic(), "omni.outbound.webhook");
  EXPECT_NE(d.reason().find("Kafka refused the record"), std::string::npos) << d.reason();
  EXPECT_TRUE(d.value_truncated());
  // And it is gone from the outbox: the next run does not meet it again.
  stack_->stop();
  stack_.reset();
  std::string err;
  auto store = router::Store::open(
      router::workspace_dir(params_.state_dir, "acme", params_.partitions), false, err);
  ASSERT_TRUE(store) << err;
  std::string v;
  EXPECT_FALSE(store->get(router::Cf::kOutbox, "00000000000000000001", &v));
}

}  // namespace
}  // namespace omniroute::testing
