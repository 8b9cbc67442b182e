// Three router processes on one Kafka cluster share six workspaces by partition. Under a
// stream of messages with desks accepting and replying: one owner is killed (SIGKILL),
// another hands over (SIGTERM), two new instances join (scale 1 -> 3). Desks all connect to
// the first instance and follow its redirects; those sent to the killed one come back to
// the first and are sent on. At the end the changelog on the cluster (the
// truth a new owner restores from) holds every message once in its conversation, every
// conversation accepted once, and every reply once.
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "common/child_process.h"
#include "common/text_file.h"
#include "desk/desk.h"
#include "omniroute/v1/store.pb.h"
#include "router/changelog.h"
#include "router/store.h"
#include "tests/integration/group_helpers.h"
#include "tests/integration/harness.h"

namespace omniroute::testing {
namespace {

constexpr int kPartitions = 6;
constexpr int kWorkspaces = kPartitions, kCustomers = 30, kPerCustomer = 4;
constexpr int kMessages = kWorkspaces * kCustomers * kPerCustomer;

// One workspace per partition (the first name "w<k>" that hashes there), so every instance
// owns workspaces and every move moves one.
std::string ws_id(int w) {
  static const std::vector<std::string> ids = [] {
    std::vector<std::string> out(kPartitions);
    int found = 0;
    for (int k = 0; found < kPartitions; ++k) {
      const std::string id = fmt::format("w{}", k);
      std::string& slot = out[static_cast<size_t>(kafka::partition_for_key(id, kPartitions))];
      if (slot.empty()) slot = id, ++found;
    }
    return out;
  }();
  return ids[static_cast<size_t>(w)];
}

std::string router_yaml(const std::string& brokers, const std::string& state,
                        const std::string& endpoint) {
  std::string workspaces;
  for (int w = 0; w < kWorkspaces; ++w)
    workspaces += fmt::format(R"(  - id: {0}
    queues: [{{id: general}}]
    inboxes:
      - {{id: api, channel: webhook, queue: general, settings: {{secret: s, callback_url: "http://127.0.0.1:1/x"}}}}
    agents:
      - {{id: a, capacity: {{webhook: 100}}, curve_public_key: "{1}"}}
)",
                              ws_id(w), test_agent_keys(ws_id(w), "a").public_key);
  return fmt::format(R"(log_level: info
kafka: {{brokers: "{}", partitions: {}, replication_factor: 1}}
state: {{dir: "{}"}}
router:
  agent_endpoint: "{}"
  membership: group
  session_timeout_ms: 3000
  heartbeat_interval_ms: 200
  heartbeat_timeout_ms: 1500
  presence_grace_ms: 600000
workspaces:
{})",
                     brokers, kPartitions, state, endpoint, workspaces);
}

// The changelog read back: latest value per slot, as a restore would have it.
std::map<std::string, std::string> read_changelog(const std::string& brokers) {
  std::string err;
  auto c = kafka::Consumer::create({brokers, {}}, "test-changelog", err);
  std::map<std::string, std::optional<std::string>> latest;
  for (int p = 0; p < kPartitions; ++p) {
    int64_t low = 0, high = 0;
    if (!c->query_watermarks("omni.changelog.router", p, low, high, 5000) || high <= low) continue;
    EXPECT_TRUE(c->assign({{"omni.changelog.router", p, low}}, err)) << err;
    int64_t next = low;
    router::StepGate<router::ChangelogRecord> gate;  // whole steps, as a restore reads them
    for (int idle = 0; next < high && idle < 50;) {
      auto msgs = c->poll(5000, 200);
      idle = msgs.empty() ? idle + 1 : 0;
      for (auto& m : msgs) {
        if (m.is_error()) continue;
        next = m.offset() + 1;
        gate.offer(router::changelog_record(m.key(), m.value()), m.key(), m.value(), m.offset(),
                   [&](router::ChangelogRecord& r) { latest[r.key] = r.value; });
      }
    }
  }
  std::map<std::string, std::string> out;
  for (auto& [k, v] : latest)
    if (v) out[k] = *v;
  return out;
}

