#include "router/store.h"

#include <filesystem>

#include <fmt/format.h>
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

// A conversation's messages read in one pass give what a get() of each would: the batch's
// own writes and deletes first, keys that are missing skipped, far-apart keys found too.
TEST(Store, SortedReadsGiveWhatGetGives) {
  testing::TempDir dir;
  std::string err;
  auto s = Store::open(dir.path(), false, err);
  auto key = [](int n) { return fmt::format("w/C1/{:010}", n); };
  auto b = s->begin();
  for (int n = 1; n <= 100; ++n)
    if (n % 7 != 0) b.put(Cf::kMessages, key(n), std::to_string(n));
  b.put(Cf::kMessages, "w/C10/0000000001", "other");
  ASSERT_EQ(s->commit(b), "");
  b.clear();
  b.put(Cf::kMessages, key(7), "new 7");  // not committed yet: the batch's reads see it
  b.del(Cf::kMessages, key(8));
  std::vector<std::string> keys;
  for (int n : {1, 2, 7, 8, 9, 14, 15, 60, 99, 100, 101, 500}) keys.push_back(key(n));
  std::string seen, expected;
  b.get_sorted(Cf::kMessages, keys,
               [&](size_t i, std::string_view v) { seen += fmt::format("{}={} ", i, v); });
  for (size_t i = 0; i < keys.size(); ++i) {
    std::string v;
    if (b.get(Cf::kMessages, keys[i], &v)) expected += fmt::format("{}={} ", i, v);
  }
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(seen, "0=1 1=2 2=new 7 4=9 6=15 7=60 8=99 9=100 ");
  seen.clear();
  s->get_sorted(Cf::kMessages, keys,
                [&](size_t i, std::string_view v) { seen += fmt::format("{}={} ", i, v); });
  EXPECT_EQ(seen, "0=1 1=2 3=8 4=9 6=15 7=60 8=99 9=100 ");
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

// A restore into an empty store as a bulk load: what a replay of the same records would
// leave, in every family, across two ingestions, with a record larger than a block.
TEST(Store, ABulkLoadLeavesWhatTheLatestWritesSay) {
  testing::TempDir dir;
  std::string err;
  auto s = Store::open(dir.path(), false, err);
  ASSERT_TRUE(s) << err;
  auto slot = [](Cf cf, std::string_view key) {
    return std::string(1, static_cast<char>(cf)) + std::string(key);
  };
  const std::string big(3 << 20, 'x');  // larger than a load's block
  auto load = s->begin_load();
  auto put = [&](Cf cf, std::string_view k, std::string_view v) {
    ASSERT_TRUE(load.add(slot(cf, k), &v));
  };
  auto del = [&](Cf cf, std::string_view k) { ASSERT_TRUE(load.add(slot(cf, k), nullptr)); };
  put(Cf::kConversations, "w/C2", "first");
  put(Cf::kConversations, "w/C1", "one");
  put(Cf::kConversations, "w/C2", "second");  // the latest write wins
  put(Cf::kOutbox, "o1", "pending");
  del(Cf::kOutbox, "o1");     // put then deleted: absent
  del(Cf::kTimers, "never");  // only a delete in a family: no file for it
  put(Cf::kMessages, "w/C1/1", big);
  put(Cf::kMeta, "offset/t/0", "7");
  EXPECT_FALSE(load.add(slot(Cf::kLocal, "checkpoint"), nullptr)) << "local keys are not state";
  EXPECT_FALSE(load.add("", nullptr));
  EXPECT_EQ(load.count(), 8u);
  ASSERT_EQ(s->ingest(load), "");
  EXPECT_EQ(load.count(), 0u);
  std::string v;
  ASSERT_TRUE(s->get(Cf::kConversations, "w/C2", &v));
  EXPECT_EQ(v, "second");
  ASSERT_TRUE(s->get(Cf::kConversations, "w/C1", &v));
  EXPECT_EQ(v, "one");
  EXPECT_FALSE(s->get(Cf::kOutbox, "o1", &v));
  EXPECT_FALSE(s->get(Cf::kTimers, "never", &v));
  ASSERT_TRUE(s->get(Cf::kMessages, "w/C1/1", &v));
  EXPECT_EQ(v, big);
  // A second ingestion over the first: its deletes remove what the first put in.
  del(Cf::kConversations, "w/C1");
  put(Cf::kMeta, "offset/t/0", "9");
  put(Cf::kConversations, "w/C3", "three");
  ASSERT_EQ(s->ingest(load), "");
  EXPECT_FALSE(s->get(Cf::kConversations, "w/C1", &v)) << "deleted by the second load";
  ASSERT_TRUE(s->get(Cf::kMeta, "offset/t/0", &v));
  EXPECT_EQ(v, "9");
  std::string seen;
  s->scan(Cf::kConversations, "w/", [&](std::string_view k, std::string_view) {
    seen += std::string(k) + " ";
    return true;
  });
  EXPECT_EQ(seen, "w/C2 w/C3 ");
  // And it all survives a reopen (ingested files are the store's own, nothing left beside).
  s.reset();
  s = Store::open(dir.path(), false, err);
  ASSERT_TRUE(s) << err;
  ASSERT_TRUE(s->get(Cf::kConversations, "w/C3", &v));
  for (const auto& f : std::filesystem::directory_iterator(dir.path()))
    EXPECT_EQ(f.path().filename().string().rfind("load-", 0), std::string::npos) << f.path();
}

}  // namespace
}  // namespace omniroute::router
