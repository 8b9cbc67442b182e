// Routing engine behaviour with a controllable clock and a real RocksDB on a temp dir.
#include "router/keys.h"
#include "tests/router/engine_fixture.h"

namespace omniroute::router {
namespace {

class EngineTest : public EngineFixture {};

TEST_F(EngineTest, NewConversationIsOfferedToTheLongestIdleAgent) {
  hello("d1", "alice");
  hello("d2", "bob");
  ASSERT_EQ(take("d1", K::kWelcome).size(), 1u);
  message("m1", "c1@x");
  auto offers = take("d1", K::kOffer);
  ASSERT_EQ(offers.size(), 1u);  // both idle since ever: ties go by id
  EXPECT_EQ(offers[0].offer().conversation().conversation_id(), "C1");
  EXPECT_EQ(offers[0].offer().preview(), "body of m1");
  clock_.t += 10;
  message("m2", "c2@x");
  EXPECT_EQ(take("d2", K::kOffer).size(), 1u);  // alice just got work, bob idled longer
  EXPECT_TRUE(take("d1", K::kOffer).empty());
}

TEST_F(EngineTest, AcceptAssignsWithHistoryAndForwardsLaterMessages) {
  hello("d1", "alice");
  message("m1", "c1@x");
  auto offer = take("d1", K::kOffer).at(0).offer();
  message("m2", "c1@x");  // same customer, same open conversation
  accept("d1", offer.offer_id());
  auto as = take("d1", K::kAssignment);
  ASSERT_EQ(as.size(), 1u);
  ASSERT_EQ(as[0].assignment().history_size(), 2);
  EXPECT_EQ(as[0].assignment().history(1).external_message_id(), "m2");
  message("m3", "c1@x");
  auto fwd = take("d1", K::kCustomerMessage);
  ASSERT_EQ(fwd.size(), 1u);
  EXPECT_EQ(fwd[0].customer_message().message().seq(), 3u);
  EXPECT_EQ(conversation("C1").accepted_count(), 1u);
}

TEST_F(EngineTest, DuplicateExternalIdIsRecordedOnce) {
  hello("d1", "alice");
  message("m1", "c1@x");
  message("m1", "c1@x");
  EXPECT_EQ(conversation("C1").message_count(), 1u);
  EXPECT_EQ(engine_->counters().duplicates, 1u);
}

TEST_F(EngineTest, ThreadsByIntegratorThreadIdElsePerCustomer) {
  message("m1", "c1@x", "T1");
  message("m2", "c1@x", "T2");
  message("m3", "c1@x", "T1");
  message("m4", "c1@x");
  message("m5", "c1@x");
  EXPECT_EQ(conversation("C1").message_count(), 2u);  // T1
  EXPECT_EQ(conversation("C2").message_count(), 1u);  // T2
  EXPECT_EQ(conversation("C3").message_count(), 2u);  // no thread id: per customer
  EXPECT_EQ(engine_->counters().conversations, 3u);
}

TEST_F(EngineTest, CapacityIsNeverExceededAndFreedCapacityDrainsTheQueue) {
  hello("d1", "alice");  // capacity 3, bob offline
  for (int i = 0; i < 5; ++i) message("m" + std::to_string(i), "c" + std::to_string(i));
  auto offers = take("d1", K::kOffer);
  ASSERT_EQ(offers.size(), 3u);
  for (const auto& o : offers) accept("d1", o.offer().offer_id());
  EXPECT_EQ(conversation("C4").state(), v1::store::CONVERSATION_STATE_QUEUED);
  resolve("d1", "C1");
  auto next = take("d1", K::kOffer);
  ASSERT_EQ(next.size(), 1u);                                         // at once, no sweep
  EXPECT_EQ(next[0].offer().conversation().conversation_id(), "C4");  // arrival order
}

// What an agent holds is loaded with its channel from the held record; records written
// before they carried it (empty) are still counted, through the conversation.
TEST_F(EngineTest, HeldConversationsCountAfterARestartWhateverTheirRecordHolds) {
  hello("d1", "alice");  // capacity 3, bob offline
  for (int i = 0; i < 3; ++i) message("m" + std::to_string(i), "c" + std::to_string(i));
  auto offers = take("d1", K::kOffer);
  ASSERT_EQ(offers.size(), 3u);
  for (const auto& o : offers) accept("d1", o.offer().offer_id());
  take("d1", K::kWelcome);
  std::string v;
  ASSERT_TRUE(store_->get(Cf::kAgents, keys::held("acme", "alice", "C2"), &v));
  EXPECT_FALSE(v.empty()) << "the channel is in the record";
  {
    auto b = store_->begin();
    b.put(Cf::kAgents, keys::held("acme", "alice", "C1"), "");      // as written before
    b.put(Cf::kAgents, keys::held("acme", "alice", "C3"), "junk");  // not a channel
    ASSERT_EQ(store_->commit(b), "");
  }
  restart();
  hello("d1", "alice");
  auto w = take("d1", K::kWelcome);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].welcome().open_conversations_size(), 3);
  message("m3", "c3");
  EXPECT_TRUE(take("d1", K::kOffer).empty()) << "alice is full: all three still count";
  resolve("d1", "C1");
  EXPECT_EQ(take("d1", K::kOffer).size(), 1u) << "and a freed one makes room";
}

