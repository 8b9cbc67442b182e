#include "bench/chaos.h"
#include "bench/chaos_fleet.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "common/child_process.h"
#include "common/free_port.h"
#include "common/log.h"
#include "config/config.h"
#include "connectors/webhook/callback_receiver.h"
#include "desk/desk.h"
#include "kafka/kafka.h"
#include "omniroute/v1/store.pb.h"
#include "router/partition.h"
#include "router/store.h"

namespace omniroute::bench {
namespace {

using Clock = std::chrono::steady_clock;
double secs(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

int free_port() {
  return free_tcp_port();
}

}  // namespace

std::string ChaosResult::summary() const {
  return fmt::format(
      "{}: {} messages posted ({} retried posts), {} router SIGKILLs, {} other faults, {} replies "
      "delivered ({} harmless re-deliveries), {:.0f} s{}",
      ok ? "PASS" : "FAIL", posted, post_retries, router_kills, faults, replies_received,
      duplicate_deliveries, seconds,
      violations.empty()
          ? ""
          : fmt::format("; {} violations, first: {}", violations.size(), violations[0]));
}

ChaosResult run_chaos(const ChaosOptions& o) {
  ChaosResult res;
  const auto started = Clock::now();
  // Each step as it happens, on stderr too: when a run hangs, its log says where.
  std::mutex log_mu;
  auto progress = [&](std::string line) {
    std::lock_guard lock(log_mu);
    fmt::print(stderr, "chaos +{:.1f}s: {}\n", secs(Clock::now() - started), line);
    res.fault_log.push_back(std::move(line));
  };
  std::mt19937 rng(o.seed);
  const std::string tmp =
      (std::filesystem::temp_directory_path() / fmt::format("omniroute-chaos-{}", getpid()))
          .string();
  std::filesystem::create_directories(tmp);
  std::string err;
  auto cluster = kafka::EmbeddedCluster::start(3, err);
  if (!cluster) {
    res.violations.push_back("embedded cluster: " + err);
    return res;
  }
  const std::string secret = "chaos-secret";
  connectors::webhook::CallbackReceiver receiver(secret);
  const int web_port = free_port();
  const int capacity = std::min(1000, o.customers / o.agents * 2 + 10);
  // OMNIROUTE_CHAOS_KAFKA_PROPERTIES="enable.idempotence: false, ..." passes librdkafka
  // properties to every client of the run (to try a producer setting against the faults).
  const char* props = std::getenv("OMNIROUTE_CHAOS_KAFKA_PROPERTIES");
  // The embedded broker can leave a connection hanging after a broker-down fault (requests
  // neither answered nor failed until the client's socket timeout, 60 s by default): a
  // shorter one lets clients give up on it and reconnect sooner.
  const std::string kafka_properties =
      fmt::format(", properties: {{socket.timeout.ms: \"10000\"{}}}",
                  props && *props ? std::string(", ") + props : "");
  // Two router instances in one group: each its own state dir and agent endpoint.
  auto instance_yaml = [&](const std::string& state, const std::string& endpoint) {
    std::string yaml = fmt::format(
        R"(log_level: {}
kafka: {{brokers: "{}", partitions: 3, replication_factor: 1{}}}
state: {{dir: "{}"}}
router: {{agent_endpoint: "{}", agent_auth: none, insecure: true, heartbeat_interval_ms: 100, heartbeat_timeout_ms: 600, offer_timeout_ms: 5000, session_timeout_ms: 3000}}
connectors:
  webhook: {{listen: "127.0.0.1:{}", publish_timeout_ms: 5000, initial_backoff_ms: 50, max_backoff_ms: 1000,
             max_attempts: 1000, delivery_timeout_ms: 2000}}
workspaces:
  - id: acme
    queues: [{{id: general}}]
    inboxes: [{{id: api, channel: webhook, queue: general, settings: {{secret: "{}", callback_url: "{}"}}}}]
    agents:
)",
        std::getenv("OMNIROUTE_CHAOS_LOG_LEVEL") ? std::getenv("OMNIROUTE_CHAOS_LOG_LEVEL")
                                                 : "error",
        cluster->bootstraps(), kafka_properties, state, endpoint, web_port, secret, receiver.url());
    for (int a = 0; a < o.agents; ++a)
      yaml += fmt::format("      - {{id: a{}, capacity: {{webhook: {}}}}}\n", a, capacity);
    return yaml;
  };
  const std::string yaml = instance_yaml(tmp + "/state", "tcp://127.0.0.1:1");
  std::vector<std::string> errors;
  auto cfg = config::parse(yaml, errors);
  if (!cfg) {
    res.violations.push_back("config: " + errors.front());
    return res;
  }
  for (const auto& t : cfg->all_topics()) (void)cluster->create_topic(t, 3, 1, err);
  RouterFleet routers(o.binary, tmp, 2, 3, instance_yaml, cluster->bootstraps(),
                      cfg->kafka.topics.routers, "acme");
  const std::string cfg_path = routers.config_path(0);
  const std::string endpoint = routers.desk_endpoints();

