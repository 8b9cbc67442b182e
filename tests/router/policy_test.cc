// The routing policy on its own: no store, no clock, no desks.
#include "router/policy.h"

#include <gtest/gtest.h>

namespace omniroute::router {
namespace {

struct Pool {
  std::vector<config::Agent> cfgs;
  std::vector<AgentRt> agents;
  Pool(std::initializer_list<const char*> ids) {
    cfgs.reserve(ids.size());
    for (const char* id : ids) {
      config::Agent a;
      a.id = id;
      a.capacity[v1::CHANNEL_CHAT] = 2;
      cfgs.push_back(a);
    }
    for (auto& c : cfgs) {
      AgentRt rt;
      rt.cfg = &c;
      rt.set_capacity();
      rt.routing_id = "rid-" + c.id;
      rt.presence = v1::PRESENCE_AVAILABLE;
      agents.push_back(rt);
    }
  }
  std::vector<AgentRt*> all() {
    std::vector<AgentRt*> out;
    for (auto& a : agents) out.push_back(&a);
    return out;
  }
  AgentRt& operator[](size_t i) { return agents[i]; }
};

v1::store::Conversation chat() {
  v1::store::Conversation c;
  c.mutable_summary()->set_conversation_id("C1");
  c.mutable_summary()->set_channel(v1::CHANNEL_CHAT);
  return c;
}

TEST(Policy, LongestIdleWinsAndTheTrailRanksEveryEligibleAgent) {
  Pool p{"a", "b", "c"};
  p[0].idle_since_ms = 300;
  p[1].idle_since_ms = 100;
  p[2].idle_since_ms = 200;
  Policy policy;
  const Choice* ch =
      policy.choose(chat(), p.all(), p.all(), config::Strategy::kLongestIdle, "", 0, 1000);
  ASSERT_NE(ch, nullptr);
  ASSERT_EQ(ch->ranked.size(), 3u);
  EXPECT_EQ(ch->ranked[0]->id, "b");
  EXPECT_EQ(ch->ranked[1]->id, "c");
  EXPECT_EQ(ch->why, "longest idle of 3 eligible");
  ASSERT_EQ(ch->considered.size(), 3u);
  EXPECT_TRUE(ch->considered[0].eligible());
  EXPECT_EQ(ch->considered[0].reason(), "rank 1: idle since 100, 0 open");
}

TEST(Policy, LeastBusyAndRoundRobinOrderAsTheirNamesSay) {
  Pool p{"a", "b", "c"};
  p[0].hold("X", v1::CHANNEL_CHAT);
  Policy policy;
  const Choice* busy =
      policy.choose(chat(), p.all(), p.all(), config::Strategy::kLeastBusy, "", 0, 1000);
  ASSERT_NE(busy, nullptr);
  EXPECT_EQ(busy->ranked.back()->id, "a");  // holds one: last
  const Choice* rr =
      policy.choose(chat(), p.all(), p.all(), config::Strategy::kRoundRobin, "b", 0, 1000);
  ASSERT_NE(rr, nullptr);
  EXPECT_EQ(rr->ranked[0]->id, "c");  // the next id after the last one offered
  EXPECT_EQ(rr->ranked[1]->id, "a");  // wraps around
}

TEST(Policy, StickyAgentFirstOthersWaitUntilTheDeadline) {
  Pool p{"a", "b"};
  auto c = chat();
  c.set_sticky_agent_id("b");
  c.set_sticky_until_ms(5000);
  Policy policy;
  const Choice* ch =
      policy.choose(c, p.all(), p.all(), config::Strategy::kLongestIdle, "", 0, 1000);
  ASSERT_NE(ch, nullptr);
  EXPECT_EQ(ch->ranked.size(), 1u) << "a waits while the sticky wait lasts";
  EXPECT_EQ(ch->why, "sticky: served this customer last");
  std::string why;
  EXPECT_EQ(fit(p[0], c, 0, 1000, &why), Unfit::kSticky);
  EXPECT_EQ(why, "waiting for b (sticky) until 5000");
  EXPECT_EQ(fit(p[0], c, 0, 6000, nullptr), Unfit::kOk);
}

TEST(Policy, EveryReasonAnAgentCannotTakeItIsNamed) {
  Pool p{"a"};
  auto c = chat();
  std::string why;
  p[0].presence = v1::PRESENCE_AWAY;
  EXPECT_EQ(fit(p[0], c, 0, 0, &why), Unfit::kAway);
  p[0].presence = v1::PRESENCE_AVAILABLE;
  c.add_rejected_by("a");
  EXPECT_EQ(fit(p[0], c, 0, 0, &why), Unfit::kRejected);
  c.clear_rejected_by();
  (*c.mutable_skills())["billing"] = 2;
  EXPECT_EQ(fit(p[0], c, 0, 0, &why), Unfit::kSkill);
  EXPECT_EQ(why, "needs billing >= 2 (has 0)");
  EXPECT_EQ(fit(p[0], c, 2, 0, &why), Unfit::kOk) << "two overflow levels relax the skill";
  c.clear_skills();
  p[0].hold("X", v1::CHANNEL_CHAT);
  p[0].hold("Y", v1::CHANNEL_CHAT);
  EXPECT_EQ(fit(p[0], c, 0, 0, &why), Unfit::kChannelFull);
  EXPECT_EQ(why, "chat full 2/2");
  p[0].routing_id.clear();
  EXPECT_EQ(fit(p[0], c, 0, 0, &why), Unfit::kOffline);
}

TEST(Policy, NobodyEligibleIsNoChoiceAndTheAbsentAreExplained) {
  Pool p{"a", "b"};
  p[1].routing_id.clear();  // b is offline: not in the pool
  auto c = chat();
  c.add_rejected_by("a");
  Policy policy;
  std::vector<AgentRt*> pool{&p[0]};
  EXPECT_EQ(policy.choose(c, pool, p.all(), config::Strategy::kLongestIdle, "", 0, 0), nullptr);
  c.clear_rejected_by();
  const Choice* ch = policy.choose(c, pool, p.all(), config::Strategy::kLongestIdle, "", 0, 0);
  ASSERT_NE(ch, nullptr);
  ASSERT_EQ(ch->considered.size(), 2u);
  EXPECT_EQ(ch->considered[1].agent_id(), "b");
  EXPECT_EQ(ch->considered[1].reason(), "offline");
}

}  // namespace
}  // namespace omniroute::router
