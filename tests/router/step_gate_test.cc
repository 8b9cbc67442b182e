// Whole steps on the changelog (router/changelog.h): how a step is framed on the topic,
// and the reader's gate that applies a step only once its commit record is there, so a
// step cut off by its writer's death is never half applied.
#include <gtest/gtest.h>

#include <map>

#include "router/changelog.h"
#include "tests/support/support.h"

namespace omniroute::router {
namespace {

std::string slot(Cf cf, const std::string& key) {
  return std::string(1, static_cast<char>(cf)) + key;
}

// A topic partition as a reader sees it: records in order, offsets from 0.
struct Topic {
  struct Rec {
    std::string key, payload;
  };
  std::vector<Rec> log;
  void step(StepTag tag, const std::vector<ChangelogRecord>& records, size_t cut = SIZE_MAX) {
    const StepFrames frames(records, tag);
    for (size_t i = 0; i < frames.size() && i < cut; ++i) {
      auto [k, p] = frames.at(i);
      log.push_back({std::string(k), std::move(p)});
    }
  }
  void untagged(const ChangelogRecord& r) { log.push_back({r.key, changelog_payload(r)}); }
};

// The state a reader builds through a gate from `from`: the latest value per key.
struct Reader {
  StepGate<ChangelogRecord> gate;
  std::map<std::string, std::string> state;
  int64_t next = 0;
  void read(const Topic& t) {
    for (; next < static_cast<int64_t>(t.log.size()); ++next) {
      const auto& r = t.log[static_cast<size_t>(next)];
      gate.offer(changelog_record(r.key, r.payload), r.key, r.payload, next,
                 [&](ChangelogRecord& rec) {
                   if (rec.value)
                     state[rec.key] = *rec.value;
                   else
                     state.erase(rec.key);
                 });
    }
  }
};

TEST(StepFrames, ValuesFirstThenDeletesThenTheCommitAndEveryStepStartsTagged) {
  const std::vector<ChangelogRecord> records = {{slot(Cf::kMeta, "a"), "1"},
                                                {slot(Cf::kMeta, "b"), std::nullopt}};
  const StepFrames frames(records, {7, 3});
  ASSERT_EQ(frames.size(), 3u);
  auto [k0, p0] = frames.at(0);
  EXPECT_EQ(k0, slot(Cf::kMeta, "a"));
  ASSERT_TRUE(changelog_tag(p0));
  EXPECT_EQ(changelog_tag(p0)->writer, 7u);
  EXPECT_EQ(changelog_tag(p0)->seq, 3u);
  EXPECT_EQ(changelog_value(p0), "1");
  EXPECT_EQ(frames.at(1).second, "") << "a delete is a null payload (a tombstone)";
  EXPECT_TRUE(is_commit_slot(frames.at(2).first));
  EXPECT_FALSE(is_commit_slot(k0));

  // Only deletes: the commit record comes first as well, so the step names its writer.
  const std::vector<ChangelogRecord> deletes = {{slot(Cf::kOutbox, "1"), std::nullopt}};
  const StepFrames d(deletes, {7, 4});
  ASSERT_EQ(d.size(), 3u);
  EXPECT_TRUE(is_commit_slot(d.at(0).first));
  EXPECT_EQ(d.at(1).second, "");
  EXPECT_TRUE(is_commit_slot(d.at(2).first));

  // A step's batch gives its values first, then its deletes (each in key order).
  testing::TempDir dir;
  std::string err;
  auto store = Store::open(dir.path() + "/s", false, err);
  ASSERT_TRUE(store) << err;
  auto b = store->begin();
  b.del(Cf::kMeta, "a");
  b.put(Cf::kMeta, "c", "3");
  b.put(Cf::kMeta, "b", "2");
  b.del(Cf::kMeta, "d");
  b.put(Cf::kLocal, "x", "never on the changelog");
  const auto of = changelog_of(b);
  ASSERT_EQ(of.size(), 4u);
  EXPECT_EQ(of[0].key, slot(Cf::kMeta, "b"));
  EXPECT_EQ(of[1].key, slot(Cf::kMeta, "c"));
  EXPECT_EQ(of[2].key, slot(Cf::kMeta, "a"));
  EXPECT_FALSE(of[2].value);
  EXPECT_EQ(of[3].key, slot(Cf::kMeta, "d"));
}

TEST(StepGate, AStepComesOutWhenItsCommitArrivesNotBefore) {
  Topic t;
  t.step({1, 1}, {{slot(Cf::kMeta, "a"), "1"}, {slot(Cf::kMeta, "gone"), std::nullopt}});
  t.step({1, 2}, {{slot(Cf::kMeta, "a"), "2"}, {slot(Cf::kMeta, "b"), "2"}}, 2);  // no commit yet
  Reader r;
  r.state[slot(Cf::kMeta, "gone")] = "old";
  r.read(t);
  EXPECT_EQ(r.state.at(slot(Cf::kMeta, "a")), "1");
  EXPECT_FALSE(r.state.count(slot(Cf::kMeta, "gone"))) << "the delete came with its step";
  EXPECT_FALSE(r.state.count(slot(Cf::kMeta, "b"))) << "step 2 is not committed yet";
  EXPECT_EQ(r.gate.held(), 2u);
  EXPECT_EQ(r.gate.resume_at(r.next), 3) << "a later read starts at step 2's first record";

  // Its commit arrives: step 2 comes out whole.
  t.log.push_back(
      {std::string(commit_record({1, 2}).key), changelog_payload(commit_record({1, 2}), {1, 2})});
  r.read(t);
  EXPECT_EQ(r.state.at(slot(Cf::kMeta, "a")), "2");
  EXPECT_EQ(r.state.at(slot(Cf::kMeta, "b")), "2");
  EXPECT_EQ(r.gate.held(), 0u);
  EXPECT_EQ(r.gate.resume_at(r.next), r.next);
  for (const auto& [k, v] : r.state) EXPECT_FALSE(is_commit_slot(k)) << "commits are not state";
}

TEST(StepGate, AStepCutOffByItsWritersDeathIsLeftOutWhenTheNextWriterFollows) {
  Topic t;
  t.step({1, 1}, {{slot(Cf::kConversations, "acme/C1"), "queued"}});
  // Writer 1 dies while producing step 2: a value and a delete reached the topic, the rest
  // (and its commit) did not.
  t.step({1, 2},
         {{slot(Cf::kMeta, "offset"), "10"},
          {slot(Cf::kMessages, "acme/C1/2"), "hello"},
          {slot(Cf::kConversations, "acme/C1"), std::nullopt}},
         1);
  t.untagged({slot(Cf::kConversations, "acme/C1"), std::nullopt});
  // Writer 2 takes over from the committed state and writes its own step.
  t.step({2, 1}, {{slot(Cf::kMeta, "owner"), "copy-2"}});
  Reader r;
  r.read(t);
  EXPECT_EQ(r.state.at(slot(Cf::kConversations, "acme/C1")), "queued")
      << "the cut-off step's delete is not applied";
  EXPECT_FALSE(r.state.count(slot(Cf::kMeta, "offset")))
      << "nor its value: the input it consumed is read again";
  EXPECT_EQ(r.state.at(slot(Cf::kMeta, "owner")), "copy-2");
  EXPECT_EQ(r.gate.dropped(), 2u);

  // A reader that stopped at the cut-off step (its writer was alive then) resumes at the
  // step and drops it the same way.
  Reader early;
  Topic head;
  head.log.assign(t.log.begin(), t.log.begin() + 4);
  early.read(head);
  EXPECT_EQ(early.gate.held(), 2u);
  Reader resumed;
  resumed.state = early.state;
  resumed.next = early.gate.resume_at(early.next);
  resumed.read(t);
  EXPECT_EQ(resumed.state, r.state);
}

TEST(StepGate, ARetriedBatchAndAChangelogFromBeforeTagsReadAsBefore) {
  Topic t;
  // From before steps were tagged: applied as read.
  t.untagged({slot(Cf::kMeta, "old"), "1"});
  t.untagged({slot(Cf::kMeta, "gone"), std::nullopt});
  // A producer retry wrote part of a step twice: same values, applied once committed.
  t.step({5, 1}, {{slot(Cf::kMeta, "a"), "1"}, {slot(Cf::kMeta, "b"), "1"}}, 2);
  t.step({5, 1}, {{slot(Cf::kMeta, "a"), "1"}, {slot(Cf::kMeta, "b"), "1"}});
  Reader r;
  r.read(t);
  EXPECT_EQ(r.state.at(slot(Cf::kMeta, "old")), "1");
  EXPECT_EQ(r.state.at(slot(Cf::kMeta, "a")), "1");
  EXPECT_EQ(r.state.at(slot(Cf::kMeta, "b")), "1");
  EXPECT_EQ(r.gate.dropped(), 0u);
  EXPECT_EQ(r.gate.held(), 0u);
}

}  // namespace
}  // namespace omniroute::router