  // A witness on the outbound topic: every answer the router put on Kafka, as it appears
  // (the embedded broker evicts old records, so looking afterwards is too late). A missing
  // answer is then either never produced (router/broker side) or produced and not
  // delivered (connector side).
  std::mutex seen_mu;
  std::map<std::string, std::string> on_kafka;  // answer text -> "<partition>@<offset>"
  std::atomic<bool> witness_stop{false};
  std::thread witness([&] {
    std::string werr;
    kafka::ClientConfig wc;
    wc.brokers = cluster->bootstraps();
    auto consumer = kafka::Consumer::create(wc, "chaos-witness", werr);
    if (!consumer) return;
    const std::string topic = cfg->kafka.topics.outbound(v1::CHANNEL_WEBHOOK);
    std::vector<kafka::PartitionOffset> parts;
    for (int p = 0; p < 3; ++p) parts.push_back({topic, p, RD_KAFKA_OFFSET_BEGINNING});
    if (!consumer->assign(parts, werr)) return;
    while (!witness_stop) {
      for (auto& m : consumer->poll(256, 100)) {
        if (m.is_error()) continue;
        v1::OutboundMessage out;
        if (!out.ParseFromArray(m.value().data(), static_cast<int>(m.value().size()))) continue;
        std::lock_guard lock(seen_mu);
        on_kafka.emplace(out.text_body(), fmt::format("{}@{}", m.partition(), m.offset()));
      }
    }
    consumer->close();
  });

