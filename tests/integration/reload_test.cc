// SIGHUP: the running router process re-reads its config file. More capacity takes
// waiting work at once; an invalid file or a change that needs a restart leaves the
// running configuration in force; the process never stops working.
#include <signal.h>

#include <fstream>

#include <fmt/format.h>

#include "common/child_process.h"
#include "tests/integration/harness.h"

namespace omniroute::testing {
namespace {

TEST(RouterReload, SighupAppliesTheNewFileAndRefusesBadOnesWithoutStopping) {
  TempDir dir;
  std::string err;
  auto cluster = kafka::EmbeddedCluster::start(1, err);
  ASSERT_TRUE(cluster) << err;
  ConfigParams p;
  p.brokers = cluster->bootstraps();
  p.state_dir = dir.path() + "/state";
  p.agent_endpoint = fmt::format("tcp://127.0.0.1:{}", free_port());
  p.agents = {{"a1", 1}};
  p.heartbeat_interval_ms = 100;
  p.heartbeat_timeout_ms = 1000;
  std::vector<std::string> errors;
  auto cfg = config::parse(config_yaml(p), errors);
  ASSERT_TRUE(cfg) << errors.front();
  for (const auto& t : cfg->all_topics())
    ASSERT_TRUE(cluster->create_topic(t, p.partitions, 1, err)) << err;
  const std::string cfg_path = dir.file("omniroute.yaml");
  std::ofstream(cfg_path) << config_yaml(p);

  ChildProcess router(omniroute_binary(), {"router", "--config", cfg_path, "--log-level", "warn"});
  router.start();
  RecordingDesk desk(p.agent_endpoint, "acme", "a1",
                     RecordingDesk::Behaviour{.accept = true, .reply = false},
                     test_curve_options("acme", "a1"));
  ASSERT_TRUE(wait_until([&] { return desk.desk().connected(); }));
  auto producer = kafka::Producer::create({cluster->bootstraps(), {}}, err);
  ASSERT_TRUE(producer) << err;
  auto send = [&](int i) {
    v1::Envelope env;
    auto* m = env.mutable_message();
    m->set_workspace_id("acme");
    m->set_inbox_id("api");
    m->set_channel(v1::CHANNEL_WEBHOOK);
    m->set_event_id(fmt::format("ev-{}", i));
    m->set_customer_handle(fmt::format("customer-{}", i));
    m->set_external_message_id(fmt::format("m-{}", i));
    m->set_text_body("hello");
    ASSERT_TRUE(
        producer->produce("omni.inbound", "acme", env.SerializeAsString(), [](const auto&) {}));
    producer->flush(5000);
  };
  for (int i = 0; i < 3; ++i) send(i);
  ASSERT_TRUE(wait_until([&] { return desk.assignments().size() == 1; }));

  // A broken file: refused, the router keeps its config (still one at a time).
  std::ofstream(cfg_path) << "router: {offer_timeout_ms: nonsense}\n";
  ASSERT_EQ(kill(router.pid(), SIGHUP), 0);
  // A change that needs a restart: refused as a whole, even with the capacity raised.
  ConfigParams moved = p;
  moved.agents = {{"a1", 3}};
  moved.state_dir = dir.path() + "/elsewhere";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::ofstream(cfg_path) << config_yaml(moved);
  ASSERT_EQ(kill(router.pid(), SIGHUP), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(desk.assignments().size(), 1u) << "a refused reload changed nothing";

  // The good file: the two waiting conversations are offered at once.
  ConfigParams more = p;
  more.agents = {{"a1", 3}};
  std::ofstream(cfg_path) << config_yaml(more);
  ASSERT_EQ(kill(router.pid(), SIGHUP), 0);
  EXPECT_TRUE(wait_until([&] { return desk.assignments().size() == 3; }))
      << desk.assignments().size();
  // And it keeps routing under the new config.
  send(3);
  send(4);
  EXPECT_FALSE(
      wait_until([&] { return desk.assignments().size() > 3; }, std::chrono::milliseconds(1500)))
      << "capacity 3 holds";
  EXPECT_EQ(router.stop(SIGTERM), 0);
}

}  // namespace
}  // namespace omniroute::testing
