#include "router/store.h"

#include <gtest/gtest.h>

#include "tests/support/support.h"

namespace omniroute::router {
namespace {

TEST(Store, BatchReadsItsOwnWritesAndCommitsAtomically) {
  testing::TempDir dir;
  std::string err;
  auto s = Store::open(dir.path(), false, err);
  ASSERT_TRUE(s) << err;
  auto b = s->begin();
  b.put(Cf::kConversations, "w/C1", "one");
  std::string v;
  EXPECT_TRUE(b.get(Cf::kConversations, "w/C1", &v));
  EXPECT_EQ(v, "one");
  EXPECT_FALSE(s->get(Cf::kConversations, "w/C1", &v));  // not committed yet
  b.del(Cf::kConversations, "w/C1");
  EXPECT_FALSE(b.get(Cf::kConversations, "w/C1", &v));
  b.put(Cf::kMeta, "offset/t/0", "5");
  ASSERT_EQ(s->commit(b), "");
  EXPECT_FALSE(s->get(Cf::kConversations, "w/C1", &v));
  EXPECT_TRUE(s->get(Cf::kMeta, "offset/t/0", &v));
}

TEST(Store, ColumnFamiliesAreSeparateAndSurviveReopen) {
  testing::TempDir dir;
  std::string err;
  {
    auto s = Store::open(dir.path(), true, err);
    ASSERT_TRUE(s) << err;
    auto b = s->begin();
    b.put(Cf::kAgents, "k", "agent");
    b.put(Cf::kOutbox, "k", "outbox");
    ASSERT_EQ(s->commit(b), "");
  }
  auto s = Store::open(dir.path(), false, err);
  ASSERT_TRUE(s) << err;
  std::string v;
  ASSERT_TRUE(s->get(Cf::kAgents, "k", &v));
  EXPECT_EQ(v, "agent");
  ASSERT_TRUE(s->get(Cf::kOutbox, "k", &v));
  EXPECT_EQ(v, "outbox");
}

TEST(Store, ScanVisitsAPrefixInOrder) {
  testing::TempDir dir;
  std::string err;
  auto s = Store::open(dir.path(), false, err);
  auto b = s->begin();
  b.put(Cf::kMessages, "w/C1/0000000002", "b");
  b.put(Cf::kMessages, "w/C1/0000000001", "a");
  b.put(Cf::kMessages, "w/C10/0000000001", "other");
  ASSERT_EQ(s->commit(b), "");
  std::string seen;
  s->scan(Cf::kMessages, "w/C1/", [&](std::string_view, std::string_view v) {
    seen += v;
    return true;
  });
  EXPECT_EQ(seen, "ab");
}

TEST(Store, ReadOnlyOpenWorksWhileTheWriterHoldsTheDb) {
  testing::TempDir dir;
  std::string err;
  auto s = Store::open(dir.path(), false, err);
  auto b = s->begin();
  b.put(Cf::kConversations, "w/C1", "x");
  ASSERT_EQ(s->commit(b), "");
  auto ro = Store::open_read_only(dir.path(), err);
  ASSERT_TRUE(ro) << err;
  std::string v;
  EXPECT_TRUE(ro->get(Cf::kConversations, "w/C1", &v));
}

}  // namespace
}  // namespace omniroute::router
