// Keys sort the way the router relies on, and parse back to what built them.
#include "router/keys.h"

#include <gtest/gtest.h>

#include "router/timers.h"
#include "tests/support/support.h"

namespace omniroute::router {
namespace {

TEST(Keys, QueueEntriesSortByPriorityThenDueThenArrivalAndParseBack) {
  const std::string urgent = keys::queue_entry("w", "q", 9, 5000, 7);
  const std::string early = keys::queue_entry("w", "q", 0, 1000, 8);
  const std::string late = keys::queue_entry("w", "q", 0, 2000, 1);
  const std::string later_arrival = keys::queue_entry("w", "q", 0, 2000, 2);
  EXPECT_LT(urgent, early);
  EXPECT_LT(early, late);
  EXPECT_LT(late, later_arrival);
  auto e = keys::parse_queue_entry(urgent);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->workspace, "w");
  EXPECT_EQ(e->queue, "q");
  EXPECT_EQ(e->priority, 9);
  EXPECT_EQ(e->due, 5000);
  EXPECT_EQ(e->seq, 7u);
  EXPECT_FALSE(keys::parse_queue_entry("w/q/x"));
  EXPECT_FALSE(keys::parse_queue_entry("w/q/a/b/c"));
}

TEST(Keys, TimersSortByDueAndParseBack) {
  const std::string a = keys::timer(999, 1, "w", "C1", "first_response/warn/5");
  const std::string b = keys::timer(1000, 0, "w", "C1", "C1/1");
  EXPECT_LT(a, b);
  auto t = keys::parse_timer(a);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->due, 999);
  EXPECT_EQ(t->kind, 1);
  EXPECT_EQ(t->id, "C1");
  EXPECT_EQ(t->ref, "first_response/warn/5") << "a ref may hold slashes";
  EXPECT_FALSE(keys::parse_timer("garbage"));
}

TEST(Keys, AConversationsRecordsShareNoPrefixWithAnother) {
  EXPECT_NE(keys::message("w", "C10", 1).rfind(keys::messages_of("w", "C1"), 0), 0u);
  EXPECT_NE(keys::trail_count("w", "C1").rfind(keys::trail_of("w", "C1"), 0), 0u)
      << "the trail count is not one of the trail's entries";
  EXPECT_EQ(keys::integrator_thread("w/inbox/t:abc/def"), "abc/def");
  EXPECT_EQ(keys::integrator_thread("w/inbox/c:U1"), "");
}

TEST(Timers, SameMsFireInKeyOrderDurableOnesComeBackAndCancelledOnesDoNot) {
  testing::TempDir dir;
  std::string err;
  auto store = Store::open(dir.path(), false, err);
  ASSERT_TRUE(store) << err;
  Timers t;
  auto b = store->begin();
  t.add_durable(b, 100, {TimerKind::kSla, "w", "C2", "x", {}});
  t.add_durable(b, 100, {TimerKind::kOfferExpiry, "w", "C1", "C1/1", {}});
  t.add_durable(b, 50, {TimerKind::kSticky, "w", "C3", "50", {}});
  t.add(10, {TimerKind::kHeartbeat, {}, {}, {}, {}});
  t.cancel(b, 50, TimerKind::kSticky, "w", "C3", "50");
  ASSERT_EQ(store->commit(b), "");
  EXPECT_EQ(t.next_ms(), 10);

  Timers reloaded;
  EXPECT_EQ(reloaded.load(*store), 2u);
  auto b2 = store->begin();
  EXPECT_FALSE(reloaded.pop_due(b2, 99));
  auto first = reloaded.pop_due(b2, 100);
  auto second = reloaded.pop_due(b2, 100);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->kind, TimerKind::kOfferExpiry) << "key order: kind 0 before kind 1";
  EXPECT_EQ(second->id, "C2");
  ASSERT_EQ(store->commit(b2), "");
  Timers after_firing;
  EXPECT_EQ(after_firing.load(*store), 0u) << "a fired timer's row is deleted with its step";
}

}  // namespace
}  // namespace omniroute::router