TEST_F(EngineTest, RejectedOfferGoesToTheNextAgentAndIsRemembered) {
  hello("d1", "alice");
  hello("d2", "bob");
  message("m1", "c1@x");
  auto offer = take("d1", K::kOffer).at(0).offer();
  v1::AgentFrame rej;
  rej.mutable_reject()->set_offer_id(offer.offer_id());
  desk("d1", rej);
  auto to_bob = take("d2", K::kOffer);
  ASSERT_EQ(to_bob.size(), 1u);
  EXPECT_EQ(to_bob[0].offer().offer_id(), "C1/2");
  EXPECT_EQ(conversation("C1").rejected_by(0), "alice");
}

TEST_F(EngineTest, ExpiredOfferIsWithdrawnAndOfferedToTheNextAgent) {
  hello("d1", "alice");
  hello("d2", "bob");
  message("m1", "c1@x");
  ASSERT_EQ(take("d1", K::kOffer).size(), 1u);
  for (int i = 0; i < 30; ++i) {  // desks stay alive, alice just doesn't answer
    heartbeat("d1");
    heartbeat("d2");
    tick(1000);
  }
  EXPECT_EQ(take("d1", K::kOfferWithdrawn).size(), 1u);
  EXPECT_EQ(take("d2", K::kOffer).size(), 1u);
}

TEST_F(EngineTest, SilentDeskLosesItsOffersAtTheHeartbeatTimeout) {
  hello("d1", "alice");
  hello("d2", "bob");
  message("m1", "c1@x");
  ASSERT_EQ(take("d1", K::kOffer).size(), 1u);
  for (int i = 0; i < 4; ++i) {
    heartbeat("d2");  // only bob's desk is alive
    tick(1000);
  }
  auto to_bob = take("d2", K::kOffer);
  ASSERT_EQ(to_bob.size(), 1u);
  // Alice's desk is offline now: its frames are answered with UnknownSession.
  heartbeat("d1");
  auto err = take("d1", K::kError);
  ASSERT_EQ(err.size(), 1u);
  EXPECT_EQ(err[0].error().code(), v1::Error::CODE_UNKNOWN_SESSION);
}

TEST_F(EngineTest, ReplyIsPublishedOnceEvenWhenTheDeskResendsIt) {
  hello("d1", "alice");
  message("m1", "c1@x", "T9");
  accept("d1", take("d1", K::kOffer).at(0).offer().offer_id());
  reply("d1", "C1", "r1");
  reply("d1", "C1", "r1");
  auto acks = take("d1", K::kReplyAck);
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_EQ(acks[0].reply_ack().outbound_id(), acks[1].reply_ack().outbound_id());
  auto out = outbound();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outbound_id(), "acme/C1/2");
  EXPECT_EQ(out[0].customer_handle(), "c1@x");
  EXPECT_EQ(out[0].thread().thread_id(), "T9");
  EXPECT_EQ(out[0].agent_id(), "alice");
}

