#include "bench/scale_bench.h"

#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/baselines.h"
#include "bench/bench.h"
#include "bench/desk_pool.h"
#include "bench/stats.h"
#include "common/child_process.h"
#include "common/free_port.h"
#include "common/log.h"
#include "config/config.h"
#include "kafka/kafka.h"
#include "omniroute/v1/store.pb.h"

namespace omniroute::bench {
namespace {

namespace fs = std::filesystem;
constexpr int kPartitions = 6;

int64_t index_after(const std::string& s, size_t prefix) {
  if (s.size() <= prefix) return -1;
  return std::strtoll(s.c_str() + prefix, nullptr, 10);
}

// partition -> owner endpoint ("" while released), from omni.routers.
class Directory {
 public:
  Directory(const kafka::ClientConfig& kc, const std::string& topic) {
    std::string err;
    c_ = kafka::Consumer::create(kc, "bench-scale-directory", err);
    std::vector<kafka::PartitionOffset> parts;
    for (int p = 0; p < kPartitions; ++p) parts.push_back({topic, p, RD_KAFKA_OFFSET_BEGINNING});
    if (c_) (void)c_->assign(parts, err);
  }
  const std::map<int32_t, std::string>& read() {
    if (!c_) return owners_;
    for (auto& m : c_->poll(1000, 50)) {
      if (m.is_error()) continue;
      v1::store::RouterOwner o;
      if (!o.ParseFromArray(m.value().data(), static_cast<int>(m.value().size()))) continue;
      owners_[o.partition()] = o.released() || o.restoring() ? "" : o.endpoint();
    }
    return owners_;
  }

 private:
  std::unique_ptr<kafka::Consumer> c_;
  std::map<int32_t, std::string> owners_;
};

json run_instances(const ScaleOptions& so, int n, const std::string& tmp) {
  std::string err;
  auto cluster = kafka::EmbeddedCluster::start(3, err);
  if (!cluster) throw std::runtime_error(err);
  kafka::ClientConfig kc;
  kc.brokers = cluster->bootstraps();
  config::Config topics_cfg;
  for (const auto& t : topics_cfg.all_topics()) (void)cluster->create_topic(t, kPartitions, 1, err);

  Options o;
  o.messages = so.messages;
  o.workspaces = so.workspaces;
  o.conversations = so.conversations;
  o.agents = so.agents;
  const int per_agent = (o.conversations + o.workspaces * o.agents - 1) / (o.workspaces * o.agents);
  struct Instance {
    std::string endpoint;
    std::unique_ptr<ChildProcess> proc;
  };
  std::vector<Instance> routers;
  for (int i = 0; i < n; ++i) {
    const std::string dir = fmt::format("{}/n{}/r{}", tmp, n, i);
    fs::create_directories(dir);
    const std::string endpoint = fmt::format("tcp://127.0.0.1:{}", free_tcp_port());
    const std::string cfg = dir + "/omniroute.yaml";
    std::ofstream(cfg) << bench_config(o, kc.brokers, dir + "/state", endpoint, per_agent * 2 + 1);
    auto proc = std::make_unique<ChildProcess>(
        so.binary, std::vector<std::string>{"router", "--config", cfg, "--log-level", "warn"});
    proc->start();
    routers.push_back({endpoint, std::move(proc)});
  }

  // The group settles: every partition owned, by as many instances as there are.
  Directory directory(kc, topics_cfg.kafka.topics.routers);
  const auto settle_t0 = Clock::now();
  std::map<int32_t, std::string> owners;
  auto settled_since = Clock::now();
  bool settled = false;
  while (secs(Clock::now() - settle_t0) < 120) {
    const auto& now_owners = directory.read();
    std::set<std::string> distinct;
    for (const auto& [p, e] : now_owners)
      if (!e.empty()) distinct.insert(e);
    const bool full = static_cast<int>(now_owners.size()) == kPartitions &&
                      static_cast<int>(distinct.size()) == n &&
                      std::none_of(now_owners.begin(), now_owners.end(),
                                   [](const auto& kv) { return kv.second.empty(); });
    if (!full || now_owners != owners) {
      owners = now_owners;
      settled_since = Clock::now();
    } else if (secs(Clock::now() - settled_since) > 2) {
      settled = true;
      break;
    }
  }
  if (!settled) throw std::runtime_error(fmt::format("{} routers did not settle in 120 s", n));

  std::vector<std::atomic<int64_t>> received(static_cast<size_t>(o.messages));
  std::vector<int64_t> sent(static_cast<size_t>(o.messages), 0);
  std::atomic<int64_t> received_count{0};
  auto mark = [&](int64_t i, Clock::time_point t) {
    if (i < 0 || i >= o.messages) return;
    int64_t expected = 0;
    if (received[static_cast<size_t>(i)].compare_exchange_strong(expected,
                                                                 t.time_since_epoch().count()))
      ++received_count;
  };
  DeskPool::Hooks hooks;
  hooks.offer = [&](const std::string& customer, Clock::time_point t) {
    mark(index_after(customer, 4), t);
  };
  hooks.message = [&](const std::string& ext, Clock::time_point t) {
    mark(index_after(ext, 1), t);
  };
  DeskPoolOptions dpo;
  dpo.endpoint = routers[0].endpoint;  // desks are redirected to their workspace's owner
  for (int w = 0; w < o.workspaces; ++w)
    for (int a = 0; a < o.agents; ++a)
      dpo.agents.emplace_back(fmt::format("ws{}", w), fmt::format("a{}", a));
  DeskPool desks(dpo, hooks);
  desks.start();
  const auto welcome_t0 = Clock::now();
  while (desks.welcomed() < dpo.agents.size() && secs(Clock::now() - welcome_t0) < 60)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (desks.welcomed() < dpo.agents.size())
    throw std::runtime_error(
        fmt::format("{} of {} desks welcomed", desks.welcomed(), dpo.agents.size()));

  std::vector<double> cpu0;
  for (auto& r : routers) cpu0.push_back(proc_cpu_seconds(r.proc->pid()));
  auto producer = kafka::Producer::create(kc, err);
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < o.messages; ++i) {
    auto env = make_message(i, static_cast<int>(i % o.conversations), o.workspaces);
    sent[static_cast<size_t>(i)] = ns_now();
    produce_blocking(*producer, "omni.inbound", env.message().workspace_id(),
                     env.SerializeAsString());
  }
  producer->flush(10000);
  while (received_count < o.messages && secs(Clock::now() - t0) < 600)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  double cpu = 0;
  for (size_t i = 0; i < routers.size(); ++i)
    cpu += proc_cpu_seconds(routers[i].proc->pid()) - cpu0[i];
  int64_t last = 0;
  std::vector<double> latency;
  for (int64_t i = 0; i < o.messages; ++i) {
    const int64_t r = received[static_cast<size_t>(i)];
    if (r == 0) continue;
    last = std::max(last, r);
    latency.push_back(us(r - sent[static_cast<size_t>(i)]));
  }
  const double seconds = static_cast<double>(last - t0.time_since_epoch().count()) / 1e9;
  json per_instance = json::array();
  for (const auto& r : routers) {
    std::vector<int32_t> parts;
    for (const auto& [p, e] : owners)
      if (e == r.endpoint) parts.push_back(p);
    std::vector<std::string> ws;
    for (int w = 0; w < o.workspaces; ++w) {
      const std::string id = fmt::format("ws{}", w);
      if (std::find(parts.begin(), parts.end(), kafka::partition_for_key(id, kPartitions)) !=
          parts.end())
        ws.push_back(id);
    }
    per_instance.push_back({{"partitions", parts},
                            {"workspaces", ws},
                            {"peak_rss_bytes", proc_mem(r.proc->pid(), "VmHWM")}});
  }
  desks.stop();
  for (auto& r : routers) r.proc->stop(SIGTERM);
  return {{"instances", n},
          {"messages", o.messages},
          {"received", received_count.load()},
          {"all_delivered_to_desks", received_count.load() == o.messages},
          {"seconds", seconds},
          {"msgs_per_s", o.messages / seconds},
          {"router_cpu_seconds", cpu},
          {"router_cpu_us_per_message", cpu * 1e6 / o.messages},
          {"publish_to_desk", percentiles_json(latency)},
          {"routers", per_instance}};
}

}  // namespace

