// The desk library when router instances die or move a workspace, against hand-driven router
// sockets: where the desk says Hello, and how often. Counts of Hellos, never durations.
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <zmq.hpp>

#include "desk/desk.h"
#include "omniroute/v1/agent.pb.h"
#include "tests/support/support.h"

namespace omniroute::testing {
namespace {

// One router instance played by the test: a ROUTER socket it answers by hand.
struct FakeRouter {
  explicit FakeRouter(zmq::context_t& ctx)
      : port(free_port()), endpoint(fmt::format("tcp://127.0.0.1:{}", port)) {
    open(ctx);
  }
  void open(zmq::context_t& ctx) {
    sock = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::router);
    sock->set(zmq::sockopt::linger, 0);
    sock->bind(endpoint);
  }
  // The next Hello within `ms` (its routing id), skipping other frames; "" if none.
  std::string next_hello(int ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < until) {
      zmq::pollitem_t items[] = {{sock->handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 1, std::chrono::milliseconds(20));
      zmq::message_t id, body;
      if (!sock->recv(id, zmq::recv_flags::dontwait)) continue;
      if (!sock->recv(body, zmq::recv_flags::dontwait)) continue;
      v1::AgentFrame f;
      if (f.ParseFromArray(body.data(), static_cast<int>(body.size())) && f.has_hello())
        return id.to_string();
    }
    return "";
  }
  void send(const std::string& id, const v1::AgentFrame& f) {
    const std::string bytes = f.SerializeAsString();
    sock->send(zmq::buffer(id), zmq::send_flags::sndmore);
    sock->send(zmq::buffer(bytes));
  }
  void welcome(const std::string& id) {
    v1::AgentFrame f;
    f.mutable_welcome()->set_session_id("s");
    f.mutable_welcome()->set_heartbeat_interval_ms(200);
    f.mutable_welcome()->set_heartbeat_timeout_ms(1000);
    send(id, f);
  }
  void redirect(const std::string& id, const std::string& to) {
    v1::AgentFrame f;
    f.mutable_redirect()->set_workspace_id("acme");
    f.mutable_redirect()->set_endpoint(to);
    send(id, f);
  }
  void moving(const std::string& id) {
    v1::AgentFrame f;
    f.mutable_redirect()->set_workspace_id("acme");
    f.mutable_redirect()->set_moving(true);
    f.mutable_redirect()->set_retry_after_ms(300);
    send(id, f);
  }
  int port;
  std::string endpoint;
  std::unique_ptr<zmq::socket_t> sock;
};

// The owner dies; the survivor does not know yet (the group notices after its session
// timeout) and keeps redirecting to the dead one. The desk must keep coming back to ask,
// not sit for its whole redirect patience (5 s) at the dead endpoint each time: that would
// keep the agent away for seconds after the survivor took the workspace over.
TEST(DeskFailover, ADeskRedirectedToTheInstanceItFoundSilentKeepsAskingTheOthers) {
  zmq::context_t ctx;
  FakeRouter owner(ctx), survivor(ctx);
  desk::Desk d(desk::Options{owner.endpoint + "," + survivor.endpoint, "acme", "alice", "", "test",
                             v1::PRESENCE_AVAILABLE, 1000},
               desk::Handler{});
  d.start();
  const std::string id = owner.next_hello(10000);
  ASSERT_FALSE(id.empty());
  owner.welcome(id);
  ASSERT_TRUE(wait_until([&] { return d.connected(); }, std::chrono::seconds(10)));
  owner.sock.reset();  // SIGKILL: silence, nothing listens on its port any more

  // The survivor redirects every Hello to the dead owner for 8 s.
  int hellos = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(8);
  const std::string first = survivor.next_hello(15000);
  ASSERT_FALSE(first.empty()) << "the desk went to the other instance when its owner fell silent";
  survivor.redirect(first, owner.endpoint);
  ++hellos;
  while (std::chrono::steady_clock::now() < until) {
    const std::string h = survivor.next_hello(200);
    if (h.empty()) continue;
    survivor.redirect(h, owner.endpoint);
    ++hellos;
  }
  // About one a second (nothing completes the handshake there, so the desk looks for 1 s
  // each time); 2 with 5 s looks.
  EXPECT_GE(hellos, 4) << "the desk waited at the dead endpoint instead of asking again";

  // The survivor serves now: the next Hello is welcomed there.
  const std::string h = survivor.next_hello(10000);
  ASSERT_FALSE(h.empty());
  survivor.welcome(h);
  EXPECT_TRUE(wait_until([&] { return d.connected(); }, std::chrono::seconds(10)));
  EXPECT_EQ(d.endpoint(), survivor.endpoint);
  d.stop();
}

// A desk configured with `home` alone, which sends it to `target` on its first Hello.
class DeskRedirected : public ::testing::Test {
 protected:
  void SetUp() override {
    d.start();
    const std::string id = home.next_hello(10000);
    ASSERT_FALSE(id.empty());
    home.redirect(id, target.endpoint);
  }
  void TearDown() override { d.stop(); }

  zmq::context_t ctx;
  FakeRouter home{ctx}, target{ctx};
  desk::Desk d{
      desk::Options{home.endpoint, "acme", "alice", "", "test", v1::PRESENCE_AVAILABLE, 1000},
      desk::Handler{}};
};

// A redirect target that answers "moving" is alive: the desk waits there for the workspace
// (saying Hello again when told) instead of leaving for its configured endpoint.
TEST_F(DeskRedirected, ADeskToldMovingWaitsWhereItWasSent) {
  int moving = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(8);
  while (std::chrono::steady_clock::now() < until) {
    const std::string h = target.next_hello(200);
    if (h.empty()) continue;
    target.moving(h);
    ++moving;
  }
  EXPECT_GE(moving, 8) << "the desk did not keep asking the instance that said moving";
  EXPECT_EQ(home.next_hello(500), "") << "the desk left an instance that answered it";
  const std::string h = target.next_hello(10000);
  ASSERT_FALSE(h.empty());
  target.welcome(h);
  EXPECT_TRUE(wait_until([&] { return d.connected(); }, std::chrono::seconds(10)));
}

// A live instance slow to send its Welcome (building it, restoring the workspace) completed
// the handshake: the desk keeps waiting for it instead of leaving after a second, which
// would cost the router another Welcome on the next connection (a storm when every desk
// does it).
TEST_F(DeskRedirected, ADeskWaitsForALiveInstanceThatIsSlowToWelcomeIt) {
  const std::string h = target.next_hello(10000);
  ASSERT_FALSE(h.empty());
  // 3 s without a word from the target: the desk stays (no Hello back at home).
  EXPECT_EQ(home.next_hello(3000), "") << "the desk left a live instance after a short look";
  target.welcome(h);
  EXPECT_TRUE(wait_until([&] { return d.connected(); }, std::chrono::seconds(10)));
  EXPECT_EQ(d.endpoint(), target.endpoint);
}

}  // namespace
}  // namespace omniroute::testing