TEST_F(EngineTest, OnlyTheAssignedAgentMayReplyOrResolve) {
  hello("d1", "alice");
  hello("d2", "bob");
  message("m1", "c1@x");
  accept("d1", take("d1", K::kOffer).at(0).offer().offer_id());
  reply("d2", "C1", "r1");
  resolve("d2", "C1");
  auto errs = take("d2", K::kError);
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_EQ(errs[0].error().code(), v1::Error::CODE_CONFLICT);
  EXPECT_TRUE(outbound().empty());
  EXPECT_EQ(conversation("C1").state(), v1::store::CONVERSATION_STATE_ASSIGNED);
}

TEST_F(EngineTest, ResolvedConversationIsClosedAndTheNextMessageOpensANewOne) {
  hello("d1", "alice");
  message("m1", "c1@x");
  accept("d1", take("d1", K::kOffer).at(0).offer().offer_id());
  resolve("d1", "C1");
  EXPECT_EQ(take("d1", K::kResolved).size(), 1u);
  EXPECT_EQ(conversation("C1").state(), v1::store::CONVERSATION_STATE_RESOLVED);
  message("m2", "c1@x");
  EXPECT_EQ(conversation("C2").message_count(), 1u);
}

TEST_F(EngineTest, DeliveryStatusIsRecordedAndForwarded) {
  hello("d1", "alice");
  message("m1", "c1@x");
  accept("d1", take("d1", K::kOffer).at(0).offer().offer_id());
  reply("d1", "C1", "r1");
  v1::Envelope env;
  auto* s = env.mutable_delivery_status();
  s->set_workspace_id("acme");
  s->set_outbound_id("acme/C1/2");
  s->set_state(v1::DeliveryStatus::STATE_SENT);
  inbound(env);
  s->set_state(v1::DeliveryStatus::STATE_DEFERRED);  // late and stale: ignored
  inbound(env);
  std::string v;
  ASSERT_TRUE(store_->get(Cf::kMessages, "acme/C1/0000000002", &v));
  v1::ConversationMessage m;
  m.ParseFromString(v);
  EXPECT_EQ(m.delivery(), v1::DeliveryStatus::STATE_SENT);
  EXPECT_EQ(take("d1", K::kDeliveryUpdate).size(), 1u);
}

TEST_F(EngineTest, UndecodableRecordGoesToTheDlqAndTheOffsetMovesOn) {
  auto b = store_->begin();
  engine_->apply_record(b, "omni.inbound", 2, 41, "acme", "\xff\xff garbage");
  commit(b);
  ASSERT_EQ(outbox_.size(), 1u);
  EXPECT_EQ(outbox_[0].entry.topic(), "omni.dlq");
  v1::DeadLetter dl;
  dl.ParseFromString(outbox_[0].entry.value());
  EXPECT_EQ(dl.reason(), "undecodable Envelope");
  EXPECT_EQ(dl.source_offset(), 41);
  EXPECT_EQ(engine_->stored_offsets("omni.inbound").at(2), 42);
  message("m1", "c1@x");  // and the next record is processed as usual
  EXPECT_EQ(conversation("C1").message_count(), 1u);
}

TEST_F(EngineTest, UnknownWorkspaceGoesToTheDlq) {
  message("m1", "c1@x", "", "nope");
  ASSERT_EQ(outbox_.size(), 1u);
  EXPECT_EQ(outbox_[0].entry.topic(), "omni.dlq");
}

