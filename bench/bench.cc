#include "bench/bench.h"
#include "connectors/email/mime.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "bench/analytics_probe.h"
#include "bench/baselines.h"
#include "bench/decision.h"
#include "bench/desk_pool.h"
#include "bench/stats.h"
#include "common/child_process.h"
#include "common/free_port.h"
#include "common/ids.h"
#include "common/log.h"
#include "config/config.h"
#include "kafka/kafka.h"
#include "router/engine.h"
#include "router/partition.h"
#include "router/store.h"

namespace omniroute::bench {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// ---------------------------------------------------------------- end to end

struct Timeline {
  explicit Timeline(size_t n) : sent(n, 0), received(n, 0), replied(n, 0), outbound(n, 0) {}
  std::vector<int64_t> sent, received, replied, outbound;  // steady ns; 0 = not yet
  std::atomic<int64_t> received_count{0}, outbound_count{0}, replied_count{0};
};

int64_t index_of(const std::string& s, size_t prefix) {
  if (s.size() <= prefix) return -1;
  return std::strtoll(s.c_str() + prefix, nullptr, 10);
}

}  // namespace

int run(const Options& o) {
  log::set_level("warn");
  const auto started = Clock::now();
  json result = run_header();
  result["config"] = {{"messages", o.messages},
                      {"workspaces", o.workspaces},
                      {"conversations", o.conversations},
                      {"agents_per_workspace", o.agents},
                      {"brokers", o.brokers.empty() ? "embedded" : o.brokers},
                      {"rate_fraction", o.rate_fraction},
                      {"fixed_rate_seconds", o.fixed_rate_seconds},
                      {"state_conversations", o.state_conversations}};
  const std::string tmp =
      (fs::temp_directory_path() / fmt::format("omniroute-bench-{}", getpid())).string();
  fs::create_directories(tmp);

  // Kafka: embedded unless told otherwise.
  std::unique_ptr<kafka::EmbeddedCluster> cluster;
  kafka::ClientConfig kc;
  std::string err;
  const int partitions = 6;
  config::Config topics_cfg;
  if (o.brokers.empty()) {
    cluster = kafka::EmbeddedCluster::start(3, err);
    if (!cluster) {
      fmt::print(stderr, "bench: {}\n", err);
      return 1;
    }
    kc.brokers = cluster->bootstraps();
    for (const auto& t : topics_cfg.all_topics())
      (void)cluster->create_topic(t, partitions, 1, err);
    (void)cluster->create_topic("bench.raw", partitions, 1, err);
    (void)cluster->create_topic("bench.restart", partitions, 1, err);
  } else {
    kc.brokers = o.brokers;
    auto topics = topics_cfg.all_topics();
    topics.push_back("bench.raw");
    topics.push_back("bench.restart");
    if (!kafka::ensure_topics(kc, topics, partitions, 3, err)) {
      fmt::print(stderr, "bench: {}\n", err);
      return 1;
    }
  }

  fmt::print(
      "omniroute bench: {} messages, {} workspaces, {} conversations, {} agents per workspace\n",
      o.messages, o.workspaces, o.conversations, o.agents);
  fmt::print("[1/7] raw librdkafka produce + consume ...\n");
  std::fflush(stdout);
  result["baseline_kafka"] = kafka_baseline(o, kc, "bench.raw", partitions);
  fmt::print("[2/7] raw RocksDB WriteBatch commits ...\n");
  std::fflush(stdout);
  WriteShape shape = measure_write_shape(o, tmp + "/shape");
  result["baseline_rocksdb"] = rocksdb_baseline(o, tmp + "/rocks", shape, 1024);
  fmt::print("[3/7] raw ZeroMQ ROUTER<->DEALER round trips ...\n");
  std::fflush(stdout);
  result["baseline_zeromq"] = zeromq_baseline(o);

  // End to end through a router process.
  fmt::print("[4/7] end to end at full speed ...\n");
  std::fflush(stdout);
  const std::string state_dir = tmp + "/state";
  const int port = free_tcp_port();
  const std::string endpoint = fmt::format("tcp://127.0.0.1:{}", port);
  const int per_agent = (o.conversations + o.workspaces * o.agents - 1) / (o.workspaces * o.agents);
  if (per_agent * 2 + 1 > 1000) {
    fmt::print(stderr, "bench: more than 500 conversations per agent; add --agents\n");
    return 2;
  }
  const std::string cfg_path = tmp + "/omniroute.yaml";
  std::ofstream(cfg_path) << bench_config(o, kc.brokers, state_dir, endpoint, per_agent * 2 + 1);
  ChildProcess router(o.binary, {"router", "--config", cfg_path, "--log-level", "warn"});
  router.start();
  // The analytics consumer reads omni.routing beside it, as in production.
  AnalyticsProbe analytics(o.binary, cfg_path);

  const int64_t fixed_budget = static_cast<int64_t>(o.messages) * 2 + 1000000;
  Timeline tl(static_cast<size_t>(o.messages + fixed_budget));
  DeskPool::Hooks hooks;
  auto mark = [&](int64_t i, Clock::time_point t) {
    if (i < 0 || static_cast<size_t>(i) >= tl.received.size() ||
        tl.received[static_cast<size_t>(i)] != 0)
      return;
    tl.received[static_cast<size_t>(i)] = t.time_since_epoch().count();
    ++tl.received_count;
  };
  // The first message of a conversation arrives as its offer (customer cust<k> -> message k);
  // later ones as customer messages (or in the assignment's history).
  hooks.offer = [&](const std::string& customer, Clock::time_point t) {
    mark(index_of(customer, 4), t);
  };
  hooks.message = [&](const std::string& ext, Clock::time_point t) { mark(index_of(ext, 1), t); };
  hooks.reply_sent = [&](const std::string& text, Clock::time_point t) {
    int64_t i = index_of(text, 4);
    if (i >= 0 && static_cast<size_t>(i) < tl.replied.size()) {
      tl.replied[static_cast<size_t>(i)] = t.time_since_epoch().count();
      ++tl.replied_count;
    }
  };
  DeskPoolOptions dpo;
  dpo.endpoint = endpoint;
  for (int w = 0; w < o.workspaces; ++w) {
    for (int a = 0; a < o.agents; ++a)
      dpo.agents.emplace_back(fmt::format("ws{}", w), fmt::format("a{}", a));
  }
  DeskPool desks(dpo, hooks);
  desks.start();
  while (desks.welcomed() < dpo.agents.size() && secs(Clock::now() - router.started()) < 60) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  // Replies as they land on omni.outbound.webhook.
  std::atomic<bool> stop_out{false};
  std::thread out_reader([&] {
    std::string e;
    auto c = kafka::Consumer::create(kc, "bench-outbound", e, {{"fetch.wait.max.ms", "1"}});
    std::vector<kafka::PartitionOffset> parts;
    for (int p = 0; p < partitions; ++p)
      parts.push_back({"omni.outbound.webhook", p, RD_KAFKA_OFFSET_BEGINNING});
    (void)c->assign(parts, e);
    while (!stop_out) {
      for (auto& m : c->poll(1024, 50)) {
        if (m.is_error()) continue;
        v1::OutboundMessage om;
        if (!om.ParseFromArray(m.value().data(), static_cast<int>(m.value().size()))) continue;
        int64_t i = index_of(om.text_body(), 4);
        if (i >= 0 && static_cast<size_t>(i) < tl.outbound.size() &&
            tl.outbound[static_cast<size_t>(i)] == 0) {
          tl.outbound[static_cast<size_t>(i)] = ns_now();
          ++tl.outbound_count;
        }
      }
    }
    c->close();
  });

  auto producer = kafka::Producer::create(kc, err);
  // Sends messages [from, to) at `rate` per second (0 = as fast as possible).
  auto load = [&](int64_t from, int64_t to, double rate) {
    const auto t0 = Clock::now();
    for (int64_t i = from; i < to; ++i) {
      if (rate > 0) {
        const auto due = t0 + std::chrono::nanoseconds(
                                  static_cast<int64_t>(static_cast<double>(i - from) * 1e9 / rate));
        std::this_thread::sleep_until(due);
      }
      auto env = make_message(i, static_cast<int>(i % o.conversations), o.workspaces);
      std::string bytes = env.SerializeAsString();
      tl.sent[static_cast<size_t>(i)] = ns_now();
      produce_blocking(*producer, "omni.inbound", env.message().workspace_id(), bytes);
    }
  };
  auto wait_received = [&](int64_t count, double timeout_s) {
    const auto t0 = Clock::now();
    auto report = Clock::now();
    while (tl.received_count < count && secs(Clock::now() - t0) < timeout_s) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (secs(Clock::now() - report) > 5) {
        report = Clock::now();
        fmt::print("      ... {} of {} at the desks ({} desks connected, {} offers)\n",
                   tl.received_count.load(), count, desks.welcomed(), desks.offers());
        std::fflush(stdout);
      }
    }
    return tl.received_count >= count;
  };

  const auto e2e_t0 = Clock::now();
  const double cpu0 = proc_cpu_seconds(router.pid());
  analytics.begin_phase();
  load(0, o.messages, 0);
  const bool all = wait_received(o.messages, 600);
  // Router process CPU (user + system, all its threads) over the full-speed phase.
  const double router_cpu_s = proc_cpu_seconds(router.pid()) - cpu0;
  const json analytics_phase = analytics.end_phase(o.messages, 120);
  int64_t last = 0;
  for (int64_t i = 0; i < o.messages; ++i)
    last = std::max(last, tl.received[static_cast<size_t>(i)]);
  const double e2e_s = static_cast<double>(last - e2e_t0.time_since_epoch().count()) / 1e9;
  const double e2e_rate = o.messages / e2e_s;
  std::vector<double> to_offer, to_desk, reply_out;
  for (int64_t i = 0; i < o.messages; ++i) {
    const auto idx = static_cast<size_t>(i);
    if (tl.received[idx] == 0) continue;
    double l = us(tl.received[idx] - tl.sent[idx]);
    (i < o.conversations ? to_offer : to_desk).push_back(l);
  }
  json e2e = {{"messages", o.messages},
              {"all_delivered_to_desks", all},
              {"received", tl.received_count.load()},
              {"seconds", e2e_s},
              {"msgs_per_s", e2e_rate},
              {"router_cpu_seconds", router_cpu_s},
              {"router_cpu_us_per_message", router_cpu_s * 1e6 / o.messages},
              {"publish_to_offer", percentiles_json(to_offer)},
              {"publish_to_desk_later_messages", percentiles_json(to_desk)},
              {"analytics", analytics_phase}};

  // Fixed rate: what users feel. First let the full-speed backlog (replies still on their
  // way out) drain, so this phase measures the steady state and not the queue behind it.
  {
    const auto t0 = Clock::now();
    while (secs(Clock::now() - t0) < 60 && tl.outbound_count < tl.replied_count) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  fmt::print("[5/7] end to end at {:.0f}% of the maximum ({:.0f} msgs/s) for {} s ...\n",
             o.rate_fraction * 100, e2e_rate * o.rate_fraction, o.fixed_rate_seconds);
  std::fflush(stdout);
  const double rate = e2e_rate * o.rate_fraction;
  const int64_t fixed_n =
      std::min<int64_t>(fixed_budget, static_cast<int64_t>(rate * o.fixed_rate_seconds));
  const int64_t before = tl.received_count;
  load(o.messages, o.messages + fixed_n, rate);
  wait_received(before + fixed_n, 120);
  std::vector<double> fixed;
  for (int64_t i = o.messages; i < o.messages + fixed_n; ++i) {
    const auto idx = static_cast<size_t>(i);
    if (tl.received[idx] != 0) fixed.push_back(us(tl.received[idx] - tl.sent[idx]));
  }
  e2e["fixed_rate"] = {
      {"msgs_per_s", rate}, {"messages", fixed_n}, {"publish_to_desk", percentiles_json(fixed)}};

  // Replies: desk send -> OutboundMessage readable on Kafka.
  const auto wait_out = Clock::now();
  while (secs(Clock::now() - wait_out) < 30 && tl.outbound_count < tl.replied_count) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Measured in the fixed-rate phase: at full speed it is only the length of the queue.
  for (size_t i = static_cast<size_t>(o.messages); i < tl.outbound.size(); ++i) {
    if (tl.outbound[i] && tl.replied[i]) reply_out.push_back(us(tl.outbound[i] - tl.replied[i]));
  }
  e2e["fixed_rate"]["reply_to_outbound_record"] = percentiles_json(reply_out);
  stop_out = true;
  out_reader.join();
  desks.stop();
  e2e["router_peak_rss_bytes"] = proc_mem(router.pid(), "VmHWM");
  router.stop(SIGTERM);
  const uint64_t state_bytes = dir_size(state_dir);
  e2e["state_bytes"] = state_bytes;
  e2e["state_bytes_per_100k_conversations"] =
      static_cast<double>(state_bytes) / o.conversations * 100000.0;
  e2e["messages_per_conversation"] = static_cast<double>(o.messages + fixed_n) / o.conversations;
  result["end_to_end"] = e2e;

  // Memory and restart with a large state.
  if (o.state_conversations > 0) {
    fmt::print("[6/7] {} conversations in state: RSS and restart ...\n", o.state_conversations);
    std::fflush(stdout);
    const std::string big = tmp + "/big";
    Options one = o;
    one.workspaces = 1;
    const std::string big_cfg = tmp + "/big.yaml";
    // Its own inbound topic: the restart must not replay the end-to-end traffic.
    const std::string big_yaml =
        bench_config(one, kc.brokers, big, endpoint, 1000, "bench.restart");
    std::ofstream(big_cfg) << big_yaml;
    std::vector<std::string> errors;
    auto cfg = config::parse(big_yaml, errors);
    if (!cfg) {
      fmt::print(stderr, "bench: {}\n", errors.front());
      return 1;
    }
    const auto fill_t0 = Clock::now();
    {
      // Histories as the router itself writes them, without Kafka in the way: every
      // conversation opened, offered, accepted, answered and resolved.
      auto store = router::Store::open(
          router::workspace_dir(big, cfg->workspaces[0].id, cfg->kafka.partitions), false, err);
      router::SystemClock clock;
      router::Engine engine(*cfg, *store, clock);
      engine.load();
      auto frame = [](auto&& fill) {
        v1::AgentFrame f;
        fill(f);
        return f.SerializeAsString();
      };
      {
        auto b = store->begin();
        engine.apply_desk(b, "d", frame([](v1::AgentFrame& f) {
                            f.mutable_hello()->set_protocol_version(1);
                            f.mutable_hello()->set_workspace_id("ws0");
                            f.mutable_hello()->set_agent_id("a0");
                          }));
        (void)engine.commit(b);
      }
      const int per_batch = 500;
      for (int base = 0; base < o.state_conversations; base += per_batch) {
        auto b = store->begin();
        const int end = std::min(o.state_conversations, base + per_batch);
        for (int k = base; k < end; ++k) {
          auto env = make_message(k, k, 1);
          engine.apply_record(b, "bench.fill", 0, k, "ws0", env.SerializeAsString());
          const std::string conv = fmt::format("C{}", k + 1);
          engine.apply_desk(b, "d", frame([&](v1::AgentFrame& f) {
                              f.mutable_accept()->set_offer_id(conv + "/1");
                            }));
          engine.apply_desk(b, "d", frame([&](v1::AgentFrame& f) {
                              f.mutable_reply()->set_conversation_id(conv);
                              f.mutable_reply()->set_reply_id(conv);
                              f.mutable_reply()->set_text_body("answered");
                            }));
          engine.apply_desk(b, "d", frame([&](v1::AgentFrame& f) {
                              f.mutable_resolve()->set_conversation_id(conv);
                            }));
        }
        for (const auto& r : engine.take_outbox()) engine.outbox_done(b, r.key);
        engine.take_frames();
        (void)engine.commit(b);
      }
    }
    const double fill_s = secs(Clock::now() - fill_t0);
    // Restart: process start -> a new message offered to a desk.
    ChildProcess big_router(o.binary, {"router", "--config", big_cfg, "--log-level", "warn"});
    Clock::time_point offered{};
    DeskPool::Hooks h2;
    std::atomic<bool> got{false};
    h2.offer = [&](const std::string& customer, Clock::time_point t) {
      if (customer == "probe" && !got) {
        offered = t;
        got = true;
      }
    };
    DeskPoolOptions d2;
    d2.endpoint = endpoint;
    d2.agents = {{"ws0", "a1"}};
    d2.reply = false;
    DeskPool probe_desk(d2, h2);
    big_router.start();
    probe_desk.start();
    v1::Envelope probe = make_message(o.state_conversations + 1, 0, 1);
    probe.mutable_message()->set_customer_handle("probe");
    probe.mutable_message()->set_external_message_id("probe");
    produce_blocking(*producer, "bench.restart", "ws0", probe.SerializeAsString());
    producer->flush(10000);
    while (!got && secs(Clock::now() - big_router.started()) < 120) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const double restart_s = got ? secs(offered - big_router.started()) : -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    result["large_state"] = {{"conversations", o.state_conversations},
                             {"fill_seconds", fill_s},
                             {"state_bytes", dir_size(big)},
                             {"router_rss_bytes", proc_mem(big_router.pid(), "VmRSS")},
                             {"router_peak_rss_bytes", proc_mem(big_router.pid(), "VmHWM")},
                             {"restart_to_processing_seconds", restart_s}};
    probe_desk.stop();
    big_router.stop(SIGTERM);
  }
  producer.reset();

  // The verdict: end to end against the slowest raw part, same run.
  const auto& bk = result["baseline_kafka"];
  const double kafka_rate =
      std::min(bk.value("produce_msgs_per_s", 0.0), bk.value("consume_msgs_per_s", 0.0));
  const double rocks_rate = result["baseline_rocksdb"].value("msgs_per_s", 0.0);
  const double zmq_rate = result["baseline_zeromq"].value("pipelined_round_trips_per_s", 0.0);
  std::string slowest = "kafka";
  double slowest_rate = kafka_rate;
  if (o.decision_conversations > 0) {
    fmt::print("[7/7] routing decisions: {} agents, {} queues, {} new conversations ...\n",
               o.decision_agents, o.decision_queues, o.decision_conversations);
    std::fflush(stdout);
    const DecisionFigures d =
        measure_decisions(o.decision_agents, o.decision_queues, o.decision_conversations);
    result["routing_decisions"] = {{"agents", d.agents},
                                   {"queues", d.queues},
                                   {"conversations", d.conversations},
                                   {"decision_mean_us", d.decision_mean_us},
                                   {"new_conversation_step_p50_us", d.step_p50_us},
                                   {"new_conversation_step_p99_us", d.step_p99_us},
                                   {"new_conversations_per_s_with_commits", d.steps_per_s}};
  }
  {
    // Email normalization (GMime parse, charsets, HTML to text, quotes, attachments hashed),
    // in memory, per kind of message.
    fmt::print("[+] email normalization ...\n");
    std::fflush(stdout);
    const std::string head =
        "From: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.de>\r\nTo: support@acme.test\r\n"
        "Subject: =?UTF-8?B?UmU6IFJlY2hudW5n?= [#1234]\r\nMessage-ID: <b@example.de>\r\n"
        "In-Reply-To: <a@acme.test>\r\nDate: Mon, 20 Nov 2026 10:00:00 +0100\r\n"
        "MIME-Version: 1.0\r\n";
    std::string body;
    for (int i = 0; i < 40; ++i)
      body += "Die Rechnung ist falsch, bitte =FCberpr=FCfen. Danke!\r\n";
    const std::string plain = head +
                              "Content-Type: text/plain; charset=iso-8859-1\r\n"
                              "Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
                              body + "\r\nAm 19.11. schrieb Support:\r\n> old\r\n";
    std::string html_body = "<html><head><style>p{}</style></head><body>";
    for (int i = 0; i < 40; ++i) html_body += "<p>Where is <b>my</b> parcel? Order&nbsp;55.</p>";
    const std::string html =
        head + "Content-Type: text/html; charset=utf-8\r\n\r\n" + html_body + "</body></html>\r\n";
    std::string attachment(48 * 1024, 'A');
    const std::string mixed =
        head +
        "Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n"
        "--m\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n"
        "--a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n"
        "--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>See attached.</p>\r\n"
        "--a--\r\n--m\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\n"
        "Content-Disposition: attachment; filename=\"r.pdf\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" +
        attachment + "\r\n--m--\r\n";
    nlohmann::json ej;
    for (const auto& [name, raw] : std::vector<std::pair<std::string, const std::string*>>{
             {"plain_qp_latin1", &plain},
             {"html_only", &html},
             {"multipart_48k_attachment", &mixed}}) {
      int n = 0;
      const auto t0 = Clock::now();
      while (secs(Clock::now() - t0) < 1.0) {
        connectors::email::Parsed parsed;
        std::string why;
        (void)connectors::email::parse(*raw, {}, "", parsed, why);
        ++n;
      }
      ej[name + "_msgs_per_s"] = n / secs(Clock::now() - t0);
      ej[name + "_bytes"] = raw->size();
    }
    result["email_normalize"] = ej;
  }
  if (rocks_rate < slowest_rate) slowest = "rocksdb", slowest_rate = rocks_rate;
  if (zmq_rate < slowest_rate) slowest = "zeromq", slowest_rate = zmq_rate;
  result["summary"] = {
      {"end_to_end_msgs_per_s", e2e_rate},
      {"slowest_baseline", slowest},
      {"slowest_baseline_msgs_per_s", slowest_rate},
      {"ratio_end_to_end_to_slowest_baseline", slowest_rate > 0 ? e2e_rate / slowest_rate : 0},
      {"total_seconds", secs(Clock::now() - started)}};

  // Table.
  const auto& e = result["end_to_end"];
  auto p = [](const json& j) {
    return fmt::format("p50 {:.0f} / p99 {:.0f} / p99.9 {:.0f} / max {:.0f} µs",
                       j.value("p50_us", 0.0), j.value("p99_us", 0.0), j.value("p999_us", 0.0),
                       j.value("max_us", 0.0));
  };
  fmt::print("\n| measure | result |\n|---|---|\n");
  fmt::print("| raw Kafka produce (acks=all, the router's producer settings) | {:.0f} msgs/s |\n",
             bk.value("produce_msgs_per_s", 0.0));
  fmt::print("| raw Kafka consume + decode | {:.0f} msgs/s |\n",
             bk.value("consume_msgs_per_s", 0.0));
  fmt::print("| raw Kafka produce -> consume at 1,000/s | {} |\n",
             p(bk["produce_to_consume_at_1000_per_s"]));
  fmt::print(
      "| raw RocksDB ({:.1f} writes, {:.0f} B per message, 1024 per commit) | {:.0f} msgs/s |\n",
      shape.writes_per_message, shape.bytes_per_message, rocks_rate);
  fmt::print("| raw ZeroMQ round trips, pipelined | {:.0f} /s |\n", zmq_rate);
  fmt::print("| raw ZeroMQ round trip, one at a time | {} |\n",
             p(result["baseline_zeromq"]["pingpong_rtt"]));
  fmt::print("| **end to end** (publish -> desk, desks accept and reply) | **{:.0f} msgs/s** |\n",
             e2e_rate);
  fmt::print("| **ratio end to end / slowest baseline ({})** | **{:.2f}** |\n", slowest,
             result["summary"]["ratio_end_to_end_to_slowest_baseline"].get<double>());
  fmt::print(
      "| router CPU time per message, full speed (user + system, all threads) | {:.1f} µs |\n",
      e.value("router_cpu_us_per_message", 0.0));
  if (const auto& an = e["analytics"]; an.is_object())
    fmt::print(
        "| analytics beside it: max lag / caught up after the load / CPU per event | {:.0f} "
        "records / {:.1f} s / {:.1f} µs |\n",
        an.value("max_lag_records", 0.0), an.value("caught_up_after_load_s", -1.0),
        an.value("cpu_us_per_event", 0.0));
  fmt::print("| publish -> offer at desk, full speed | {} |\n", p(e["publish_to_offer"]));
  fmt::print("| publish -> desk, later messages, full speed | {} |\n",
             p(e["publish_to_desk_later_messages"]));
  fmt::print("| publish -> desk at {:.0f} msgs/s ({:.0f}% load) | {} |\n",
             e["fixed_rate"].value("msgs_per_s", 0.0), o.rate_fraction * 100,
             p(e["fixed_rate"]["publish_to_desk"]));
  fmt::print("| reply -> outbound record on Kafka, same load | {} |\n",
             p(e["fixed_rate"]["reply_to_outbound_record"]));
  fmt::print("| router peak RSS (e2e run) | {:.1f} MB |\n",
             e.value("router_peak_rss_bytes", 0) / 1e6);
  fmt::print("| state size per 100k conversations ({:.1f} messages each) | {:.1f} MB |\n",
             e.value("messages_per_conversation", 0.0),
             e.value("state_bytes_per_100k_conversations", 0.0) / 1e6);
  if (result.contains("large_state")) {
    const auto& l = result["large_state"];
    fmt::print("| router RSS with {} conversations in state | {:.1f} MB |\n", o.state_conversations,
               l.value("router_rss_bytes", 0) / 1e6);
    fmt::print("| restart to processing with {} conversations | {:.2f} s |\n",
               o.state_conversations, l.value("restart_to_processing_seconds", 0.0));
  }

  if (result.contains("routing_decisions")) {
    const auto& d = result["routing_decisions"];
    fmt::print("| routing decision, {} agents / {} queues (mean) | {:.1f} µs |\n",
               d.value("agents", 0), d.value("queues", 0), d.value("decision_mean_us", 0.0));
    fmt::print(
        "| new-conversation step incl. decision and trail (p50 / p99) | {:.0f} / {:.0f} µs |\n",
        d.value("new_conversation_step_p50_us", 0.0), d.value("new_conversation_step_p99_us", 0.0));
  }

  if (result.contains("email_normalize")) {
    const auto& em = result["email_normalize"];
    fmt::print(
        "| email normalized per second: plain QP latin-1 / HTML only / 48 KB attachment | "
        "{:.0f} / {:.0f} / {:.0f} |\n",
        em.value("plain_qp_latin1_msgs_per_s", 0.0), em.value("html_only_msgs_per_s", 0.0),
        em.value("multipart_48k_attachment_msgs_per_s", 0.0));
  }

  fs::create_directories(o.out_dir);
  const std::string file =
      fmt::format("{}/bench-{}-{}.json", o.out_dir, result["commit"].get<std::string>(),
                  std::chrono::system_clock::now().time_since_epoch().count() / 1000000000);
  std::ofstream(file) << result.dump(2) << "\n";
  std::ofstream(o.out_dir + "/latest.json") << result.dump(2) << "\n";
  fmt::print("\nresults: {} (and {}/latest.json)\n", file, o.out_dir);
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return all ? 0 : 1;
}

}  // namespace omniroute::bench