  ChildProcess connector(o.binary, {"connect", "--config", cfg_path});
  routers.start();
  connector.start();
  // A process that ends without being told to is a finding, not a reason to hang: say so,
  // and start it again so the run goes on (as a supervisor such as systemd would).
  std::mutex procs_mu;
  std::atomic<bool> monitor_stop{false};
  std::vector<std::string> process_deaths;
  std::thread monitor([&] {
    while (!monitor_stop) {
      {
        std::lock_guard lock(procs_mu);
        routers.restart_ended(process_deaths);
        if (auto st = connector.ended()) {
          process_deaths.push_back(
              fmt::format("the connector process ended by itself ({} {})",
                          WIFSIGNALED(*st) ? "signal" : "exit status",
                          WIFSIGNALED(*st) ? WTERMSIG(*st) : WEXITSTATUS(*st)));
          connector.start();
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::mutex desks_mu;
  std::vector<std::unique_ptr<AnsweringDesk>> desks;
  for (int a = 0; a < o.agents; ++a)
    desks.push_back(std::make_unique<AnsweringDesk>(endpoint, fmt::format("a{}", a)));

  // Customers: one poster, in order, retrying each message until the connector says 202,
  // as an integrator would. Per customer the order of messages is the order posted.
  std::atomic<int> posted{0}, retries{0};
  std::atomic<bool> posting_failed{false};
  const std::string url = fmt::format("http://127.0.0.1:{}/v1/webhook/acme/api/messages", web_port);
  std::thread poster([&] {
    for (int i = 0; i < o.messages && !posting_failed; ++i) {
      const auto w0 = Clock::now();
      while (i - static_cast<int>(receiver.received_count()) > o.max_unanswered &&
             secs(Clock::now() - w0) < o.timeout_s)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      v1::InboundMessage m;
      m.set_external_message_id(fmt::format("m{}", i));
      m.set_customer_handle(fmt::format("cust{}", i % o.customers));
      m.set_text_body(fmt::format("message {}", i));
      std::string body;
      (void)google::protobuf::util::MessageToJsonString(m, &body);
      const auto t0 = Clock::now();
      while (connectors::webhook::post_signed(url, secret, body, nullptr, 10000) != 202) {
        ++retries;
        if (secs(Clock::now() - t0) > 120) {
          posting_failed = true;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      ++posted;
    }
  });

  // Faults, spread over the stream.
  const int total_faults = o.router_kills + o.other_faults;
  std::vector<int> kinds;
  for (int k = 0; k < o.router_kills; ++k) kinds.push_back(0);
  static const char* kKindNames[] = {"broker-down", "produce-errors", "latency",
                                     "desk-kill",   "connector-kill", "rebalance"};
  std::vector<int> allowed;
  for (int k = 0; k < 6; ++k)
    if (o.fault_kinds.empty() ||
        std::find(o.fault_kinds.begin(), o.fault_kinds.end(), kKindNames[k]) != o.fault_kinds.end())
      allowed.push_back(1 + k);
  if (allowed.empty()) allowed = {1, 2, 3, 4, 5, 6};
  for (int k = 0; k < o.other_faults; ++k)
    kinds.push_back(allowed[static_cast<size_t>(k) % allowed.size()]);
  std::shuffle(kinds.begin(), kinds.end(), rng);
  for (int f = 0; f < total_faults && !posting_failed; ++f) {
    const int at =
        static_cast<int>(static_cast<int64_t>(o.messages) * (f + 1) / (total_faults + 1));
    while (posted < at && !posting_failed)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 100));  // a random moment
    static const char* kFaultNames[] = {"owner SIGKILL",
                                        "broker down",
                                        "Produce errors",
                                        "broker latency",
                                        "desk killed",
                                        "connector SIGKILL",
                                        "rebalance (owner SIGTERM, rejoins)"};
    progress(fmt::format(
        "{:%Y-%m-%dT%H:%M:%S}Z after {} posted: {}",
        fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())),
        posted.load(), kFaultNames[kinds[static_cast<size_t>(f)]]));
    switch (kinds[static_cast<size_t>(f)]) {
      case 0:  // the instance that owns the workspace dies; the other takes over
        routers.owner_kill();
        ++res.router_kills;
        break;
      case 6:  // the owner hands over cleanly and joins again
        routers.rebalance();
        break;
      case 1: {  // a broker goes away for a while
        const int b = 1 + static_cast<int>(rng() % 3);
        if (!cluster->set_broker_down(b, true)) {
          progress(fmt::format("broker {} not taken down: another socket holds its port", b));
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 700));
        (void)cluster->set_broker_down(b, false);
        break;
      }
      case 2:  // produce requests fail with retriable errors
        cluster->push_request_errors(0 /* Produce */, {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                                       RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                                       RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS});
        break;
      case 3: {  // latency
        const int b = 1 + static_cast<int>(rng() % 3);
        cluster->set_broker_rtt(b, 100);
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        cluster->set_broker_rtt(b, 0);
        break;
      }
      case 4: {  // a desk dies mid-offer or mid-conversation and comes back
        const size_t d = rng() % desks.size();
        {
          std::lock_guard lock(desks_mu);
          desks[d].reset();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 800));
        std::lock_guard lock(desks_mu);
        desks[d] = std::make_unique<AnsweringDesk>(endpoint, fmt::format("a{}", d));
        break;
      }
      case 5: {  // the connector restarts (killed: in-flight requests are lost, customers retry)
        std::lock_guard lock(procs_mu);
        connector.stop(SIGKILL);
        connector.start();
        break;
      }
    }
    ++res.faults;
  }
  poster.join();
  progress(fmt::format("{} posted; waiting for the answers", posted.load()));
  res.faults -= res.router_kills;
  res.posted = posted;
  res.post_retries = retries;
  if (posting_failed) res.violations.push_back("a message could not be posted for 120 s");

  // Every message answered at the customer's side.
  auto distinct_replies = [&] {
    std::set<std::string> texts;
    for (const auto& m : receiver.received()) texts.insert(m.text_body());
    return texts;
  };
  const auto wait_t0 = Clock::now();
  while (distinct_replies().size() < static_cast<size_t>(o.messages) &&
         secs(Clock::now() - wait_t0) < o.timeout_s) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  progress(
      fmt::format("{} of {} answered; stopping the desks", distinct_replies().size(), o.messages));
  {
    std::lock_guard lock(desks_mu);
    desks.clear();
  }
  monitor_stop = true;
  monitor.join();
  for (const auto& d : process_deaths) res.violations.push_back(d);
  if (distinct_replies().size() < static_cast<size_t>(o.messages)) {
    res.violations.push_back(fmt::format("after {:.0f} s: {} posted, {} of them answered",
                                         secs(Clock::now() - started), posted.load(),
                                         distinct_replies().size()));
  }
  progress("stopping the routers (the owner last) and the connector");
  const std::string state_dir = routers.stop_all(res.violations);
  connector.stop(SIGTERM);
  if (connector.forced())
    res.violations.push_back("the connector did not stop within 30 s of SIGTERM");
  witness_stop = true;
  witness.join();
  progress("checking the state");

  const auto replies = receiver.received();
  res.replies_received = replies.size();
  res.duplicate_deliveries = receiver.duplicates();
  std::map<std::string, int> reply_count;
  for (const auto& m : replies) reply_count[m.text_body()]++;
  for (int i = 0; i < o.messages; ++i) {
    const auto it = reply_count.find(fmt::format("re:m{}", i));
    if (it == reply_count.end()) {
      std::lock_guard lock(seen_mu);
      const auto k = on_kafka.find(fmt::format("re:m{}", i));
      res.violations.push_back(
          fmt::format("message m{} was never answered at the customer's side ({})", i,
                      k == on_kafka.end() ? "its answer never appeared on the outbound topic"
                                          : "its answer was on the outbound topic at " + k->second +
                                                " but the connector did not deliver it"));
    } else if (it->second != 1) {
      res.violations.push_back(
          fmt::format("the answer to m{} arrived {} times with distinct ids", i, it->second));
    }
  }

  // The router's state, compared with what a run without faults must hold: one conversation
  // per customer, holding exactly that customer's messages in the order posted, each
  // answered once, accepted once.
  auto store = router::Store::open_read_only(router::workspace_dir(state_dir, "acme", 3), err);
  if (!store) {
    res.violations.push_back("state: " + err);
  } else {
    std::map<std::string, std::vector<std::string>> by_customer;
    size_t conversations = 0;
    store->scan(router::Cf::kConversations, "acme/", [&](std::string_view k, std::string_view v) {
      ++conversations;
      v1::store::Conversation c;
      c.ParseFromArray(v.data(), static_cast<int>(v.size()));
      if (c.accepted_count() != 1) {
        res.violations.push_back(fmt::format("{} accepted {} times", k, c.accepted_count()));
      }
      std::vector<std::string> customer_ids;
      std::multiset<std::string> answers;
      std::map<std::string, std::vector<std::string>> by;  // answer → "agent@seq" each time
      store->scan(router::Cf::kMessages, std::string(k) + "/",
                  [&](std::string_view, std::string_view mv) {
                    v1::ConversationMessage m;
                    m.ParseFromArray(mv.data(), static_cast<int>(mv.size()));
                    if (m.author() == v1::AUTHOR_CUSTOMER) {
                      customer_ids.push_back(m.external_message_id());
                    } else {
                      answers.insert(m.text_body());
                      by[m.text_body()].push_back(m.author_id() + "@" + m.outbound_id());
                    }
                    return true;
                  });
      for (const auto& id : customer_ids) {
        if (answers.count("re:" + id) != 1) {
          res.violations.push_back(fmt::format("{}: {} answered {} times in state ({})", k, id,
                                               answers.count("re:" + id),
                                               fmt::join(by["re:" + id], ", ")));
        }
      }
      if (answers.size() != customer_ids.size()) {
        res.violations.push_back(
            fmt::format("{}: {} answers for {} messages", k, answers.size(), customer_ids.size()));
      }
      by_customer[c.summary().customer_handle()] = customer_ids;
      return true;
    });
    if (conversations != static_cast<size_t>(std::min(o.customers, o.messages))) {
      res.violations.push_back(fmt::format("{} conversations, expected {}", conversations,
                                           std::min(o.customers, o.messages)));
    }
    for (int c = 0; c < std::min(o.customers, o.messages); ++c) {
      std::vector<std::string> expected;
      for (int i = c; i < o.messages; i += o.customers) expected.push_back(fmt::format("m{}", i));
      const auto& got = by_customer[fmt::format("cust{}", c)];
      if (got != expected) {
        res.violations.push_back(
            fmt::format("cust{}: history has {} messages, differs from the {} posted", c,
                        got.size(), expected.size()));
      }
    }
  }
  if (res.violations.size() > 50) res.violations.resize(50);
  res.ok = res.violations.empty();
  res.seconds = secs(Clock::now() - started);
  if (!o.out_dir.empty()) {
    std::filesystem::create_directories(o.out_dir);
    nlohmann::json j = {{"ok", res.ok},
                        {"messages", o.messages},
                        {"customers", o.customers},
                        {"agents", o.agents},
                        {"max_unanswered", o.max_unanswered},
                        {"posted", res.posted},
                        {"post_retries", res.post_retries},
                        {"router_kills", res.router_kills},
                        {"other_faults", res.faults},
                        {"replies_received", res.replies_received},
                        {"duplicate_deliveries", res.duplicate_deliveries},
                        {"seconds", res.seconds},
                        {"violations", res.violations},
                        {"fault_log", res.fault_log},
                        {"seed", o.seed}};
    std::ofstream(o.out_dir + "/chaos-latest.json") << j.dump(2) << "\n";
  }
  if (res.ok) {
    std::error_code ec;
    std::filesystem::remove_all(tmp, ec);
  } else {
    // Kept for the post-mortem: the router's state (omniroute inspect --state ...).
    res.violations.push_back("state and config kept in " + tmp);
  }
  return res;
}

}  // namespace omniroute::bench