TEST_F(EngineTest, RepeatedHelloOnTheSameConnectionGetsOneWelcome) {
  hello("d1", "alice");
  hello("d1", "alice");
  hello("d1", "alice");
  EXPECT_EQ(take("d1", K::kWelcome).size(), 1u);
  // However long the Welcome takes to leave (its step waits for Kafka), the desk's repeats
  // on that connection build no other one: the heartbeat timeout (3 s) passes, the desk is
  // alive all along.
  for (int i = 0; i < 5; ++i) {
    tick(900);
    hello("d1", "alice");
  }
  EXPECT_EQ(take("d1", K::kWelcome).size(), 0u);
  // Frames to it were dropped (its queue was full): its next Hello gets a new Welcome.
  engine_->resync_desk("d1");
  hello("d1", "alice");
  EXPECT_EQ(take("d1", K::kWelcome).size(), 1u);
  tick(5000);  // silent past the heartbeat timeout: gone; its next Hello starts a session
  hello("d1", "alice");
  EXPECT_EQ(take("d1", K::kWelcome).size(), 1u);
}

TEST_F(EngineTest, ADeskIsSilentOnlyUpToTheFramesTheRouterHasRead) {
  hello("d1", "alice");
  message("m1", "c1");
  accept("d1", take("d1", K::kOffer).at(0).offer().offer_id());
  // The router was busy: frames that came in since it last ran its socket dry are not read
  // yet. The desk's silence is counted up to then, and it keeps its session.
  engine_->desks_read_until(clock_.t);
  tick(5000);
  EXPECT_EQ(conversation("C1").agent_id(), "alice");
  heartbeat("d1");
  EXPECT_TRUE(take("d1", K::kError).empty());
  // Read up to now, and silent since: gone (its conversation waits out the presence grace).
  tick(4000);
  engine_->desks_read_until(clock_.t);
  tick(1000);
  heartbeat("d1");
  auto errs = take("d1", K::kError);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].error().code(), v1::Error::CODE_UNKNOWN_SESSION);
  // A router that never runs its socket dry (a flood) still finds a dead desk: its silence
  // is counted at most 4 timeouts (12 s) back from now.
  hello("d1", "alice");
  engine_->desks_read_until(clock_.t);
  tick(16000);  // 16 s silent, read 16 s ago: judged at 12 s back, 4 s of silence: gone
  heartbeat("d1");
  errs = take("d1", K::kError);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].error().code(), v1::Error::CODE_UNKNOWN_SESSION);
}

TEST_F(EngineTest, AConnectionThatSaysHelloAsAnotherAgentLeavesTheFirstOneOffline) {
  hello("d1", "alice");
  hello("d1", "bob");  // the same desk connection now signs in as bob
  take("d1", K::kWelcome);
  message("m1", "c1");
  // Only bob is online: alice's old binding to d1 is gone, so the offer is bob's.
  auto offers = take("d1", K::kOffer);
  ASSERT_EQ(offers.size(), 1u);
  accept("d1", offers[0].offer().offer_id());
  EXPECT_EQ(conversation("C1").agent_id(), "bob");
}

TEST_F(EngineTest, HelloWithUnknownAgentIsRefused) {
  hello("d1", "mallory");
  auto errs = take("d1", K::kError);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].error().code(), v1::Error::CODE_UNAUTHORIZED);
}

TEST_F(EngineTest, AfterARestartOffersAndAssignmentsResumeOnHello) {
  hello("d1", "alice");
  message("m1", "c1@x");
  message("m2", "c2@x");
  auto offers = take("d1", K::kOffer);
  ASSERT_EQ(offers.size(), 2u);
  accept("d1", offers[0].offer().offer_id());
  frames_.clear();
  restart();
  hello("d9", "alice");  // new connection after the restart
  auto w = take("d9", K::kWelcome);
  ASSERT_EQ(w.size(), 1u);
  ASSERT_EQ(w[0].welcome().open_conversations_size(), 1);
  EXPECT_EQ(w[0].welcome().open_conversations(0).conversation().conversation_id(), "C1");
  ASSERT_EQ(w[0].welcome().pending_offers_size(), 1);
  EXPECT_EQ(w[0].welcome().pending_offers(0).offer_id(), offers[1].offer().offer_id());
  accept("d9", offers[1].offer().offer_id());
  EXPECT_EQ(take("d9", K::kAssignment).size(), 1u);
  message("m3", "c3@x");  // ids keep counting from the store
  EXPECT_EQ(conversation("C3").message_count(), 1u);
}

