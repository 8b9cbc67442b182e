#include "bench/failover_bench.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/chaos_fleet.h"
#include "common/free_port.h"
#include "config/config.h"
#include "kafka/kafka.h"
#include "omniroute/v1/events.pb.h"
#include "omniroute/v1/store.pb.h"

namespace omniroute::bench {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

struct Mode {
  int standby_replicas;
  std::vector<double> takeover_ms;
  std::vector<double> owner_announced_ms;  // kill -> the survivor names itself on omni.routers
  size_t sent = 0, answered = 0;
};

void run_mode(const FailoverOptions& o, Mode& mode) {
  std::string err;
  auto cluster = kafka::EmbeddedCluster::start(3, err);
  if (!cluster) throw std::runtime_error(err);
  const std::string tmp =
      fmt::format("/tmp/omniroute-failover-{}-{}", ::getpid(), mode.standby_replicas);
  std::filesystem::create_directories(tmp);
  auto yaml = [&](const std::string& state, const std::string& endpoint) {
    return fmt::format(R"(log_level: warn
kafka: {{brokers: "{}", partitions: 6, replication_factor: 1}}
state: {{dir: "{}"}}
router: {{agent_endpoint: "{}", agent_auth: none, insecure: true, heartbeat_interval_ms: 200,
          heartbeat_timeout_ms: 1000, session_timeout_ms: {}, standby_replicas: {}}}
workspaces:
  - id: acme
    queues: [{{id: general}}]
    inboxes: [{{id: api, channel: webhook, queue: general, settings: {{secret: s, callback_url: "http://127.0.0.1:1/x"}}}}]
    agents: [{{id: a0, capacity: {{webhook: 1000}}}}]
)",
                       cluster->bootstraps(), state, endpoint, o.session_timeout_ms,
                       mode.standby_replicas);
  };
  std::vector<std::string> errors;
  auto cfg = config::parse(yaml(tmp + "/x", "tcp://127.0.0.1:1"), errors);
  if (!cfg) throw std::runtime_error(errors.front());
  for (const auto& t : cfg->all_topics()) (void)cluster->create_topic(t, 6, 1, err);
  RouterFleet routers(o.binary, tmp, 2, 6, yaml, cluster->bootstraps(), cfg->kafka.topics.routers,
                      "acme");
  routers.start();
  AnsweringDesk desk(routers.desk_endpoints(), "a0");