std::string slot(router::Cf cf, const std::string& key) {
  return std::string(1, static_cast<char>(cf)) + key;
}

template <typename Fn>
void each_with_prefix(const std::map<std::string, std::string>& state, const std::string& prefix,
                      Fn fn) {
  for (auto it = state.lower_bound(prefix); it != state.end() && it->first.starts_with(prefix);
       ++it)
    fn(it->first.substr(1), it->second);
}

struct Counts {
  size_t messages = 0, assigned = 0;
};
Counts count(const std::map<std::string, std::string>& state) {
  Counts c;
  each_with_prefix(state, slot(router::Cf::kDedup, "m/"),
                   [&](const std::string&, const std::string&) { ++c.messages; });
  each_with_prefix(state, slot(router::Cf::kConversations, ""),
                   [&](const std::string&, const std::string& v) {
                     v1::store::Conversation conv;
                     conv.ParseFromString(v);
                     if (conv.state() == v1::store::CONVERSATION_STATE_ASSIGNED) ++c.assigned;
                   });
  return c;
}

class Instance {
 public:
  Instance(const std::string& dir, const std::string& brokers, int n)
      : state_(fmt::format("{}/r{}", dir, n)),
        endpoint_(fmt::format("tcp://127.0.0.1:{}", free_port())),
        cfg_(fmt::format("{}/r{}.yaml", dir, n)),
        // Warnings only: a failure's own message must not drown in five routers' routing
        // lines (CI shows the start of a failing test's output).
        proc_(omniroute_binary(), {"router", "--config", cfg_, "--log-level", "warn"}) {
    std::ofstream(cfg_) << router_yaml(brokers, state_, endpoint_);
  }
  void start() { proc_.start(); }
  int stop(int sig) { return proc_.stop(sig); }
  const std::string& endpoint() const { return endpoint_; }
  std::string public_key() const { return read_trimmed(state_ + "/router.pub").value_or(""); }

 private:
  std::string state_, endpoint_, cfg_;
  ChildProcess proc_;
};