TEST_F(EngineTest, AfterARestartOffersOfDesksThatDoNotReturnMoveOn) {
  hello("d1", "alice");
  message("m1", "c1@x");
  ASSERT_EQ(take("d1", K::kOffer).size(), 1u);
  restart();
  hello("d2", "bob");
  for (int i = 0; i < 4; ++i) {
    heartbeat("d2");
    tick(1000);
  }
  EXPECT_EQ(take("d2", K::kOffer).size(), 1u);
}

TEST_F(EngineTest, AReplyKafkaRefusesGoesToTheDlqAndTheDeskSeesItFailed) {
  hello("d1", "alice");
  message("m1", "jane@x");
  accept("d1", "C1/1");
  reply("d1", "C1", "r1");
  ASSERT_EQ(take("d1", K::kReplyAck).size(), 1u);
  const OutboxRecord* rec = nullptr;
  for (const auto& o : outbox_)
    if (o.entry.topic() == "omni.outbound.webhook") rec = &o;
  ASSERT_NE(rec, nullptr);
  const OutboxRecord refused = *rec;
  outbox_.clear();
  {
    auto b = store_->begin();
    engine_->outbox_refused(b, refused, "Broker: Message size too large");
    commit(b);
  }
  // The desk is told, the record is in the DLQ with why, and it left the outbox.
  auto updates = take("d1", K::kDeliveryUpdate);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].delivery_update().state(), v1::DeliveryStatus::STATE_FAILED);
  EXPECT_NE(updates[0].delivery_update().detail().find("Message size too large"),
            std::string::npos);
  bool dlq = false;
  for (const auto& o : outbox_) {
    v1::DeadLetter d;
    if (o.entry.topic() == "omni.dlq" && d.ParseFromString(o.entry.value()))
      dlq = d.reason().find("Message size too large") != std::string::npos &&
            d.source_topic() == "omni.outbound.webhook";
  }
  EXPECT_TRUE(dlq);
  std::string v;
  EXPECT_FALSE(store_->get(Cf::kOutbox, refused.key, &v)) << "still in the outbox";
  restart();  // and it is not produced again after a restart
  for (const auto& o : engine_->pending_outbox()) EXPECT_NE(o.key, refused.key);
}

class TwoWorkspaces : public EngineTest {
 protected:
  void SetUp() override {
    start(R"(state: {dir: ")" + dir_.path() + R"(/state"}
workspaces:
  - id: w1
    queues: [{id: q}]
    inboxes: [{id: api, channel: webhook, queue: q, settings: {secret: s}}]
    agents: [{id: alice, capacity: {webhook: 5}, curve_public_key: ")" +
          testing::test_agent_keys("w1", "alice").public_key + R"("}]
  - id: w2
    queues: [{id: q}]
    inboxes: [{id: api, channel: webhook, queue: q, settings: {secret: s}}]
    agents: [{id: alice, capacity: {webhook: 5}, curve_public_key: ")" +
          testing::test_agent_keys("w2", "alice").public_key + R"("}]
)");
  }
};

TEST_F(TwoWorkspaces, AgentsNeverSeeAnotherWorkspacesConversations) {
  hello("a1", "alice", "w1");
  hello("a2", "alice", "w2");
  message("m1", "c@x", "", "w1");
  ASSERT_EQ(take("a1", K::kOffer).size(), 1u);
  EXPECT_TRUE(take("a2", K::kOffer).empty());
  accept("a2", "C1/1");  // w2's alice guessing w1's offer id
  EXPECT_TRUE(take("a2", K::kAssignment).empty());
  reply("a2", "C1", "r1");
  EXPECT_TRUE(outbound().empty());
  EXPECT_EQ(conversation("C1", "w1").state(), v1::store::CONVERSATION_STATE_OFFERED);
}

