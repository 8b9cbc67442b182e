// A supervisor moves a conversation to another queue (ForceAssign.to_queue_id): taken from
// whoever holds it, queued in the new queue with its skills, offered there; agents may not.
#include "tests/router/engine_fixture.h"

namespace omniroute::router {
namespace {

class SupervisorMove : public EngineFixture {
  testing::ConfigParams params() override {
    auto p = EngineFixture::params();
    p.agents = {{"alice", 3, false}, {"bob", 3, true}, {"carol", 3, false}};
    return p;
  }
  std::string yaml() override {
    std::string y = EngineFixture::yaml();
    y.replace(y.find("    queues:\n      - id: general\n"), 32,
              "    queues:\n      - id: general\n      - id: billing\n");
    // carol serves billing only.
    const std::string carol =
        "      - id: carol\n        name: Agent carol\n        queues: [general]";
    y.replace(y.find(carol), carol.size(),
              "      - id: carol\n        name: Agent carol\n        queues: [billing]");
    return y;
  }

 protected:
  void move(const std::string& rid, const std::string& conv, const std::string& queue,
            const std::string& agent = {}) {
    v1::AgentFrame f;
    f.mutable_force_assign()->set_conversation_id(conv);
    f.mutable_force_assign()->set_to_queue_id(queue);
    f.mutable_force_assign()->set_agent_id(agent);
    f.mutable_force_assign()->set_note("billing question");
    desk(rid, f);
  }
};

TEST_F(SupervisorMove, FromAnAgentToAnotherQueueWhereItIsOffered) {
  hello("da", "alice");
  hello("db", "bob");
  hello("dc", "carol");
  message("m1", "cust");
  const auto offered = take("da", K::kOffer);
  ASSERT_EQ(offered.size(), 1u);
  accept("da", offered[0].offer().offer_id());
  take("da", K::kAssignment);
  // alice is no supervisor: refused.
  move("da", "C1", "billing");
  EXPECT_EQ(take("da", K::kError).at(0).error().code(), v1::Error::CODE_UNAUTHORIZED);
  // Unknown queue, or both an agent and a queue: refused.
  move("db", "C1", "nowhere");
  move("db", "C1", "billing", "carol");
  auto errs = take("db", K::kError);
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_EQ(errs[0].error().code(), v1::Error::CODE_INVALID);
  EXPECT_EQ(conversation("C1").agent_id(), "alice");
  // bob moves it: alice loses it, carol (billing) is offered it.
  move("db", "C1", "billing");
  EXPECT_EQ(take("da", K::kConversationGone).size(), 1u);
  auto to_carol = take("dc", K::kOffer);
  ASSERT_EQ(to_carol.size(), 1u);
  const auto c = conversation("C1");
  EXPECT_EQ(c.summary().queue_id(), "billing");
  EXPECT_EQ(c.state(), v1::store::CONVERSATION_STATE_OFFERED);
  EXPECT_EQ(c.agent_id(), "carol");
  accept("dc", to_carol[0].offer().offer_id());
  auto as = take("dc", K::kAssignment);
  ASSERT_EQ(as.size(), 1u);
  const auto& h = as[0].assignment().history();
  EXPECT_EQ(h[h.size() - 1].text_body(),
            "Moved to queue billing by supervisor bob: billing question");
}

}  // namespace
}  // namespace omniroute::router
