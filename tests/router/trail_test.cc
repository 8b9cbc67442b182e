// router.max_trail: a conversation's decision trail keeps its newest decisions only.
#include "router/keys.h"
#include "tests/router/engine_fixture.h"

namespace omniroute::router {
namespace {

class Trail : public EngineFixture {
  testing::ConfigParams params() override {
    auto p = EngineFixture::params();
    p.extra_router_yaml = "  max_trail: 3\n";
    p.offer_timeout_ms = 1000;
    return p;
  }

 protected:
  std::vector<v1::RoutingEvent> trail(const std::string& conv) {
    std::vector<v1::RoutingEvent> out;
    store_->scan(Cf::kTrail, keys::trail_of("acme", conv),
                 [&](std::string_view, std::string_view v) {
                   v1::RoutingEvent e;
                   if (e.ParseFromArray(v.data(), static_cast<int>(v.size()))) out.push_back(e);
                   return true;
                 });
    return out;
  }
};

TEST_F(Trail, OnlyTheNewestDecisionsAreKeptInOrder) {
  hello("d1", "alice");
  message("m1", "cust");
  // opened, classified, queued, offered; then the offer expires: expired, queued again.
  tick(1500);
  auto t = trail("C1");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].kind(), v1::RoutingEvent::KIND_OFFERED) << "the oldest three are gone";
  EXPECT_EQ(t[1].kind(), v1::RoutingEvent::KIND_OFFER_EXPIRED);
  EXPECT_EQ(t[2].kind(), v1::RoutingEvent::KIND_QUEUED);
  EXPECT_EQ(t[2].reason(), "re-queued: offer expired");
  restart();  // the bound holds across restarts (the count is stored with the trail)
  hello("d2", "bob");
  t = trail("C1");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[2].kind(), v1::RoutingEvent::KIND_OFFERED);
  EXPECT_EQ(t[2].agent_id(), "bob");
}

}  // namespace
}  // namespace omniroute::router
