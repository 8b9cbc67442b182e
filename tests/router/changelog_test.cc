// The changelog as records (router/changelog.h): a working day of the router, every
// committed write kept in order, replayed into an empty store, gives the same state in
// every column family, and a router opened on it carries on where the first one was.
#include "tests/router/engine_fixture.h"

namespace omniroute::router {
namespace {

class Changelog : public EngineFixture {
 protected:
  // Every key and value of every column family, in order.
  static std::vector<std::string> dump(Store& s) {
    std::vector<std::string> out;
    for (size_t cf = 0; cf < static_cast<size_t>(Cf::kCount); ++cf)
      s.scan(static_cast<Cf>(cf), "", [&](std::string_view k, std::string_view v) {
        out.push_back(fmt::format("{}|{}|{}", cf, k, v));
        return true;
      });
    return out;
  }
};

TEST_F(Changelog, ReplayedIntoAnEmptyStoreItIsTheSameState) {
  hello("d1", "alice");
  message("m1", "cust1");
  message("m2", "cust2");
  accept("d1", "C1/1");
  reply("d1", "C1", "r1");
  message("m3", "cust1");  // a message on an assigned conversation
  tick(40000);             // C2's offer expires: back to the queue, re-offered
  resolve("d1", "C1");
  heartbeat("d1");
  ASSERT_FALSE(changelog_.empty());
  bool deletes = false;
  for (const auto& r : changelog_) deletes = deletes || !r.value;
  EXPECT_TRUE(deletes) << "resolving, accepting and expiring delete keys: tombstones";

  testing::TempDir other;
  std::string err;
  auto restored = Store::open(other.path() + "/state", false, err);
  ASSERT_TRUE(restored) << err;
  // In steps of 50 records, as a restore reading a topic would.
  for (size_t i = 0; i < changelog_.size(); i += 50) {
    auto b = restored->begin();
    const std::vector<ChangelogRecord> part(
        changelog_.begin() + static_cast<std::ptrdiff_t>(i),
        changelog_.begin() + static_cast<std::ptrdiff_t>(std::min(changelog_.size(), i + 50)));
    ASSERT_EQ(restore_into(b, part), "");
    ASSERT_EQ(restored->commit(b), "");
  }
  EXPECT_EQ(dump(*restored), dump(*store_));

  // A router on the restored store carries on: the waiting conversation, the open offer's
  // timer and the counters are there.
  ManualClock clock;
  clock.t = clock_.t;
  Engine engine(cfg_, *restored, clock);
  engine.load();
  auto b = restored->begin();
  v1::Envelope env;
  auto* m = env.mutable_message();
  m->set_event_id("ev-m4");
  m->set_workspace_id("acme");
  m->set_inbox_id("api");
  m->set_channel(v1::CHANNEL_WEBHOOK);
  m->set_customer_handle("cust3");
  m->set_external_message_id("m4");
  m->set_text_body("hello");
  engine.apply_record(b, "omni.inbound", 0, offset_++, "acme", env.SerializeAsString());
  ASSERT_EQ(engine.commit(b), "");
  std::string v;
  EXPECT_TRUE(restored->get(Cf::kConversations, "acme/C3", &v)) << "the next id, not C1 again";
}

// A restore's path (Store::Replay): the payloads as they come off the topic, straight into
// RocksDB writes in order, give the same state; a key that is not replicated state is
// refused and a later write of a key wins over an earlier one.
TEST_F(Changelog, PayloadsReplayedStraightIntoTheStoreGiveTheSameState) {
  hello("d1", "alice");
  message("m1", "cust1");
  message("m2", "cust2");
  accept("d1", "C1/1");
  reply("d1", "C1", "r1");
  tick(40000);
  resolve("d1", "C1");
  ASSERT_FALSE(changelog_.empty());

  testing::TempDir other;
  std::string err;
  auto restored = Store::open(other.path() + "/state", false, err);
  ASSERT_TRUE(restored) << err;
  auto replay = restored->begin_replay();
  for (size_t i = 0; i < changelog_.size(); ++i) {
    const std::string payload = changelog_payload(changelog_[i]);
    const auto value = changelog_value(payload);
    ASSERT_TRUE(replay.add(changelog_[i].key, value ? &*value : nullptr)) << i;
    if (i % 50 == 49) {
      ASSERT_EQ(restored->commit(replay), "");
    }
  }
  ASSERT_EQ(restored->commit(replay), "");
  EXPECT_EQ(replay.count(), 0u) << "emptied by the commit";
  EXPECT_EQ(dump(*restored), dump(*store_));

  const std::string local = std::string(1, static_cast<char>(Cf::kLocal)) + "x";
  const std::string unknown = std::string(1, static_cast<char>(Cf::kCount)) + "y";
  const std::string_view v = "1";
  EXPECT_FALSE(replay.add(local, &v)) << "this copy's own records are never replicated";
  EXPECT_FALSE(replay.add(unknown, &v));
  EXPECT_FALSE(replay.add(std::string(1, '\0'), &v)) << "a family byte without a key";
  EXPECT_EQ(replay.count(), 0u);

  const std::string slot = std::string(1, static_cast<char>(Cf::kMeta)) + "k";
  const std::string_view first = "first", second = "second";
  ASSERT_TRUE(replay.add(slot, &first));
  ASSERT_TRUE(replay.add(slot, &second));
  ASSERT_EQ(restored->commit(replay), "");
  std::string got;
  ASSERT_TRUE(restored->get(Cf::kMeta, "k", &got));
  EXPECT_EQ(got, "second");
  ASSERT_TRUE(replay.add(slot, nullptr));
  ASSERT_EQ(restored->commit(replay), "");
  EXPECT_FALSE(restored->get(Cf::kMeta, "k", &got)) << "a tombstone deletes";
}

TEST_F(Changelog, ARecordThatIsNotOursIsRefusedWhole) {
  auto b = store_->begin();
  const std::vector<ChangelogRecord> bad = {
      {std::string(1, static_cast<char>(Cf::kMeta)) + "x", "1"},
      {std::string(1, static_cast<char>(Cf::kCount)) + "y", "2"}};
  EXPECT_NE(restore_into(b, bad), "");
  EXPECT_EQ(b.count(), 0u) << "nothing of it applied";
}

}  // namespace
}  // namespace omniroute::router
