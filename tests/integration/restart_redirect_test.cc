// A router killed and started again at the same endpoint finds itself in the ownership
// directory (its previous process's entry) before it serves again. A desk that says Hello
// meanwhile must be told "moving" (try again later), not sent to this same endpoint: that
// made every desk bounce between Hello and Redirect many times a second until the restart
// ended (the fault harness's desks logged ~15 redirects a second each).
#include <signal.h>

#include <fstream>

#include <fmt/format.h>
#include <zmq.hpp>

#include "common/child_process.h"
#include "config/config.h"
#include "omniroute/v1/agent.pb.h"
#include "tests/integration/group_helpers.h"

namespace omniroute::testing {
namespace {

TEST(RestartRedirect, ARestartedRouterSaysMovingInsteadOfSendingDesksToItself) {
  TempDir dir;
  std::string err;
  auto cluster = kafka::EmbeddedCluster::start(1, err);
  ASSERT_TRUE(cluster) << err;
  const std::string brokers = cluster->bootstraps();
  const std::string ws = group::ws_on(0, 1);
  const std::string endpoint = fmt::format("tcp://127.0.0.1:{}", free_port());
  const std::string config = dir.file("r.yaml");
  std::ofstream(config) << group::router_yaml(brokers, 1, dir.path() + "/state", endpoint);
  ASSERT_EQ(group::create_topics(*cluster, group::router_yaml(brokers, 1, "x", endpoint), 1), "");
  group::Directory directory(brokers, 1);

  ChildProcess r(omniroute_binary(), {"router", "--config", config});
  r.start();
  ASSERT_TRUE(directory.wait_for([&](const auto& d) { return group::served_by(d, 0, endpoint); }));
  r.stop(SIGKILL);
  r.start();  // same endpoint, same state dir: a new process

  // Hello every 50 ms until a Welcome: every Redirect meanwhile must be "moving".
  zmq::context_t ctx;
  zmq::socket_t desk(ctx, zmq::socket_type::dealer);
  desk.set(zmq::sockopt::linger, 0);
  desk.connect(endpoint);
  v1::AgentFrame hello;
  hello.mutable_hello()->set_protocol_version(1);
  hello.mutable_hello()->set_workspace_id(ws);
  hello.mutable_hello()->set_agent_id("a");
  hello.mutable_hello()->set_desk("test");
  int moving = 0, to_itself = 0;
  bool welcomed = false;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!welcomed && std::chrono::steady_clock::now() < until) {
    (void)desk.send(zmq::buffer(hello.SerializeAsString()), zmq::send_flags::dontwait);
    zmq::pollitem_t items[] = {{desk.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(50));
    zmq::message_t m;
    while (desk.recv(m, zmq::recv_flags::dontwait)) {
      v1::AgentFrame f;
      if (!f.ParseFromArray(m.data(), static_cast<int>(m.size()))) continue;
      if (f.has_welcome()) welcomed = true;
      if (f.has_redirect() && f.redirect().endpoint() == endpoint) ++to_itself;
      if (f.has_redirect() && f.redirect().moving()) ++moving;
    }
  }
  EXPECT_TRUE(welcomed) << "the restarted router never served the workspace";
  EXPECT_EQ(to_itself, 0) << "desks sent back to the endpoint they asked";
  EXPECT_GT(moving, 0) << "the restart was too quick to see: nothing checked";
  r.stop(SIGTERM);
}

}  // namespace
}  // namespace omniroute::testing