TEST(Failover, OwnerKillHandOverAndScaleOutLoseAndDuplicateNothing) {
  TempDir dir;
  std::string err;
  auto cluster = kafka::EmbeddedCluster::start(3, err);
  ASSERT_TRUE(cluster) << err;
  const std::string brokers = cluster->bootstraps();
  ASSERT_EQ(
      group::create_topics(*cluster, router_yaml(brokers, "x", "tcp://127.0.0.1:1"), kPartitions),
      "");
  std::vector<std::unique_ptr<Instance>> routers;
  // 0-2 start; 1 is killed, 2 stopped; 3 and 4 are new instances on new endpoints (the desks
  // of the killed one find their way back through the configured endpoint).
  for (int n = 0; n < 5; ++n) routers.push_back(std::make_unique<Instance>(dir.path(), brokers, n));
  for (int n = 0; n < 3; ++n) routers[static_cast<size_t>(n)]->start();
  ASSERT_TRUE(wait_until([&] { return !routers[0]->public_key().empty(); }));

  // Every desk starts at the first instance and follows redirects. Replies carry an id
  // per conversation, so a desk that re-sends one after a move cannot make two.
  std::mutex mu;
  std::map<std::string, std::set<std::string>> assigned;  // ws -> conversations seen
  std::vector<std::unique_ptr<desk::Desk>> desks;
  for (int w = 0; w < kWorkspaces; ++w) {
    desk::Options o = test_curve_options(ws_id(w), "a");
    o.server_key = routers[0]->public_key();
    o.endpoint = routers[0]->endpoint();
    o.workspace_id = ws_id(w);
    o.agent_id = "a";
    auto cell = std::make_shared<desk::Desk*>(nullptr);
    desk::Handler h;
    h.on_offer = [cell](const v1::Offer& offer) { (*cell)->accept(offer.offer_id()); };
    h.on_assignment = [cell, &mu, &assigned, w](const v1::Assignment& a) {
      const std::string conv = a.conversation().conversation_id();
      {
        std::lock_guard lock(mu);
        assigned[ws_id(w)].insert(conv);
      }
      (*cell)->reply(conv, "answer to " + conv, fmt::format("reply-{}-{}", ws_id(w), conv));
    };
    desks.push_back(std::make_unique<desk::Desk>(o, h));
    *cell = desks.back().get();
    desks.back()->start();
  }
  ASSERT_TRUE(wait_until(
      [&] {
        for (auto& d : desks)
          if (!d->connected()) return false;
        return true;
      },
      std::chrono::seconds(60)));

  auto producer = kafka::Producer::create({brokers, {}}, err);
  ASSERT_TRUE(producer) << err;
  for (int i = 0; i < kMessages; ++i) {
    const std::string ws = ws_id(i % kWorkspaces);
    const int customer = (i / kWorkspaces) % kCustomers;
    v1::Envelope env;
    auto* m = env.mutable_message();
    m->set_workspace_id(ws);
    m->set_inbox_id("api");
    m->set_channel(v1::CHANNEL_WEBHOOK);
    m->set_event_id(fmt::format("ev-{}", i));
    m->set_customer_handle(fmt::format("customer-{}", customer));
    m->set_external_message_id(fmt::format("m-{}", i));
    m->set_text_body(fmt::format("message {}", i));
    ASSERT_TRUE(producer->produce("omni.inbound", ws, env.SerializeAsString(), [](const auto&) {}));
    if (i % 20 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (i == kMessages / 4) {
      int status = routers[1]->stop(SIGKILL);  // an owner dies mid-stream
      EXPECT_TRUE(WIFSIGNALED(status)) << status;
    }
    if (i == kMessages / 2) {
      int status = routers[2]->stop(SIGTERM);  // one hands over cleanly: 3 -> 1
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    }
    if (i == 3 * kMessages / 4) {
      routers[3]->start();  // and back out: 1 -> 3
      routers[4]->start();
    }
  }
  ASSERT_TRUE(producer->flush(10000));

  std::map<std::string, std::string> state;
  ASSERT_TRUE(wait_until(
      [&] {
        state = read_changelog(brokers);
        const Counts c = count(state);
        if (c.messages == static_cast<size_t>(kMessages) &&
            c.assigned == static_cast<size_t>(kWorkspaces * kCustomers))
          return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        return false;
      },
      std::chrono::seconds(120)))
      << "messages " << count(state).messages << ", assigned " << count(state).assigned;
  // Every reply acknowledged and in the changelog before we look at it.
  ASSERT_TRUE(wait_until(
      [&] {
        state = read_changelog(brokers);
        size_t replies = 0;
        each_with_prefix(state, slot(router::Cf::kDedup, "r/"),
                         [&](const std::string&, const std::string&) { ++replies; });
        if (replies == static_cast<size_t>(kWorkspaces * kCustomers)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        return false;
      },
      std::chrono::seconds(60)));

  size_t conversations = 0;
  each_with_prefix(state, slot(router::Cf::kConversations, ""),
                   [&](const std::string& key, const std::string& v) {
                     ++conversations;
                     v1::store::Conversation c;
                     ASSERT_TRUE(c.ParseFromString(v));
                     EXPECT_EQ(c.accepted_count(), 1u) << key;
                     EXPECT_EQ(c.message_count(), static_cast<uint64_t>(kPerCustomer + 1)) << key;
                     std::multiset<std::string> ids;
                     size_t replies = 0;
                     each_with_prefix(state, slot(router::Cf::kMessages, key + "/"),
                                      [&](const std::string&, const std::string& mv) {
                                        v1::ConversationMessage m;
                                        m.ParseFromString(mv);
                                        if (m.author() == v1::AUTHOR_AGENT)
                                          ++replies;
                                        else if (m.author() == v1::AUTHOR_CUSTOMER)
                                          ids.insert(m.external_message_id());
                                      });
                     EXPECT_EQ(replies, 1u) << key << ": every reply once";
                     const std::string ws = key.substr(0, key.find('/'));
                     int w = 0;
                     while (ws_id(w) != ws) ++w;
                     const int customer = std::stoi(c.summary().customer_handle().substr(9));
                     std::multiset<std::string> expected;
                     for (int i = 0; i < kMessages; ++i)
                       if (i % kWorkspaces == w && (i / kWorkspaces) % kCustomers == customer)
                         expected.insert(fmt::format("m-{}", i));
                     EXPECT_EQ(ids, expected) << key << ": every message once, in its conversation";
                   });
  EXPECT_EQ(conversations, static_cast<size_t>(kWorkspaces * kCustomers));

  // The replies reached Kafka for the channel: each outbound id at least once (a re-send
  // after a kill repeats an id, never makes a new one).
  std::set<std::string> outbound;
  for (const auto& v : read_topic(brokers, "omni.outbound.webhook", kPartitions,
                                  static_cast<size_t>(kWorkspaces * kCustomers), 30000)) {
    v1::OutboundMessage m;
    if (m.ParseFromString(v)) outbound.insert(m.outbound_id());
  }
  EXPECT_EQ(outbound.size(), static_cast<size_t>(kWorkspaces * kCustomers));
  // Six workspaces over three instances again: desks followed their workspaces elsewhere.
  std::set<std::string> endpoints;
  EXPECT_TRUE(wait_until(
      [&] {
        endpoints.clear();
        for (auto& d : desks)
          if (d->connected()) endpoints.insert(d->endpoint());
        return endpoints.size() >= 2;
      },
      std::chrono::seconds(30)))
      << "every desk stayed on the first instance";
  // `inspect owners` names a live instance for every partition, and its workspace.
  {
    const std::string cmd = fmt::format("{} inspect owners --config {}/r0.yaml --brokers {} 2>&1",
                                        omniroute_binary(), dir.path(), brokers);
    std::string out;
    ASSERT_TRUE(wait_until(
        [&] {
          out.clear();
          FILE* f = popen(cmd.c_str(), "r");
          char buf[4096];
          while (f && fgets(buf, sizeof buf, f)) out += buf;
          if (f) pclose(f);
          for (int w = 0; w < kWorkspaces; ++w) {
            // The workspace's row names one of the running instances.
            const size_t at = out.find(" " + ws_id(w) + "\n");
            if (at == std::string::npos) return false;
            const std::string row = out.substr(out.rfind('\n', at) + 1, at - out.rfind('\n', at));
            bool live = false;
            for (size_t n : {0u, 3u, 4u})
              live = live || row.find(routers[n]->endpoint() + " ") != std::string::npos;
            if (!live) {
              std::this_thread::sleep_for(std::chrono::milliseconds(300));
              return false;
            }
          }
          return true;
        },
        std::chrono::seconds(30)))
        << out;
  }
  for (auto& d : desks) d->stop();
  for (size_t n : {0u, 3u, 4u}) {
    const int status = routers[n]->stop(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "instance " << n << ": " << status;
  }
  // Clean hand-overs leave nothing waiting to be sent: every outbox record was acknowledged
  // and its deletion is on the changelog.
  state = read_changelog(brokers);
  size_t waiting = 0;
  each_with_prefix(state, slot(router::Cf::kOutbox, ""),
                   [&](const std::string&, const std::string&) { ++waiting; });
  EXPECT_EQ(waiting, 0u) << "outbox records never acknowledged";
}

}  // namespace
}  // namespace omniroute::testing