class GatewayKeys : public EngineTest {
 protected:
  void SetUp() override { start(yaml(true)); }
  std::string yaml(bool with_gateway) {
    return R"(state: {dir: ")" + dir_.path() + R"(/state"}
router:
)" +
           (with_gateway ? R"(  gateways: [{name: web, public_key: ")" +
                               testing::test_agent_keys("gw", "web").public_key +
                               R"(", workspaces: [w1]}]
)"
                         : std::string()) +
           R"(workspaces:
  - id: w1
    queues: [{id: q}]
    inboxes: [{id: api, channel: webhook, queue: q, settings: {secret: s}}]
    agents: [{id: alice, capacity: {webhook: 5}, curve_public_key: ")" +
           testing::test_agent_keys("w1", "alice").public_key + R"("}]
  - id: w2
    queues: [{id: q}]
    inboxes: [{id: api, channel: webhook, queue: q, settings: {secret: s}}]
    agents: [{id: bob, capacity: {webhook: 5}, curve_public_key: ")" +
           testing::test_agent_keys("w2", "bob").public_key + R"("}]
)";
  }
  void hello_as(const std::string& rid, const std::string& ws, const std::string& agent) {
    v1::AgentFrame f;
    f.mutable_hello()->set_protocol_version(1);
    f.mutable_hello()->set_workspace_id(ws);
    f.mutable_hello()->set_agent_id(agent);
    auto b = store_->begin();
    engine_->apply_desk(b, rid, f.SerializeAsString(),
                        testing::test_agent_keys("gw", "web").public_key);
    commit(b);
  }
};

TEST_F(GatewayKeys, AGatewaySpeaksForAgentsOfItsWorkspacesOnlyUntilItIsRemoved) {
  hello_as("g1", "w1", "alice");
  EXPECT_EQ(take("g1", K::kWelcome).size(), 1u);
  hello_as("g2", "w2", "bob");
  auto refused = take("g2", K::kError);
  ASSERT_EQ(refused.size(), 1u) << "not a workspace it was given";
  EXPECT_EQ(refused[0].error().code(), v1::Error::CODE_UNAUTHORIZED);
  // A reload without the gateway ends the sessions it held.
  std::vector<std::string> errors;
  auto next = config::parse(yaml(false), errors);
  ASSERT_TRUE(next) << errors.front();
  auto b = store_->begin();
  ASSERT_TRUE(engine_->reconfigure(b, std::make_shared<const config::Config>(*next)).ok());
  commit(b);
  auto ended = take("g1", K::kError);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].error().code(), v1::Error::CODE_UNAUTHORIZED);
}

TEST_F(TwoWorkspaces, AKeyOpensOnlyItsOwnAgentsSession) {
  // w1's alice's key, saying Hello as w2's alice (same agent id, other workspace).
  v1::AgentFrame f;
  f.mutable_hello()->set_protocol_version(1);
  f.mutable_hello()->set_workspace_id("w2");
  f.mutable_hello()->set_agent_id("alice");
  {
    auto b = store_->begin();
    engine_->apply_desk(b, "x", f.SerializeAsString(),
                        testing::test_agent_keys("w1", "alice").public_key);
    commit(b);
  }
  auto errors = take("x", K::kError);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].error().code(), v1::Error::CODE_UNAUTHORIZED);
  EXPECT_TRUE(take("x", K::kWelcome).empty());
  // Without a key (a token or NULL connection on a CURVE router) nobody gets in either.
  {
    auto b = store_->begin();
    engine_->apply_desk(b, "y", f.SerializeAsString(), "");
    commit(b);
  }
  EXPECT_EQ(take("y", K::kError).size(), 1u);
}

}  // namespace
}  // namespace omniroute::router
