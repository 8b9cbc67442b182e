// An instance that takes a partition over restores it beside its event loop: the
// workspaces it already serves keep being served meanwhile, and desks of the workspace
// being restored are told "moving" until it is ready. Two router processes on the embedded
// cluster; the changelog partition being restored is led by a broker made slow (0.6 s per
// request), so the restore takes seconds while everything else stays fast.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "common/child_process.h"
#include "config/config.h"
#include "omniroute/v1/store.pb.h"
#include "tests/integration/group_helpers.h"

namespace omniroute::testing {
namespace {

using group::Directory;
using group::now_ms;
using group::publish;
using group::served_by;

constexpr int kPartitions = 2;
constexpr int kSlowRttMs = 600;

std::string ws_on(int32_t p) {
  return group::ws_on(p, kPartitions);
}

TEST(RestoreBeside, AnInstanceKeepsServingItsWorkspacesWhileItRestoresAnother) {
  TempDir dir;
  std::string err;
  auto cluster = kafka::EmbeddedCluster::start(3, err);
  ASSERT_TRUE(cluster) << err;
  const std::string brokers = cluster->bootstraps();
  std::vector<std::string> endpoints, configs;
  for (int n = 0; n < 2; ++n) {
    endpoints.push_back(fmt::format("tcp://127.0.0.1:{}", free_port()));
    configs.push_back(fmt::format("{}/r{}.yaml", dir.path(), n));
    std::ofstream(configs.back()) << group::router_yaml(
        brokers, kPartitions, fmt::format("{}/r{}", dir.path(), n), endpoints.back());
  }
  {
    std::vector<std::string> errors;
    auto cfg = config::parse(group::router_yaml(brokers, kPartitions, "x", endpoints[0]), errors);
    ASSERT_TRUE(cfg) << errors.front();
    for (const auto& t : cfg->all_topics()) {
      ASSERT_TRUE(cluster->create_topic(t, kPartitions, 1, err)) << err;
      // Everything on broker 1 but the changelog: partition p on broker 2 + p, so one of
      // them can be made slow alone.
      for (int32_t p = 0; p < kPartitions; ++p)
        cluster->set_partition_leader(t, p, t == cfg->kafka.topics.changelog ? 2 + p : 1);
    }
    cluster->set_group_coordinator("omniroute-router", 1);
  }
  ChildProcess a(omniroute_binary(), {"router", "--config", configs[0]});
  ChildProcess b(omniroute_binary(), {"router", "--config", configs[1]});
  Directory directory(brokers, kPartitions);

  // A serves both partitions; then B joins and the group gives it one of them (X).
  a.start();
  ASSERT_TRUE(directory.wait_for([&](const auto& d) {
    return served_by(d, 0, endpoints[0]) && served_by(d, 1, endpoints[0]);
  }));
  b.start();
  int32_t x = -1;
  ASSERT_TRUE(directory.wait_for([&](const auto& d) {
    for (int32_t p = 0; p < kPartitions; ++p)
      if (served_by(d, p, endpoints[1]) && served_by(d, 1 - p, endpoints[0])) x = p;
    return x >= 0;
  }));
  const int32_t y = 1 - x;
  const std::string ws_x = ws_on(x), ws_y = ws_on(y);

  // State in X for A to restore: 30 conversations, accepted at B.
  auto producer = kafka::Producer::create({brokers, {}}, err);
  ASSERT_TRUE(producer) << err;
  {
    RecordingDesk desk_x(endpoints[1], ws_x, "a", {.accept = true, .reply = false});
    for (int i = 0; i < 30; ++i)
      publish(*producer, ws_x, fmt::format("cx-{}", i), fmt::format("x{}", i));
    ASSERT_TRUE(
        wait_until([&] { return desk_x.assignments().size() == 30; }, std::chrono::seconds(60)))
        << desk_x.assignments().size() << " of 30 accepted at B";
  }
  // A's own workspace has a desk at A.
  RecordingDesk desk_y(endpoints[0], ws_y, "a", {.accept = true, .reply = false});
  ASSERT_TRUE(wait_until([&] { return desk_y.desk().connected(); }, std::chrono::seconds(30)));

  // X's changelog becomes slow, and B hands X over: A restores it for seconds.
  cluster->set_broker_rtt(2 + x, kSlowRttMs);
  const int status = b.stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_TRUE(directory.wait_for([&](const auto& d) {
    auto it = d.find(x);
    return it != d.end() && it->second.endpoint() == endpoints[0] && it->second.restoring();
  })) << "A never announced that it restores partition "
      << x;

  // Meanwhile: a customer of A's own workspace writes, and a desk of X's workspace comes.
  const int64_t restoring_seen_ms = now_ms();
  publish(*producer, ws_y, "cy", "during-restore");
  RecordingDesk late_x(endpoints[0], ws_x, "a", {.accept = false, .reply = false});
  int64_t offered_ms = 0, x_desk_connected_ms = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        if (!offered_ms && !desk_y.offers().empty()) offered_ms = now_ms();
        if (!x_desk_connected_ms && late_x.desk().connected()) x_desk_connected_ms = now_ms();
        return offered_ms && x_desk_connected_ms;
      },
      std::chrono::seconds(60)))
      << "offered " << offered_ms << ", X's desk connected " << x_desk_connected_ms;
  ASSERT_TRUE(directory.wait_for([&](const auto& d) { return served_by(d, x, endpoints[0]); }));
  const auto& owner = directory.latest().at(x);

  // The offer came while X was still restoring (a loop blocked by the restore would have
  // offered only after it), and X's desk was let in only once X was served.
  EXPECT_LT(offered_ms, owner.since_ms())
      << "offered " << offered_ms - restoring_seen_ms << " ms after the restore was announced; "
      << "X served " << owner.since_ms() - restoring_seen_ms << " ms after it";
  EXPECT_GE(x_desk_connected_ms, owner.since_ms());
  EXPECT_GT(owner.restored_records(), 0);
  // X's 30 conversations came back with it: its desk's Welcome holds them.
  EXPECT_TRUE(
      wait_until([&] { return late_x.assignments().size() == 30; }, std::chrono::seconds(10)))
      << late_x.assignments().size() << " of 30 conversations at the new owner";
  EXPECT_EQ(a.stop(SIGTERM), 0);
}

}  // namespace
}  // namespace omniroute::testing