  // Answers as they reach Kafka for the channel: message index -> when first seen.
  std::mutex mu;
  std::map<int, Clock::time_point> answered;
  std::atomic<bool> stop{false};
  std::thread witness([&] {
    std::string werr;
    auto c = kafka::Consumer::create({cluster->bootstraps(), {}}, "failover-witness", werr);
    std::vector<kafka::PartitionOffset> parts;
    for (int p = 0; p < 6; ++p) parts.push_back({"omni.outbound.webhook", p});
    (void)c->assign(parts, werr);
    while (!stop) {
      for (auto& m : c->poll(512, 50)) {
        if (m.is_error()) continue;
        v1::OutboundMessage out;
        if (!out.ParseFromArray(m.value().data(), static_cast<int>(m.value().size()))) continue;
        const std::string& t = out.text_body();
        if (t.rfind("re:m", 0) != 0) continue;
        std::lock_guard lock(mu);
        answered.emplace(std::stoi(t.substr(4)), Clock::now());
      }
    }
    c->close();
  });
  // Who owns the workspace's partition, as announced on omni.routers: (when, endpoint).
  std::vector<std::pair<Clock::time_point, std::string>> announcements;
  std::thread directory([&] {
    std::string derr;
    auto c = kafka::Consumer::create({cluster->bootstraps(), {}}, "failover-directory", derr);
    const int32_t part = kafka::partition_for_key("acme", 6);
    // Keyed by the inbound partition: any partition of omni.routers may carry it.
    std::vector<kafka::PartitionOffset> all;
    for (int32_t p = 0; p < 6; ++p)
      all.push_back({cfg->kafka.topics.routers, p, RD_KAFKA_OFFSET_END});
    (void)c->assign(all, derr);
    while (!stop) {
      for (auto& m : c->poll(100, 20)) {
        if (m.is_error()) continue;
        v1::store::RouterOwner ro;
        if (!ro.ParseFromArray(m.value().data(), static_cast<int>(m.value().size())) ||
            ro.partition() != part || ro.released() || ro.restoring())
          continue;
        std::lock_guard lock(mu);
        announcements.emplace_back(Clock::now(), ro.endpoint());
      }
    }
    c->close();
  });
  auto producer = kafka::Producer::create({cluster->bootstraps(), {}}, err);
  std::map<int, Clock::time_point> sent;
  int next = 0;
  auto send_for = [&](double seconds) {
    const auto until = Clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
    while (Clock::now() < until) {
      v1::Envelope env;
      auto* m = env.mutable_message();
      m->set_workspace_id("acme");
      m->set_inbox_id("api");
      m->set_channel(v1::CHANNEL_WEBHOOK);
      m->set_event_id(fmt::format("ev{}", next));
      m->set_customer_handle(fmt::format("c{}", next % 500));
      m->set_external_message_id(fmt::format("m{}", next));
      m->set_text_body("hello");
      sent[next] = Clock::now();
      (void)producer->produce("omni.inbound", "acme", env.SerializeAsString(), [](const auto&) {});
      ++next;
      std::this_thread::sleep_for(std::chrono::microseconds(1000000 / std::max(1, o.rate)));
    }
  };
  send_for(o.seconds_between);
  for (int k = 0; k < o.kills; ++k) {
    const auto killed_at = Clock::now();
    const int first_after = next;
    // The machine is gone: the survivor takes over alone (a restart at once would make the
    // group wait for the dead member's session in the middle of the next rebalance).
    const int killed = routers.owner_kill(false);
    fmt::print("  standby_replicas {}: kill {}: instance {} killed\n", mode.standby_replicas, k + 1,
               killed);
    std::fflush(stdout);
    send_for(o.seconds_between);
    // Wait for that message's answer (a slow takeover shows as a long wait, not a miss).
    for (int i = 0; i < 600; ++i) {
      {
        std::lock_guard lock(mu);
        if (answered.count(first_after)) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    {
      std::lock_guard lock(mu);
      auto it = answered.find(first_after);
      mode.takeover_ms.push_back(it == answered.end() ? -1 : ms_since(killed_at, it->second));
      double announced = -1;
      for (const auto& [t, e] : announcements)
        if (t > killed_at && e != routers.endpoint(static_cast<size_t>(killed))) {
          announced = ms_since(killed_at, t);
          break;
        }
      mode.owner_announced_ms.push_back(announced);
    }
    routers.start_instance(killed);  // back as the second instance (a standby again)
    send_for(o.seconds_between);
    fmt::print(
        "  standby_replicas {}: kill {}: the survivor owned the workspace {:.0f} ms after the "
        "kill; the first message after it answered after {:.0f} ms\n",
        mode.standby_replicas, k + 1, mode.owner_announced_ms.back(), mode.takeover_ms.back());
    std::fflush(stdout);
  }
  for (int i = 0; i < 300; ++i) {
    {
      std::lock_guard lock(mu);
      if (answered.size() >= sent.size()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop = true;
  witness.join();
  directory.join();
  mode.sent = sent.size();
  mode.answered = answered.size();
  std::vector<std::string> ignored;
  routers.stop_all(ignored);
  std::error_code ec;
  std::filesystem::remove_all(tmp, ec);
}

}  // namespace

int run_failover(const FailoverOptions& o) {
  std::vector<Mode> modes{{1, {}, {}, 0, 0}, {0, {}, {}, 0, 0}};
  nlohmann::json results = nlohmann::json::array();
  bool ok = true;
  for (auto& m : modes) {
    try {
      run_mode(o, m);
    } catch (const std::exception& e) {
      fmt::print(stderr, "bench --failover: {}\n", e.what());
      return 1;
    }
    auto sorted = m.takeover_ms;
    std::sort(sorted.begin(), sorted.end());
    ok = ok && m.answered == m.sent && (sorted.empty() || sorted.front() >= 0);
    results.push_back({{"standby_replicas", m.standby_replicas},
                       {"takeover_ms", m.takeover_ms},
                       {"owner_announced_ms", m.owner_announced_ms},
                       {"takeover_ms_max", sorted.empty() ? 0 : sorted.back()},
                       {"messages_sent", m.sent},
                       {"messages_answered", m.answered}});
  }
  nlohmann::json j = {{"rate_per_s", o.rate},
                      {"kills_per_mode", o.kills},
                      {"session_timeout_ms", o.session_timeout_ms},
                      {"modes", results},
                      {"all_answered", ok}};
  std::filesystem::create_directories(o.out_dir);
  std::ofstream(o.out_dir + "/failover.json") << j.dump(2) << "\n";
  fmt::print("{}\n", j.dump(2));
  return ok ? 0 : 1;
}

}  // namespace omniroute::bench
