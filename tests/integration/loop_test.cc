// The whole loop over real TCP, bad input, and desk death.
#include <google/protobuf/util/json_util.h>

#include "omniroute/v1/routing.pb.h"
#include "omniroute/v1/store.pb.h"
#include "router/partition.h"
#include "router/store.h"
#include "tests/integration/harness.h"

namespace omniroute::testing {
namespace {

using connectors::webhook::post_signed;

class WholeLoop : public StackFixture {};

TEST_F(WholeLoop, SignedPostIsRoutedAnsweredDeliveredAndTheStatusRecorded) {
  RecordingDesk alice(*stack_->router(), "acme", "alice", {});
  ASSERT_TRUE(wait_until([&] { return alice.desk().connected(); }));
  std::string response;
  ASSERT_EQ(post("ext-1", "jane@example.com", "Where is my parcel?", &response), 202) << response;
  EXPECT_NE(response.find("event_id"), std::string::npos);

  ASSERT_TRUE(wait_until([&] { return receiver_->received().size() == 1; }));
  const auto reply = receiver_->received()[0];
  EXPECT_EQ(reply.customer_handle(), "jane@example.com");
  EXPECT_EQ(reply.text_body(), "Hi from alice");
  EXPECT_EQ(reply.agent_id(), "alice");
  EXPECT_EQ(reply.inbox_id(), "api");
  EXPECT_EQ(receiver_->bad_signatures(), 0u);

  ASSERT_EQ(alice.assignments().size(), 1u);
  const v1::Assignment assignment = alice.assignments()[0];
  const auto& history = assignment.history();
  ASSERT_EQ(history.size(), 1);
  EXPECT_EQ(history[0].text_body(), "Where is my parcel?");
  EXPECT_EQ(history[0].external_message_id(), "ext-1");

  ASSERT_TRUE(wait_until([&] {
    for (const auto& d : alice.deliveries())
      if (d.state() == v1::DeliveryStatus::STATE_SENT) return true;
    return false;
  }));
  // The delivery status is recorded in the conversation's history.
  std::string err, v;
  auto store = router::Store::open_read_only(router::workspace_dir(params_.state_dir, "acme"), err);
  ASSERT_TRUE(store) << err;
  const std::string conv = assignment.conversation().conversation_id();
  ASSERT_TRUE(store->get(router::Cf::kMessages, "acme/" + conv + "/0000000002", &v));
  v1::ConversationMessage stored;
  stored.ParseFromString(v);
  EXPECT_EQ(stored.author(), v1::AUTHOR_AGENT);
  EXPECT_EQ(stored.outbound_id(), reply.outbound_id());
  EXPECT_EQ(stored.delivery(), v1::DeliveryStatus::STATE_SENT);

  // Every step of the decision trail is on omni.routing.
  std::set<v1::RoutingEvent::Kind> kinds;
  for (const auto& r : read_topic(stack_->config().kafka.brokers, "omni.routing",
                                  params_.partitions, SIZE_MAX, 1500)) {
    v1::RoutingEvent e;
    ASSERT_TRUE(e.ParseFromString(r));
    kinds.insert(e.kind());
  }
  for (auto k : {v1::RoutingEvent::KIND_OPENED, v1::RoutingEvent::KIND_QUEUED,
                 v1::RoutingEvent::KIND_OFFERED, v1::RoutingEvent::KIND_ACCEPTED,
                 v1::RoutingEvent::KIND_REPLIED, v1::RoutingEvent::KIND_DELIVERY}) {
    EXPECT_TRUE(kinds.count(k)) << v1::RoutingEvent::Kind_Name(k);
  }
}

TEST_F(WholeLoop, CallbackFailuresAreRetriedWithBackoffThenDelivered) {
  RecordingDesk alice(*stack_->router(), "acme", "alice", {});
  receiver_->fail_next(2, 503);
  ASSERT_EQ(post("ext-1", "jane@example.com", "hello"), 202);
  ASSERT_TRUE(wait_until([&] { return receiver_->received().size() == 1; }));
  EXPECT_EQ(receiver_->requests(), 3u);
  ASSERT_TRUE(wait_until([&] {
    for (const auto& d : alice.deliveries())
      if (d.state() == v1::DeliveryStatus::STATE_SENT) return true;
    return false;
  }));
}

TEST_F(WholeLoop, PermanentCallbackRejectionIsRecordedAsFailed) {
  RecordingDesk alice(*stack_->router(), "acme", "alice", {});
  receiver_->fail_next(1, 400);
  ASSERT_EQ(post("ext-1", "jane@example.com", "hello"), 202);
  ASSERT_TRUE(wait_until([&] {
    for (const auto& d : alice.deliveries()) {
      if (d.state() == v1::DeliveryStatus::STATE_FAILED)
        return d.detail().find("HTTP 400") != std::string::npos;
    }
    return false;
  }));
  EXPECT_TRUE(receiver_->received().empty());
}

class BadInput : public StackFixture {};

TEST_F(BadInput, EachGetsItsErrorNothingIsPublishedAndTheRestKeepsFlowing) {
  RecordingDesk alice(*stack_->router(), "acme", "alice", {.accept = true, .reply = false});
  const std::string good =
      R"({"external_message_id":"e1","customer_handle":"c1","text_body":"hi"})";
  std::string resp;
  EXPECT_EQ(post_signed(url(), "", good, &resp), 401);  // no signature
  EXPECT_EQ(post_signed(url(), "wrong-secret", good, &resp), 403);
  EXPECT_EQ(post_signed(url(), params_.secret, "{\"external_message_id\": ", &resp), 400);
  EXPECT_NE(resp.find("invalid InboundMessage JSON"), std::string::npos) << resp;
  EXPECT_EQ(
      post_signed(url(), params_.secret, R"({"customer_handle":"c1","text_body":"hi"})", &resp),
      400);
  EXPECT_NE(resp.find("external_message_id"), std::string::npos) << resp;
  std::string huge = R"({"external_message_id":"e2","customer_handle":"c1","text_body":")" +
                     std::string(100000, 'x') + "\"}";
  EXPECT_EQ(post_signed(url(), params_.secret, huge, &resp), 413);
  EXPECT_EQ(post_signed(url("acme", "nope"), params_.secret, good, &resp), 404);
  EXPECT_EQ(post_signed(url("other", "api"), params_.secret, good, &resp), 404);

