// Standby copies placed by rank: with router.standby_replicas N, each partition of
// omni.inbound has a warm copy at exactly N instances other than its owner (the N after the
// owner in the ring of instances the directory knows), not at every instance. Checked on
// each router process's own /metrics (omniroute_router_partitions), with three instances,
// then two after one hands its partitions over.
#include <signal.h>

#include <fstream>
#include <vector>

#include "common/child_process.h"
#include "config/config.h"
#include "tests/integration/group_helpers.h"

namespace omniroute::testing {
namespace {

constexpr int kPartitions = 6;

struct Roles {
  std::vector<int> serving = std::vector<int>(kPartitions, -1);
  std::vector<int> standby = std::vector<int>(kPartitions, -1);
};

Roles roles_at(int ops_port) {
  Roles r;
  const auto m = http_get(fmt::format("http://127.0.0.1:{}/metrics", ops_port),
                          {"Authorization: Bearer scrape"});
  if (m.status != 200) return r;
  for (int p = 0; p < kPartitions; ++p) {
    const auto series = [&](const char* role) {
      return fmt::format(R"(omniroute_router_partitions{{partition="{}",role="{}"}})", p, role);
    };
    r.serving[p] = static_cast<int>(metric_sample(m.body, series("serving")));
    r.standby[p] = static_cast<int>(metric_sample(m.body, series("standby")));
  }
  return r;
}

// "" when every partition is served by one of `ports` and has a standby copy at exactly
// `copies` of the others; else what is wrong.
std::string placement(const std::vector<int>& ports, int copies) {
  std::vector<Roles> roles;
  for (int port : ports) roles.push_back(roles_at(port));
  for (int p = 0; p < kPartitions; ++p) {
    int owners = 0, standbys = 0;
    for (const auto& r : roles) {
      owners += r.serving[p] == 1;
      standbys += r.standby[p] == 1;
      if (r.serving[p] == 1 && r.standby[p] == 1)
        return fmt::format("partition {}: a standby copy at its owner", p);
    }
    if (owners != 1 || standbys != copies)
      return fmt::format("partition {}: {} owners, {} standby copies", p, owners, standbys);
  }
  return "";
}

TEST(StandbyPlacement, EachPartitionHasItsStandbyCopiesAtTheNextInstancesNotAtAll) {
  TempDir dir;
  std::string err;
  auto cluster = kafka::EmbeddedCluster::start(1, err);
  ASSERT_TRUE(cluster) << err;
  const std::string brokers = cluster->bootstraps();
  std::vector<int> ops;
  std::vector<std::unique_ptr<ChildProcess>> routers;
  for (int n = 0; n < 3; ++n) {
    ops.push_back(free_port());
    const std::string yaml =
        group::router_yaml(brokers, kPartitions, fmt::format("{}/r{}", dir.path(), n),
                           fmt::format("tcp://127.0.0.1:{}", free_port()),
                           {.standby_replicas = 1, .ops_port = ops[n]});
    if (n == 0) {
      ASSERT_EQ(group::create_topics(*cluster, yaml, kPartitions), "");
    }
    const std::string path = fmt::format("{}/r{}.yaml", dir.path(), n);
    std::ofstream(path) << yaml;
    routers.push_back(std::make_unique<ChildProcess>(
        omniroute_binary(), std::vector<std::string>{"router", "--config", path}));
    routers.back()->start();
  }
  std::string why;
  EXPECT_TRUE(
      wait_until([&] { return (why = placement(ops, 1)).empty(); }, std::chrono::seconds(90)))
      << "three instances: " << why;

  // Scale in: the third hands its partitions over; the two left place the copies again.
  EXPECT_EQ(routers[2]->stop(SIGTERM), 0);
  EXPECT_TRUE(wait_until(
      [&] {
        return (why = placement({ops[0], ops[1]}, 1)).empty();
      },
      std::chrono::seconds(90)))
      << "two instances: " << why;
  for (int n = 0; n < 2; ++n) EXPECT_EQ(routers[n]->stop(SIGTERM), 0);
}

}  // namespace
}  // namespace omniroute::testing
