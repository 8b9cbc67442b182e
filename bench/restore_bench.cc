#include "bench/restore_bench.h"

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/baselines.h"
#include "bench/decision.h"
#include "bench/stats.h"
#include "common/child_process.h"
#include "common/free_port.h"
#include "common/log.h"
#include "config/config.h"
#include "kafka/kafka.h"
#include "omniroute/v1/store.pb.h"
#include "router/changelog.h"
#include "router/partition.h"

namespace omniroute::bench {
namespace {

namespace fs = std::filesystem;

// One workspace per partition: the first id "rs<k>" that hashes there.
std::vector<std::string> workspace_per_partition(int partitions) {
  std::vector<std::string> out(static_cast<size_t>(partitions));
  int found = 0;
  for (int k = 0; found < partitions; ++k) {
    const std::string id = fmt::format("rs{}", k);
    std::string& slot = out[static_cast<size_t>(router::partition_of(id, partitions))];
    if (slot.empty()) slot = id, ++found;
  }
  return out;
}

struct Written {
  int64_t records = 0, commits = 0, bytes = 0;  // state records; steps' commit records
};

// The changelog of `n` new conversations of `workspace`, as the router produces it: every
// record of every step, to the workspace's partition, in commit order.
Written write_changelog(kafka::Producer& producer, const std::string& topic, int32_t p,
                        const std::string& workspace, int n, const RestoreOptions& o) {
  RoutingFixture fx(o.agents, o.queues, workspace, static_cast<size_t>(o.text_bytes));
  Written w;
  // One writer, steps tagged and committed as the router's (router/changelog.h).
  const router::StepTag writer{0x0b0e0c0000000000ULL + static_cast<uint64_t>(p) + 1, 0};
  uint64_t seq = 0;
  auto send = [&](const std::vector<router::ChangelogRecord>& records) {
    if (records.empty()) return;
    const router::StepFrames frames(records, {writer.writer, ++seq});
    for (size_t i = 0; i < frames.size(); ++i) {
      const auto [key, payload] = frames.at(i);
      const std::string_view v(payload);
      for (int attempt = 0; !producer.produce_to(topic, p, key, payload.empty() ? nullptr : &v,
                                                 [](const kafka::DeliveryReport&) {});
           ++attempt) {
        if (attempt > 200000) throw std::runtime_error("the producer's queue stays full");
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
      ++(router::is_commit_slot(key) ? w.commits : w.records);
      w.bytes += static_cast<int64_t>(key.size() + payload.size());
    }
  };
  send(fx.setup_changelog());
  auto b = fx.store().begin();
  for (int i = 1; i <= n; ++i) {
    fx.new_conversation(b);
    if (i % 512 != 0 && i != n) continue;
    // Delivered, as in a running router: the outbox records are deleted in the same step
    // (tombstones on the changelog; compaction drops both on a real cluster).
    for (const auto& r : fx.engine().take_outbox()) fx.engine().outbox_done(b, r.key);
    if (std::string e = fx.engine().commit(b); !e.empty()) throw std::runtime_error(e);
    send(router::changelog_of(b));
    fx.engine().take_frames();
    b.clear();
  }
  return w;
}

// No desk comes back in this bench: the agents' reconnect grace after a take-over (one
// heartbeat timeout) is made long, so partitions served early do not re-route their offers
// while the others still restore. That is the engine's work after a restore, not the
// restore, and with desks it does not happen.
// The group's session (RestoreOptions::session_timeout_ms): the kill phase's detection
// time depends on it.
std::string router_yaml(const RestoreOptions& o, const std::string& brokers,
                        const std::string& state, const std::string& endpoint,
                        const std::vector<std::string>& workspaces) {
  std::string out = fmt::format(R"(log_level: warn
kafka: {{brokers: "{}", partitions: {}, replication_factor: 1}}
state: {{dir: "{}"}}
router: {{agent_endpoint: "{}", agent_auth: none, insecure: true, session_timeout_ms: {},
          standby_replicas: 0, heartbeat_timeout_ms: 600000}}
workspaces:
)",
                                brokers, o.partitions, state, endpoint, o.session_timeout_ms);
  for (const auto& w : workspaces) out += RoutingFixture::workspace_yaml(w, o.agents, o.queues);
  return out;
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A router process on its own state dir and agent endpoint (`omniroute router`).
struct Instance {
  std::string state, endpoint, config, yaml;
  std::unique_ptr<ChildProcess> process;
};

Instance make_instance(const RestoreOptions& o, const std::string& dir, const std::string& brokers,
                       const std::vector<std::string>& workspaces) {
  Instance in;
  in.state = dir + "/state";
  in.endpoint = fmt::format("tcp://127.0.0.1:{}", free_tcp_port());
  in.config = dir + "/router.yaml";
  fs::create_directories(dir);
  in.yaml = router_yaml(o, brokers, in.state, in.endpoint, workspaces);
  std::ofstream(in.config) << in.yaml;
  in.process = std::make_unique<ChildProcess>(
      o.binary, std::vector<std::string>{"router", "--config", in.config, "--log-level",
                                         std::getenv("OMNIROUTE_RESTORE_LOG") ? "info" : "warn"});
  return in;
}

// Every partition announced served by `in` (its endpoint), read from omni.routers.
struct Served {
  int64_t records = 0, first_restore_ms = INT64_MAX, last_served_ms = 0;
};

Served wait_served(kafka::Consumer& directory, const Instance& in, int partitions) {
  std::map<int32_t, v1::store::RouterOwner> owners;
  const auto t0 = Clock::now();
  while (static_cast<int>(owners.size()) < partitions && secs(Clock::now() - t0) < 900) {
    if (in.process->ended()) throw std::runtime_error("the router exited during the restore");
    for (auto& m : directory.poll(1000, 200)) {
      if (m.is_error()) continue;
      v1::store::RouterOwner ow;
      if (ow.ParseFromArray(m.value().data(), static_cast<int>(m.value().size())) &&
          ow.endpoint() == in.endpoint && !ow.released() && !ow.restoring())
        owners[ow.partition()] = ow;
    }
  }
  if (static_cast<int>(owners.size()) < partitions)
    throw std::runtime_error(
        fmt::format("{} of {} partitions served after 15 min", owners.size(), partitions));
  // Partitions restore side by side, each announced when it is served: the restore's wall
  // time runs from the earliest start (announced time − its restore time) to the last
  // announcement.
  Served out;
  for (const auto& [p, ow] : owners) {
    out.records += ow.restored_records();
    out.first_restore_ms = std::min(out.first_restore_ms, ow.since_ms() - ow.restore_ms());
    out.last_served_ms = std::max(out.last_served_ms, ow.since_ms());
  }
  return out;
}

int64_t conversations_in(const std::string& state, int partitions) {
  std::string err;
  int64_t n = 0;
  for (int p = 0; p < partitions; ++p) {
    auto store = router::Store::open_read_only(router::partition_dir(state, p), err);
    if (!store) throw std::runtime_error(err);
    store->scan(router::Cf::kConversations, "", [&](std::string_view, std::string_view) {
      ++n;
      return true;
    });
  }
  return n;
}

json run(const RestoreOptions& o, const std::string& tmp) {
  std::string err;
  auto cluster = kafka::EmbeddedCluster::start(3, err);
  if (!cluster) throw std::runtime_error(err);
  const kafka::ClientConfig kc{cluster->bootstraps(), {}};
  const auto workspaces = workspace_per_partition(o.partitions);
  Instance first = make_instance(o, tmp + "/first", kc.brokers, workspaces);
  std::vector<std::string> errors;
  auto cfg = config::parse(first.yaml, errors);
  if (!cfg) throw std::runtime_error(errors.front());
  for (const auto& t : cfg->all_topics())
    if (!cluster->create_topic(t, o.partitions, 1, err)) throw std::runtime_error(err);
  const std::string& changelog = cfg->kafka.topics.changelog;

  // 1. The changelog, written by the real engine.
  fmt::print("writing the changelog of {} conversations over {} partitions ...\n", o.conversations,
             o.partitions);
  std::fflush(stdout);
  auto producer = kafka::Producer::create(
      kc, err, {{"linger.ms", "20"}, {"queue.buffering.max.messages", "2000000"}});
  if (!producer) throw std::runtime_error(err);
  Written total;
  const auto gen_t0 = Clock::now();
  for (int p = 0; p < o.partitions; ++p) {
    const int n = o.conversations / o.partitions + (p < o.conversations % o.partitions ? 1 : 0);
    const Written w =
        write_changelog(*producer, changelog, p, workspaces[static_cast<size_t>(p)], n, o);
    total.records += w.records;
    total.commits += w.commits;
    total.bytes += w.bytes;
  }
  if (!producer->flush(600000)) throw std::runtime_error("changelog not acknowledged in 10 min");
  const double gen_s = secs(Clock::now() - gen_t0);

  // What the embedded broker kept: its log holds ~5 MB per partition and drops the oldest
  // record sets beyond that; a truncated changelog would make the count below wrong.
  auto check = kafka::Consumer::create(kc, "bench-restore-check", err);
  if (!check) throw std::runtime_error(err);
  int truncated = 0;
  int64_t on_broker = 0;
  for (int p = 0; p < o.partitions; ++p) {
    int64_t low = 0, high = 0;
    if (!check->query_watermarks(changelog, p, low, high, 10000))
      throw std::runtime_error("cannot read the changelog's watermarks");
    truncated += low > 0;
    on_broker += high - low;
  }
  if (truncated > 0)
    throw std::runtime_error(fmt::format(
        "the embedded broker dropped the start of {} of {} changelog partitions (it keeps ~5 "
        "MB each): use more --restore-partitions",
        truncated, o.partitions));

  auto directory = kafka::Consumer::create(kc, "bench-restore-directory", err);
  if (!directory) throw std::runtime_error(err);
  {
    std::vector<kafka::PartitionOffset> parts;
    for (int p = 0; p < o.partitions; ++p)
      parts.push_back({cfg->kafka.topics.routers, p, RD_KAFKA_OFFSET_BEGINNING});
    if (!directory->assign(parts, err)) throw std::runtime_error(err);
  }

  // 2. A router with an empty state dir takes every partition: restore, then serve.
  fmt::print("starting a router with no local state ...\n");
  std::fflush(stdout);
  const int64_t start_ms = wall_ms();
  first.process->start();
  const Served a = wait_served(*directory, first, o.partitions);
  const uint64_t peak_rss = proc_mem(first.process->pid(), "VmHWM");
  const double cpu_s = proc_cpu_seconds(first.process->pid());

  // 3. That owner killed (SIGKILL), a second router with no local copy started at once:
  // the group notices the dead member (its session), gives the second every partition, and
  // it restores them all from the changelog. Kill to every partition served.
  fmt::print("killing it (SIGKILL); a second router with no local state takes over ...\n");
  std::fflush(stdout);
  Instance second = make_instance(o, tmp + "/second", kc.brokers, workspaces);
  const int64_t kill_ms = wall_ms();
  first.process->stop(SIGKILL);
  second.process->start();
  const Served b = wait_served(*directory, second, o.partitions);
  const uint64_t second_rss = proc_mem(second.process->pid(), "VmHWM");
  const double second_cpu_s = proc_cpu_seconds(second.process->pid());
  const int status = second.process->stop(SIGTERM);

  // 4. What they restored: the conversations in their stores.
  const int64_t restored = conversations_in(first.state, o.partitions);
  const int64_t taken_over = conversations_in(second.state, o.partitions);
  const double restore_s = static_cast<double>(a.last_served_ms - a.first_restore_ms) / 1000;
  const double second_restore_s = static_cast<double>(b.last_served_ms - b.first_restore_ms) / 1000;
  return {
      {"conversations", o.conversations},
      {"partitions", o.partitions},
      {"text_bytes", o.text_bytes},
      {"changelog_records", total.records},
      {"changelog_commit_records", total.commits},
      {"changelog_bytes", total.bytes},
      {"records_on_broker", on_broker},
      {"write_seconds", gen_s},
      {"restored_records", a.records},
      {"restored_conversations", restored},
      {"all_conversations_restored", restored == o.conversations},
      {"restore_seconds", restore_s},
      {"conversations_per_second", restore_s > 0 ? o.conversations / restore_s : 0},
      {"records_per_second", restore_s > 0 ? static_cast<double>(a.records) / restore_s : 0},
      {"start_to_first_restore_seconds", static_cast<double>(a.first_restore_ms - start_ms) / 1000},
      {"start_to_all_served_seconds", static_cast<double>(a.last_served_ms - start_ms) / 1000},
      {"router_peak_rss_bytes", peak_rss},
      // The router's CPU (user + system, every thread) from its start to all served.
      {"router_cpu_seconds", cpu_s},
      {"state_bytes", dir_size(first.state)},
      {"kill",
       {{"session_timeout_ms", o.session_timeout_ms},
        {"taken_over_conversations", taken_over},
        {"all_conversations_taken_over", taken_over == o.conversations},
        {"restored_records", b.records},
        {"kill_to_first_restore_seconds", static_cast<double>(b.first_restore_ms - kill_ms) / 1000},
        {"restore_seconds", second_restore_s},
        {"kill_to_all_served_seconds", static_cast<double>(b.last_served_ms - kill_ms) / 1000},
        {"router_peak_rss_bytes", second_rss},
        {"router_cpu_seconds", second_cpu_s}}},
      {"router_exit_status", status}};
}

}  // namespace

int run_restore(const RestoreOptions& o) {
  log::set_level("warn");
  const std::string tmp =
      (fs::temp_directory_path() / fmt::format("omniroute-restore-{}", getpid())).string();
  fs::create_directories(tmp);
  json result = run_header();
  bool ok = false;
  try {
    json r = run(o, tmp);
    ok = r["all_conversations_restored"].get<bool>() &&
         r["kill"]["all_conversations_taken_over"].get<bool>();
    fmt::print(
        "restored {} of {} conversations ({} changelog records) in {:.2f} s: {:.0f} "
        "conversations/s, {:.0f} records/s; router start -> all {} partitions served {:.2f} s "
        "(group join {:.2f} s); peak RSS {:.0f} MB, router CPU {:.1f} s\n",
        r["restored_conversations"].get<int64_t>(), o.conversations,
        r["restored_records"].get<int64_t>(), r["restore_seconds"].get<double>(),
        r["conversations_per_second"].get<double>(), r["records_per_second"].get<double>(),
        o.partitions, r["start_to_all_served_seconds"].get<double>(),
        r["start_to_first_restore_seconds"].get<double>(),
        static_cast<double>(r["router_peak_rss_bytes"].get<uint64_t>()) / 1e6,
        r["router_cpu_seconds"].get<double>());
    const json& k = r["kill"];
    fmt::print(
        "owner killed (SIGKILL) -> a router with no local state serving all {} partitions: "
        "{:.2f} s (the group's detection and its start {:.2f} s, restore {:.2f} s); {} of {} "
        "conversations taken over; peak RSS {:.0f} MB, router CPU {:.1f} s\n",
        o.partitions, k["kill_to_all_served_seconds"].get<double>(),
        k["kill_to_first_restore_seconds"].get<double>(), k["restore_seconds"].get<double>(),
        k["taken_over_conversations"].get<int64_t>(), o.conversations,
        static_cast<double>(k["router_peak_rss_bytes"].get<uint64_t>()) / 1e6,
        k["router_cpu_seconds"].get<double>());
    result["restore"] = std::move(r);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench --restore: {}\n", e.what());
    result["error"] = e.what();
  }
  fs::create_directories(o.out_dir);
  std::ofstream(o.out_dir + "/restore.json") << result.dump(2) << "\n";
  fmt::print("wrote {}/restore.json\n", o.out_dir);
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return ok ? 0 : 1;
}

}  // namespace omniroute::bench
