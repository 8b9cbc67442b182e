// A zombie owner is fenced by the directory: an instance whose group session ended without
// it noticing still holds a partition the group gave to another instance. Once it reads the
// new owner's first announcement on omni.routers ("restoring", after its own claim), it stops
// serving that partition at once; a late "serving" announcement of an older owner does not
// fence it. One router process on the embedded cluster; the other instances' announcements
// are written by the test, as they would be by instances whose group saw things differently.
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <thread>

#include "common/child_process.h"
#include "config/config.h"
#include "tests/integration/group_helpers.h"

namespace omniroute::testing {
namespace {

constexpr int kPartitions = 2;

void announce_as(kafka::Producer& producer, int32_t p, const std::string& instance,
                 bool restoring) {
  v1::store::RouterOwner o;
  o.set_partition(p);
  o.set_endpoint("tcp://127.0.0.1:1");
  o.set_instance(instance);
  o.set_since_ms(group::now_ms());
  o.set_restoring(restoring);
  ASSERT_TRUE(producer.produce("omni.routers", std::to_string(p), o.SerializeAsString(),
                               [](const auto&) {}));
  producer.flush(10000);
}

TEST(Fencing, AnInstanceStopsServingAPartitionAnotherInstanceStartsToTakeOver) {
  TempDir dir;
  std::string err;
  auto cluster = kafka::EmbeddedCluster::start(1, err);
  ASSERT_TRUE(cluster) << err;
  const std::string brokers = cluster->bootstraps();
  const std::string endpoint = fmt::format("tcp://127.0.0.1:{}", free_port());
  const std::string yaml =
      group::router_yaml(brokers, kPartitions, dir.path() + "/state", endpoint);
  ASSERT_EQ(group::create_topics(*cluster, yaml, kPartitions), "");
  std::ofstream(dir.path() + "/router.yaml") << yaml;
  ChildProcess a(omniroute_binary(), {"router", "--config", dir.path() + "/router.yaml"});
  a.start();
  group::Directory directory(brokers, kPartitions);
  ASSERT_TRUE(directory.wait_for([&](const auto& d) {
    return group::served_by(d, 0, endpoint) && group::served_by(d, 1, endpoint);
  }));
  const std::string ws0 = group::ws_on(0, kPartitions), ws1 = group::ws_on(1, kPartitions);
  RecordingDesk d0(endpoint, ws0, "a", {.accept = true, .reply = false});
  RecordingDesk d1(endpoint, ws1, "a", {.accept = true, .reply = false});
  ASSERT_TRUE(wait_until([&] { return d0.desk().connected() && d1.desk().connected(); },
                         std::chrono::seconds(30)));
  auto producer = kafka::Producer::create({brokers, {}}, err);
  ASSERT_TRUE(producer) << err;
  group::publish(*producer, ws0, "c0", "before");
  ASSERT_TRUE(wait_until([&] { return d0.assignments().size() == 1; }, std::chrono::seconds(30)));

  // An older owner's restore of partition 1 ends late: its "serving" comes after A's claim.
  announce_as(*producer, 1, "older-owner", false);
  // The group gave partition 0 to another instance, which starts restoring it.
  announce_as(*producer, 0, "new-owner", true);

  // A drops partition 0: its desk is told the workspace is moving, and stays out.
  ASSERT_TRUE(wait_until([&] { return !d0.desk().connected(); }, std::chrono::seconds(30)))
      << "A still serves partition 0 after another instance started taking it over";
  group::publish(*producer, ws0, "c0", "after");
  // ... and keeps serving partition 1.
  group::publish(*producer, ws1, "c1", "after");
  EXPECT_TRUE(wait_until([&] { return d1.assignments().size() == 1; }, std::chrono::seconds(30)))
      << "partition 1 is no longer served";
  std::this_thread::sleep_for(std::chrono::seconds(2));  // time for a wrong answer to show
  EXPECT_FALSE(d0.desk().connected()) << "let back in while another instance takes over";
  EXPECT_EQ(d0.offers().size(), 1u) << "a message of partition 0 was routed after the fence";
  EXPECT_TRUE(d1.desk().connected());
  EXPECT_EQ(a.stop(SIGTERM), 0);
}

}  // namespace
}  // namespace omniroute::testing
