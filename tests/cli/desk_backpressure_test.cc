// The desk library under backpressure: a router that does not read for a while (busy
// restoring a partition, say) while the desk sends a burst, such as the answers to a Welcome
// with many conversations. Every frame must arrive, in order; before, frames that met a
// full socket queue were dropped without a word.
#include <chrono>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <zmq.hpp>

#include "desk/desk.h"
#include "omniroute/v1/agent.pb.h"
#include "tests/support/support.h"

namespace omniroute::testing {
namespace {

TEST(DeskBackpressure, ABurstToARouterThatStopsReadingArrivesWholeAndInOrder) {
  zmq::context_t ctx;
  zmq::socket_t router(ctx, zmq::socket_type::router);
  router.set(zmq::sockopt::rcvhwm, 10);
  const int port = free_port();
  router.bind(fmt::format("tcp://127.0.0.1:{}", port));

  desk::Desk d(desk::Options{fmt::format("tcp://127.0.0.1:{}", port), "acme", "alice", "", "test",
                             v1::PRESENCE_AVAILABLE, 1000},
               desk::Handler{});
  d.start();
  // The Hello, answered with a Welcome.
  zmq::message_t id, body;
  router.set(zmq::sockopt::rcvtimeo, 10000);
  ASSERT_TRUE(router.recv(id));
  ASSERT_TRUE(router.recv(body));
  v1::AgentFrame welcome;
  welcome.mutable_welcome()->set_session_id("s");
  welcome.mutable_welcome()->set_heartbeat_interval_ms(60000);
  welcome.mutable_welcome()->set_heartbeat_timeout_ms(600000);
  const std::string w = welcome.SerializeAsString();
  router.send(zmq::buffer(id.to_string()), zmq::send_flags::sndmore);
  router.send(zmq::buffer(w));
  ASSERT_TRUE(wait_until([&] { return d.connected(); }, std::chrono::seconds(10)));

  // 3,000 replies of 10 KB (30 MB: far beyond the socket's queue and the kernel's buffers)
  // while the router does not read.
  constexpr int kReplies = 3000;
  const std::string text(10000, 'x');
  for (int i = 0; i < kReplies; ++i) d.reply("C1", text, fmt::format("r{:05}", i));
  std::this_thread::sleep_for(std::chrono::seconds(2));

  // Then it reads everything.
  std::vector<std::string> ids;
  router.set(zmq::sockopt::rcvtimeo, 5000);
  while (static_cast<int>(ids.size()) < kReplies) {
    zmq::message_t from, frame;
    if (!router.recv(from) || !router.recv(frame)) break;
    v1::AgentFrame f;
    if (f.ParseFromArray(frame.data(), static_cast<int>(frame.size())) && f.has_reply())
      ids.push_back(f.reply().reply_id());
  }
  d.stop();
  ASSERT_EQ(ids.size(), static_cast<size_t>(kReplies)) << "replies lost at a full socket queue";
  for (int i = 0; i < kReplies; ++i)
    EXPECT_EQ(ids[static_cast<size_t>(i)], fmt::format("r{:05}", i));
}

}  // namespace
}  // namespace omniroute::testing
