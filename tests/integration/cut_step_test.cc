// A router killed while it produces a step's changelog records leaves part of the step on
// the topic and no commit record. The instance that restores the partition next must not
// apply that part: the step never happened for anyone (nothing was acknowledged for it),
// and its input is read again. Real router processes on the embedded cluster; the cut-off
// step is written to the changelog as a dead writer would have left it.
#include <signal.h>
#include <sys/wait.h>

#include <fstream>

#include <fmt/format.h>

#include "common/child_process.h"
#include "config/config.h"
#include "omniroute/v1/store.pb.h"
#include "router/changelog.h"
#include "router/partition.h"
#include "tests/integration/group_helpers.h"

namespace omniroute::testing {
namespace {

using group::Directory;
using group::served_by;

std::string slot(router::Cf cf, const std::string& key) {
  return std::string(1, static_cast<char>(cf)) + key;
}

TEST(WholeSteps, ANewOwnerLeavesOutAStepItsWriterNeverCommitted) {
  TempDir dir;
  std::string err;
  auto cluster = kafka::EmbeddedCluster::start(1, err);
  ASSERT_TRUE(cluster) << err;
  const std::string brokers = cluster->bootstraps();
  const std::string ws = group::ws_on(0, 1);
  std::vector<std::string> endpoints, configs;
  for (int n = 0; n < 2; ++n) {
    endpoints.push_back(fmt::format("tcp://127.0.0.1:{}", free_port()));
    configs.push_back(fmt::format("{}/r{}.yaml", dir.path(), n));
    std::ofstream(configs.back()) << group::router_yaml(
        brokers, 1, fmt::format("{}/r{}", dir.path(), n), endpoints.back());
  }
  ASSERT_EQ(group::create_topics(*cluster, group::router_yaml(brokers, 1, "x", endpoints[0]), 1),
            "");
  auto producer = kafka::Producer::create({brokers, {}}, err);
  ASSERT_TRUE(producer) << err;
  Directory directory(brokers, 1);

  // Router A serves the workspace; a customer writes: conversation C1, offered to agent a.
  ChildProcess a(omniroute_binary(), {"router", "--config", configs[0]});
  a.start();
  ASSERT_TRUE(directory.wait_for([&](const auto& d) { return served_by(d, 0, endpoints[0]); }));
  {
    RecordingDesk desk(endpoints[0], ws, "a", {.accept = false, .reply = false});
    group::publish(*producer, ws, "cust-1", "m1");
    ASSERT_TRUE(wait_until([&] { return !desk.offers().empty(); }, std::chrono::seconds(30)));
  }
  const int status = a.stop(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  // A writer that died in the middle of a step: a new conversation and the deletion of C1
  // reached the topic; the rest of the step and its commit record did not.
  v1::store::Conversation ghost;
  ghost.mutable_summary()->set_workspace_id(ws);
  ghost.mutable_summary()->set_conversation_id("C77");
  ghost.set_state(v1::store::CONVERSATION_STATE_QUEUED);
  const std::vector<router::ChangelogRecord> step = {
      {slot(router::Cf::kConversations, ws + "/C77"), ghost.SerializeAsString()},
      {slot(router::Cf::kMeta, "ghost"), "1"},
      {slot(router::Cf::kConversations, ws + "/C1"), std::nullopt}};
  const router::StepFrames frames(step, {0xdead, 1});
  for (size_t i = 0; i + 1 < frames.size(); ++i) {  // all but the commit record
    const auto [key, payload] = frames.at(i);
    const std::string_view v(payload);
    ASSERT_TRUE(producer->produce_to(config::Topics{}.changelog, 0, key,
                                     payload.empty() ? nullptr : &v, [](const auto&) {}));
  }
  ASSERT_TRUE(producer->flush(10000));

  // Router B, with no state of its own, restores the partition from the changelog.
  ChildProcess b(omniroute_binary(), {"router", "--config", configs[1]});
  b.start();
  ASSERT_TRUE(directory.wait_for([&](const auto& d) { return served_by(d, 0, endpoints[1]); }));
  EXPECT_GT(directory.latest().at(0).restored_records(), 0);
  auto store = router::Store::open_read_only(
      router::partition_dir(fmt::format("{}/r1", dir.path()), 0), err);
  ASSERT_TRUE(store) << err;
  std::string v;
  EXPECT_TRUE(store->get(router::Cf::kConversations, ws + "/C1", &v))
      << "the uncommitted step's delete was applied: C1 is gone";
  EXPECT_FALSE(store->get(router::Cf::kConversations, ws + "/C77", &v))
      << "the uncommitted step's conversation was restored";
  EXPECT_FALSE(store->get(router::Cf::kMeta, "ghost", &v));

  // And B serves C1 as A left it: its desk gets the offer back.
  RecordingDesk desk(endpoints[1], ws, "a", {.accept = true, .reply = false});
  EXPECT_TRUE(wait_until([&] { return !desk.assignments().empty(); }, std::chrono::seconds(30)));
  if (!desk.assignments().empty()) {
    EXPECT_EQ(desk.assignments().front().conversation().conversation_id(), "C1");
  }
  EXPECT_EQ(b.stop(SIGTERM), 0);
}

}  // namespace
}  // namespace omniroute::testing