int run_scale(const ScaleOptions& so) {
  log::set_level("warn");
  const std::string tmp =
      (fs::temp_directory_path() / fmt::format("omniroute-scale-{}", getpid())).string();
  json result = run_header();
  result["config"] = {{"messages", so.messages},
                      {"workspaces", so.workspaces},
                      {"conversations", so.conversations},
                      {"agents_per_workspace", so.agents}};
  // The same run's ceiling: raw librdkafka produce + consume on a fresh embedded cluster.
  {
    std::string err;
    auto cluster = kafka::EmbeddedCluster::start(3, err);
    if (!cluster) {
      fmt::print(stderr, "bench: {}\n", err);
      return 1;
    }
    (void)cluster->create_topic("bench.raw", kPartitions, 1, err);
    Options o;
    o.messages = so.messages;
    result["baseline_kafka"] =
        kafka_baseline(o, {cluster->bootstraps(), {}}, "bench.raw", kPartitions);
  }
  json runs = json::array();
  bool ok = true;
  for (int n : so.instances) {
    fmt::print("{} router instance(s): {} messages ...\n", n, so.messages);
    std::fflush(stdout);
    try {
      json r = run_instances(so, n, tmp);
      fmt::print("  {:.0f} msgs/s end to end, router CPU {:.0f} µs/message, p50 {:.1f} ms\n",
                 r["msgs_per_s"].get<double>(), r["router_cpu_us_per_message"].get<double>(),
                 r["publish_to_desk"]["p50_us"].get<double>() / 1000);
      ok = ok && r["all_delivered_to_desks"].get<bool>();
      runs.push_back(std::move(r));
    } catch (const std::exception& e) {
      fmt::print(stderr, "  failed: {}\n", e.what());
      runs.push_back({{"instances", n}, {"error", e.what()}});
      ok = false;
    }
  }
  result["runs"] = runs;
  fs::create_directories(so.out_dir);
  std::ofstream(so.out_dir + "/scale.json") << result.dump(2) << "\n";
  fmt::print("wrote {}/scale.json\n", so.out_dir);
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return ok ? 0 : 1;
}

}  // namespace omniroute::bench
