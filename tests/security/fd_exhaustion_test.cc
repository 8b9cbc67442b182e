// A router whose open-file limit is low (a child under prlimit) and a peer that opens
// connections to the agent port until nothing is left: the router caps desk connections
// short of its limit, so RocksDB commits never meet EMFILE and routing goes on.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <fmt/format.h>

#include "common/child_process.h"
#include "tests/integration/harness.h"

namespace omniroute::testing {
namespace {

bool alive(pid_t pid) {
  int status = 0;
  return ::waitpid(pid, &status, WNOHANG) == 0;
}

TEST(FdExhaustion, IdleConnectionsNeverMakeTheRouterFailACommit) {
  TempDir dir;
  std::string err;
  auto cluster = kafka::EmbeddedCluster::start(1, err);
  ASSERT_TRUE(cluster) << err;
  ConfigParams p;
  p.brokers = cluster->bootstraps();
  p.state_dir = dir.path() + "/state";
  const int port = free_port();
  p.agent_endpoint = fmt::format("tcp://127.0.0.1:{}", port);
  p.agents = {{"a1", 1000}};
  p.heartbeat_interval_ms = 200;
  p.heartbeat_timeout_ms = 1000;
  p.partitions = 1;
  p.extra_router_yaml = "  fd_reserve: 64\n  handshake_timeout_ms: 60000\n";
  std::vector<std::string> errors;
  auto cfg = config::parse(config_yaml(p), errors);
  ASSERT_TRUE(cfg) << errors.front();
  for (const auto& t : cfg->all_topics()) ASSERT_TRUE(cluster->create_topic(t, 1, 1, err)) << err;
  const std::string cfg_path = dir.file("omniroute.yaml");
  std::ofstream(cfg_path) << config_yaml(p);

  // 300 descriptors in all for the router (soft and hard): before the fix, 626 idle
  // connections made its next commit fail with EMFILE and the process exit.
  ChildProcess router("/usr/bin/prlimit", {"--nofile=300:300", omniroute_binary(), "router",
                                           "--config", cfg_path, "--log-level", "warn"});
  router.start();
  RecordingDesk desk(p.agent_endpoint, "acme", "a1",
                     RecordingDesk::Behaviour{.accept = true, .reply = false},
                     test_curve_options("acme", "a1"));
  ASSERT_TRUE(wait_until([&] { return desk.desk().connected(); }));

  auto producer = kafka::Producer::create({cluster->bootstraps(), {}}, err);
  ASSERT_TRUE(producer) << err;
  constexpr int kMessages = 300;  // each a new conversation: one commit after another
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
    EXPECT_TRUE(
        producer->produce("omni.inbound", "acme", env.SerializeAsString(), [](const auto&) {}));
  };
  // One conversation before the flood: the first use of each message type is where the
  // sanitizer builds' type checks open a pipe, which an exhausted process cannot.
  send(0);
  producer->flush(5000);
  ASSERT_TRUE(wait_until([&] { return desk.offers().size() == 1; }));
  // Waves of 25: libzmq accepts before the router's gate can shut what is over the cap, so
  // one huge burst may briefly take the reserve (commits then wait and retry; a sanitizer
  // runtime that needs a pipe for a check would not). A flood arriving over half a second
  // is what the cap must hold against.
  std::vector<int> fds;
  for (int i = 0; i < 700; ++i) {
    int fd = connect_tcp(port);
    if (fd >= 0) fds.push_back(fd);
    if (i % 25 == 24) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (int i = 1; i < kMessages; ++i) {
    send(i);
    // More connections while the router works.
    if (i % 30 == 0)
      for (int k = 0; k < 25; ++k)
        if (int fd = connect_tcp(port); fd >= 0) fds.push_back(fd);
  }
  producer->flush(5000);
  EXPECT_TRUE(
      wait_until([&] { return desk.offers().size() >= kMessages; }, std::chrono::seconds(60)))
      << desk.offers().size() << " of " << kMessages << " routed";
  EXPECT_TRUE(alive(router.pid())) << "the router exited under the connection flood";
  for (int fd : fds) ::close(fd);
}

}  // namespace
}  // namespace omniroute::testing
