// A partition's local copy after its process died with steps Kafka never acknowledged:
// rolled back to its checkpoint exactly (the changelog from there is the truth when another
// instance owned the partition since), and put forward again when nobody did.
#include "router/partition.h"

#include <gtest/gtest.h>

#include "tests/support/support.h"

namespace omniroute::router {
namespace {

std::optional<std::string> value(Partition& p, Cf cf, std::string_view key) {
  std::string v;
  if (!p.store().get(cf, key, &v)) return std::nullopt;
  return v;
}

class PartitionCopy : public ::testing::Test {
 protected:
  std::unique_ptr<Partition> open() {
    std::string err;
    auto p = Partition::open(3, dir_.path() + "/p3", false, err);
    EXPECT_TRUE(p) << err;
    return p;
  }
  // Commits one step and has Kafka acknowledge all of it at changelog offsets from `offset`.
  static void acknowledged_step(Partition& p, int64_t offset) {
    ASSERT_FALSE(p.commit(false));
    auto& s = p.pending().back();
    s.produced = s.records.size();  // handed to Kafka, as Router::produce_changelog does
    const size_t n = s.outstanding;
    for (size_t i = 0; i < n; ++i) p.acknowledged(s.seq, offset + static_cast<int64_t>(i));
    ASSERT_EQ(p.released().size(), 1u);
  }
  testing::TempDir dir_;
};

TEST_F(PartitionCopy, UnacknowledgedStepsRollBackToTheCheckpointAndForward) {
  auto p = open();
  p->batch().put(Cf::kConversations, "acme/C1", "C1 open");
  p->batch().put(Cf::kConversations, "acme/C3", "C3 open");
  p->batch().put(Cf::kMeta, "offset/0", "10");
  acknowledged_step(*p, 0);  // offsets 0..2: the checkpoint moves to 3 with the next commit

  // Two steps committed here, never acknowledged (the process dies before Kafka answers).
  p->batch().put(Cf::kConversations, "acme/C1", "C1 assigned");
  p->batch().put(Cf::kConversations, "acme/C2", "C2 open");
  p->batch().del(Cf::kConversations, "acme/C3");
  p->batch().put(Cf::kMeta, "offset/0", "11");
  ASSERT_FALSE(p->commit(false));
  p->batch().put(Cf::kConversations, "acme/C1", "C1 answered");
  p->batch().put(Cf::kConversations, "acme/C2", "C2 offered");
  p->batch().put(Cf::kMeta, "offset/0", "12");
  ASSERT_FALSE(p->commit(false));
  p.reset();

  p = open();
  EXPECT_EQ(p->checkpoint(), 3);
  auto steps = p->unacknowledged();
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_TRUE(steps[0].has_previous);
  std::string err;
  ASSERT_TRUE(p->roll_back(steps, err)) << err;
  // Exactly the state at the checkpoint: what the first step left, nothing of the others.
  EXPECT_EQ(value(*p, Cf::kConversations, "acme/C1"), "C1 open");
  EXPECT_EQ(value(*p, Cf::kConversations, "acme/C2"), std::nullopt);
  EXPECT_EQ(value(*p, Cf::kConversations, "acme/C3"), "C3 open");
  EXPECT_EQ(value(*p, Cf::kMeta, "offset/0"), "10");
  EXPECT_TRUE(p->unacknowledged().empty()) << "the rolled-back steps are gone";

  // Nobody else owned it: the same steps go on top again and stay unacknowledged, with
  // before-images that take the copy back to the checkpoint once more.
  ASSERT_TRUE(p->reapply(steps, err)) << err;
  EXPECT_EQ(value(*p, Cf::kConversations, "acme/C1"), "C1 answered");
  EXPECT_EQ(value(*p, Cf::kConversations, "acme/C2"), "C2 offered");
  EXPECT_EQ(value(*p, Cf::kConversations, "acme/C3"), std::nullopt);
  EXPECT_EQ(value(*p, Cf::kMeta, "offset/0"), "12");
  p.reset();
  p = open();
  auto again = p->unacknowledged();
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].seq, steps[0].seq);
  ASSERT_TRUE(p->roll_back(again, err)) << err;
  EXPECT_EQ(value(*p, Cf::kConversations, "acme/C1"), "C1 open");
  EXPECT_EQ(value(*p, Cf::kConversations, "acme/C2"), std::nullopt);
  EXPECT_EQ(value(*p, Cf::kConversations, "acme/C3"), "C3 open");
  EXPECT_EQ(value(*p, Cf::kMeta, "offset/0"), "10");
}

TEST_F(PartitionCopy, StepsWithoutBeforeImagesAreNotRolledBack) {
  auto p = open();
  p->batch().put(Cf::kConversations, "acme/C1", "C1 open");
  ASSERT_FALSE(p->commit(false));
  auto steps = p->unacknowledged();
  ASSERT_EQ(steps.size(), 1u);
  steps[0].has_previous = false;  // as a step written by an older version reads
  std::string err;
  EXPECT_FALSE(p->roll_back(steps, err));
  EXPECT_EQ(err, "");
  EXPECT_EQ(value(*p, Cf::kConversations, "acme/C1"), "C1 open") << "nothing was touched";
  EXPECT_EQ(p->unacknowledged().size(), 1u);
}

}  // namespace
}  // namespace omniroute::router
