// SIGKILL the router process in the middle of a stream and restart it on the same state
// directory: every message reaches its conversation exactly once and every conversation
// is accepted exactly once, by one agent.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>

#include "cli/stack.h"
#include "common/child_process.h"
#include "omniroute/v1/store.pb.h"
#include "router/partition.h"
#include "router/store.h"
#include "tests/integration/harness.h"

namespace omniroute::testing {
namespace {

TEST(RouterCrash, SigkillMidStreamLosesAndDuplicatesNothing) {
  constexpr int kCustomers = 200, kPerCustomer = 5, kMessages = kCustomers * kPerCustomer;
  TempDir dir;
  std::string err;
  auto cluster = kafka::EmbeddedCluster::start(3, err);
  ASSERT_TRUE(cluster) << err;

  ConfigParams p;
  p.brokers = cluster->bootstraps();
  p.state_dir = dir.path() + "/state";
  p.agent_endpoint = fmt::format("tcp://127.0.0.1:{}", free_port());
  p.agents = {{"a1", 80}, {"a2", 80}, {"a3", 80}};
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
  std::vector<std::unique_ptr<RecordingDesk>> desks;
  for (const auto& a : p.agents) {
    desks.push_back(std::make_unique<RecordingDesk>(
        p.agent_endpoint, "acme", a.id, RecordingDesk::Behaviour{.accept = true, .reply = false},
        test_curve_options("acme", a.id)));
  }
  ASSERT_TRUE(wait_until([&] {
    for (auto& d : desks)
      if (!d->desk().connected()) return false;
    return true;
  }));

  auto producer = kafka::Producer::create({cluster->bootstraps(), {}}, err);
  ASSERT_TRUE(producer) << err;
  int kills = 0;
  for (int i = 0; i < kMessages; ++i) {
    v1::Envelope env;
    auto* m = env.mutable_message();
    m->set_workspace_id("acme");
    m->set_inbox_id("api");
    m->set_channel(v1::CHANNEL_WEBHOOK);
    m->set_event_id(fmt::format("ev-{}", i));
    m->set_customer_handle(fmt::format("customer-{}", i % kCustomers));
    m->set_external_message_id(fmt::format("m-{}", i));
    m->set_text_body(fmt::format("message {}", i));
    ASSERT_TRUE(
        producer->produce("omni.inbound", "acme", env.SerializeAsString(), [](const auto&) {}));
    if (i % 50 == 0) producer->flush(5000);
    if (i % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (i == 300 || i == 650) {
      producer->flush(5000);
      // Kill only once the router is processing (a slow start must not make the kill land
      // before the stream), at a slightly different moment each time.
      const size_t before = static_cast<size_t>(kills) * 300;
      ASSERT_TRUE(wait_until([&] {
        std::string e;
        auto s = router::Store::open_read_only(router::workspace_dir(p.state_dir, "acme"), e);
        size_t n = 0;
        if (s)
          s->scan(router::Cf::kDedup, "m/acme/api/",
                  [&](std::string_view, std::string_view) { return ++n, true; });
        return n > before;
      }));
      std::this_thread::sleep_for(std::chrono::milliseconds(20 + 37 * kills));
      int status = router.stop(SIGKILL);
      ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
          << "router was not running: " << status;
      // The kill landed mid-stream: some but not all messages were routed.
      size_t routed = 0;
      {
        auto s = router::Store::open_read_only(router::workspace_dir(p.state_dir, "acme"), err);
        ASSERT_TRUE(s) << err;
        s->scan(router::Cf::kDedup, "m/acme/api/",
                [&](std::string_view, std::string_view) { return ++routed, true; });
      }
      EXPECT_GT(routed, 0u);
      EXPECT_LE(routed, static_cast<size_t>(i + 1));
      ++kills;
      router.start();
    }
  }
  producer->flush(10000);
  ASSERT_EQ(kills, 2);

  // Done when the store shows every message routed and every conversation assigned.
  auto complete = [&] {
    std::string e;
    auto store = router::Store::open_read_only(router::workspace_dir(p.state_dir, "acme"), e);
    if (!store) return false;
    size_t messages = 0, assigned = 0;
    store->scan(router::Cf::kDedup, "m/acme/api/",
                [&](std::string_view, std::string_view) { return ++messages, true; });
    store->scan(router::Cf::kConversations, "acme/", [&](std::string_view, std::string_view v) {
      v1::store::Conversation c;
      c.ParseFromArray(v.data(), static_cast<int>(v.size()));
      assigned += c.state() == v1::store::CONVERSATION_STATE_ASSIGNED ? 1 : 0;
      return true;
    });
    return messages == kMessages && assigned == kCustomers;
  };
  // The store commits an assignment before its frame reaches the desk: also wait until the
  // desks have seen every conversation, so stopping the router cannot cut frames in flight.
  auto desks_saw_all = [&] {
    std::set<std::string> seen;
    for (const auto& d : desks)
      for (const auto& a : d->assignments()) seen.insert(a.conversation().conversation_id());
    return seen.size() == static_cast<size_t>(kCustomers);
  };
  ASSERT_TRUE(wait_until(complete, std::chrono::seconds(90)));
  EXPECT_TRUE(wait_until(desks_saw_all, std::chrono::seconds(30)));
  router.stop(SIGTERM);

  auto store = router::Store::open_read_only(router::workspace_dir(p.state_dir, "acme"), err);
  ASSERT_TRUE(store) << err;
  size_t conversations = 0;
  store->scan(router::Cf::kConversations, "acme/", [&](std::string_view k, std::string_view v) {
    ++conversations;
    v1::store::Conversation c;
    EXPECT_TRUE(c.ParseFromArray(v.data(), static_cast<int>(v.size())));
    EXPECT_EQ(c.accepted_count(), 1u) << k;
    EXPECT_EQ(c.message_count(), static_cast<uint64_t>(kPerCustomer)) << k;
    // Exactly the customer's five messages, each once.
    std::multiset<std::string> ids;
    store->scan(router::Cf::kMessages, std::string(k) + "/",
                [&](std::string_view, std::string_view mv) {
                  v1::ConversationMessage m;
                  m.ParseFromArray(mv.data(), static_cast<int>(mv.size()));
                  ids.insert(m.external_message_id());
                  return true;
                });
    const int customer = std::stoi(c.summary().customer_handle().substr(9));
    std::multiset<std::string> expected;
    for (int j = 0; j < kPerCustomer; ++j)
      expected.insert(fmt::format("m-{}", customer + j * kCustomers));
    EXPECT_EQ(ids, expected) << k;
    return true;
  });
  EXPECT_EQ(conversations, static_cast<size_t>(kCustomers));

  // What the desks saw: each conversation was assigned to one agent only.
  std::map<std::string, std::set<std::string>> agents_of;
  for (size_t i = 0; i < desks.size(); ++i) {
    for (const auto& a : desks[i]->assignments())
      agents_of[a.conversation().conversation_id()].insert(p.agents[i].id);
  }
  EXPECT_EQ(agents_of.size(), static_cast<size_t>(kCustomers));
  for (const auto& [conv, agents] : agents_of) EXPECT_EQ(agents.size(), 1u) << conv;
}

}  // namespace
}  // namespace omniroute::testing
