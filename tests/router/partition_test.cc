// A partition's local copy after its process died with steps Kafka never acknowledged:
// rolled back to its checkpoint exactly (the changelog from there is the truth when another
// instance owned the partition since), and put forward again when nobody did.
#include "router/partition.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

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
    // Every frame (records and commit) handed to Kafka, as Router::produce_changelog does.
    s.produced = s.frames_total();
    s.outstanding = s.produced;
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
  // Offsets 0..3 (three records and the step's commit record): the checkpoint moves to 4
  // with the next commit.
  acknowledged_step(*p, 0);

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
  EXPECT_EQ(p->checkpoint(), 4);
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

// A restore into an empty copy writes without RocksDB's write-ahead log. Each case runs in
// a child process (this test binary again) that ends with _exit, as a killed router would:
// nothing is closed, so what was only in memory is gone.
void restore_and_die(const std::string& dir, bool finish) {
  std::string err;
  auto p = Partition::open(3, dir, false, err);
  if (!p || !p->begin_unlogged().empty()) _exit(2);
  for (int chunk = 0; chunk < 4; ++chunk) {
    auto replay = p->store().begin_replay();
    for (int i = 0; i < 500; ++i) {
      const std::string slot = std::string(1, static_cast<char>(Cf::kConversations)) + "acme/C" +
                               std::to_string(chunk * 500 + i);
      const std::string_view v = "open";
      if (!replay.add(slot, &v)) _exit(3);
    }
    if (!p->commit_replay(replay, (chunk + 1) * 500).empty()) _exit(4);
  }
  if (finish && !p->end_unlogged().empty()) _exit(5);
  _exit(0);  // killed: no close, no flush
}

TEST_F(PartitionCopy, ARestoreWithoutTheWalIsKeptWhenItEndedAndStartedOverWhenItDidNot) {
  constexpr const char* kChild = "OMNIROUTE_TEST_RESTORE_CHILD";
  if (const char* c = std::getenv(kChild)) restore_and_die(c + 1, c[0] == 'F');
  const auto restore_in_child = [&](const std::string& dir, bool finish) {
    const pid_t pid = fork();
    if (pid == 0) {
      setenv(kChild, ((finish ? "F" : "C") + dir).c_str(), 1);
      execl("/proc/self/exe", "store_test", "--gtest_filter=PartitionCopy.ARestoreWithoutTheWal*",
            nullptr);
      _exit(9);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  };
  const std::string cut = dir_.path() + "/cut", ended = dir_.path() + "/ended";
  restore_in_child(cut, false);
  restore_in_child(ended, true);

  std::string err;
  auto p = Partition::open(3, cut, false, err);
  ASSERT_TRUE(p) << err;
  EXPECT_TRUE(p->wiped_at_open()) << "the mark of an unfinished restore was found";
  EXPECT_EQ(p->checkpoint(), 0);
  EXPECT_EQ(value(*p, Cf::kConversations, "acme/C0"), std::nullopt);
  EXPECT_EQ(value(*p, Cf::kConversations, "acme/C1999"), std::nullopt);

  p = Partition::open(3, ended, false, err);
  ASSERT_TRUE(p) << err;
  EXPECT_FALSE(p->wiped_at_open());
  EXPECT_EQ(p->checkpoint(), 2000) << "flushed to files before the mark was removed";
  EXPECT_EQ(value(*p, Cf::kConversations, "acme/C0"), "open");
  EXPECT_EQ(value(*p, Cf::kConversations, "acme/C1999"), "open");
  p.reset();
  p = Partition::open(3, ended, false, err);
  ASSERT_TRUE(p) << err;
  EXPECT_FALSE(p->wiped_at_open()) << "a finished restore leaves no mark";
}

// A frame Kafka refused makes its step and every later one go again from their first frame
// (a later step may have written the same keys); nothing is released until all of it is
// acknowledged again.
TEST_F(PartitionCopy, ARefusedFrameProducesItsStepAndTheLaterOnesAgain) {
  auto p = open();
  p->batch().put(Cf::kMeta, "k", "1");
  ASSERT_FALSE(p->commit(false));
  p->batch().put(Cf::kMeta, "k", "2");
  ASSERT_FALSE(p->commit(false));
  for (auto& s : p->pending()) s.outstanding = s.produced = s.frames_total();
  const uint64_t first = p->pending().front().seq, second = p->pending().back().seq;
  p->refused(first);
  EXPECT_EQ(p->pending().front().produced, 0u);
  EXPECT_EQ(p->pending().back().produced, 0u) << "the later step would end older on the topic";
  EXPECT_EQ(p->pending().front().outstanding, p->pending().front().frames_total() - 1);
  // The other reports of the first attempt come in; nothing goes out before the second.
  for (size_t i = 0; i + 1 < p->pending().front().frames_total(); ++i) p->acknowledged(first, 0);
  for (size_t i = 0; i < p->pending().back().frames_total(); ++i) p->acknowledged(second, 1);
  EXPECT_TRUE(p->released().empty());
  for (auto& s : p->pending()) s.outstanding = s.produced = s.frames_total();  // produced again
  for (size_t i = 0; i < p->pending().front().frames_total(); ++i) p->acknowledged(first, 2);
  for (size_t i = 0; i < p->pending().back().frames_total(); ++i) p->acknowledged(second, 3);
  EXPECT_EQ(p->released().size(), 2u);
}

}  // namespace
}  // namespace omniroute::router