  // An undecodable record on omni.inbound goes to the DLQ with its reason...
  std::string err;
  auto producer = kafka::Producer::create({stack_->config().kafka.brokers, {}}, err);
  ASSERT_TRUE(producer) << err;
  ASSERT_TRUE(
      producer->produce("omni.inbound", "acme", "\x0a\xff\xff not a protobuf", [](const auto&) {}));
  producer->flush(5000);

  // ... and a good request still goes all the way.
  EXPECT_EQ(post_signed(url(), params_.secret, good, &resp), 202) << resp;
  ASSERT_TRUE(wait_until([&] { return alice.assignments().size() == 1; }));

  const auto inbound =
      read_topic(stack_->config().kafka.brokers, "omni.inbound", params_.partitions, 2);
  EXPECT_EQ(inbound.size(), 2u);  // the good message and the garbage we produced ourselves
  const auto dlq = read_topic(stack_->config().kafka.brokers, "omni.dlq", params_.partitions, 1);
  ASSERT_EQ(dlq.size(), 1u);
  v1::DeadLetter dl;
  ASSERT_TRUE(dl.ParseFromString(dlq[0]));
  EXPECT_EQ(dl.reason(), "undecodable Envelope");
  EXPECT_EQ(dl.component(), "router");
}

TEST_F(BadInput, KafkaUnavailableGets503AndNothingIsPublished) {
  auto* cluster = stack_->cluster();
  ASSERT_NE(cluster, nullptr);
  ASSERT_EQ(post("warm-up", "c0", "first"), 202);  // the producer is connected
  for (int b = 1; b <= 3; ++b) ASSERT_TRUE(cluster->set_broker_down(b, true));
  std::string resp;
  EXPECT_EQ(post("lost", "c1", "while down", &resp), 503) << resp;
  for (int b = 1; b <= 3; ++b) ASSERT_TRUE(cluster->set_broker_down(b, false));
  ASSERT_TRUE(
      wait_until([&] { return post("after-" + std::to_string(rand()), "c2", "back") == 202; },
                 std::chrono::seconds(30)));
  for (const auto& r : read_topic(stack_->config().kafka.brokers, "omni.inbound",
                                  params_.partitions, SIZE_MAX, 1500)) {
    v1::Envelope e;
    ASSERT_TRUE(e.ParseFromString(r));
    EXPECT_NE(e.message().external_message_id(), "lost");
  }
}

class DeskDeath : public StackFixture {
  void adjust(ConfigParams& p) override {
    p.heartbeat_interval_ms = 100;
    p.heartbeat_timeout_ms = 500;
    p.offer_timeout_ms = 120000;  // far away: only the heartbeat timeout can move the offer
  }
};

TEST_F(DeskDeath, OfferOfADeskThatStopsHeartbeatingGoesToTheOtherAgent) {
  RecordingDesk alice(*stack_->router(), "acme", "alice", {.freeze_on_offer = true});
  ASSERT_TRUE(wait_until([&] { return alice.desk().connected(); }));
  ASSERT_EQ(post("e1", "c1", "hello"), 202);
  ASSERT_TRUE(wait_until([&] { return alice.offers().size() == 1; }));
  RecordingDesk bob(*stack_->router(), "acme", "bob", {});
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until([&] { return bob.assignments().size() == 1; }, std::chrono::seconds(30)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0,
            std::chrono::milliseconds(params_.offer_timeout_ms));
  EXPECT_EQ(bob.offers().at(0).offer_id(), alice.offers().at(0).offer_id().substr(0, 3) + "2");
  EXPECT_EQ(bob.offers().at(0).conversation().conversation_id(),
            alice.offers().at(0).conversation().conversation_id());
}

}  // namespace
}  // namespace omniroute::testing
