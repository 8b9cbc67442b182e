#include "bench/board_bench.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "bench/stats.h"
#include "bench/workspace_bench.h"
#include "cli/stack.h"
#include "common/log.h"
#include "kafka/kafka.h"
#include "omniroute/v1/routing.pb.h"
#include "workspace/passwords.h"

namespace omniroute::bench {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = boost::asio::ip::tcp;
using json = nlohmann::json;
using v1::RoutingEvent;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

RoutingEvent event(RoutingEvent::Kind kind, const std::string& conv, const std::string& queue,
                   const std::string& agent = {}) {
  static uint64_t seq = 0;
  RoutingEvent e;
  e.set_event_id(fmt::format("acme/{}/b{}", conv, ++seq));
  e.set_workspace_id("acme");
  e.set_conversation_id(conv);
  e.set_kind(kind);
  e.set_queue_id(queue);
  e.set_agent_id(agent);
  e.set_channel(v1::CHANNEL_WEBHOOK);
  e.set_inbox_id("api");
  e.set_at_ms(wall_ms());
  return e;
}

}  // namespace

int run_board(const BoardOptions& o) {
  log::set_level("warn");
  namespace fs = std::filesystem;
  const std::string tmp =
      (fs::temp_directory_path() / fmt::format("omniroute-boardbench-{}", getpid())).string();
  fs::create_directories(tmp);
  const int port = [] {
    boost::asio::io_context ioc;
    tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return static_cast<int>(a.local_endpoint().port());
  }();
  std::string queues;
  for (int q = 0; q < o.queues; ++q) queues += fmt::format("{}{{id: q{}}}", q ? ", " : "", q);
  const std::string hash = workspace::hash_password("bench password").value();
  const std::string yaml = fmt::format(R"(log_level: warn
state: {{dir: "{0}/state"}}
kafka: {{brokers: embedded, partitions: 3}}
router: {{agent_endpoint: "tcp://127.0.0.1:*", agent_auth: none, insecure: true}}
analytics: {{enabled: true}}
connectors:
  webhook: {{listen: "127.0.0.1:{1}"}}
workspaces:
  - id: acme
    queues: [{2}]
    inboxes:
      - {{id: api, channel: webhook, queue: q0, settings: {{secret: s, callback_url: "http://127.0.0.1:1/"}}}}
    agents:
      - {{id: sup, supervisor: true}}
agent_workspace:
  listen: "127.0.0.1:{1}"
  accounts:
    - {{login: sup, workspace: acme, agent: sup, role: supervisor, password_hash: "{3}"}}
)",
                                       tmp, port, queues, hash);
  std::vector<std::string> errors;
  auto cfg = config::parse(yaml, errors);
  if (!cfg) {
    fmt::print(stderr, "board bench: {}\n", errors.empty() ? "bad config" : errors.front());
    return 1;
  }
  cli::Stack stack(std::move(*cfg));
  if (std::string err = stack.start_all(); !err.empty()) {
    fmt::print(stderr, "board bench: {}\n", err);
    return 1;
  }
  std::string err;
  auto producer = kafka::Producer::create(stack.kafka_config(), err);
  if (!producer) {
    fmt::print(stderr, "board bench: {}\n", err);
    return 1;
  }
  const std::string topic = stack.config().kafka.topics.routing;
  auto produce = [&](const RoutingEvent& e) {
    while (!producer->produce(topic, "acme", e.SerializeAsString(), nullptr))
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  // The floor: agents online, conversations waiting in every queue, a quarter held.
  const auto preload_start = std::chrono::steady_clock::now();
  for (int a = 0; a < o.agents; ++a) {
    RoutingEvent e = event(RoutingEvent::KIND_PRESENCE, "", "", fmt::format("a{}", a));
    e.set_presence(a % 5 == 0 ? "away" : "available");
    produce(e);
  }
  int waiting = 0;
  for (int c = 0; c < o.conversations; ++c) {
    const std::string conv = fmt::format("C{}", c), q = fmt::format("q{}", c % o.queues);
    produce(event(RoutingEvent::KIND_OPENED, conv, q));
    produce(event(RoutingEvent::KIND_QUEUED, conv, q));
    if (c % 4 == 0)
      produce(event(RoutingEvent::KIND_ACCEPTED, conv, q, fmt::format("a{}", c % o.agents)));
    else
      ++waiting;
  }
  producer->flush(60000);

  // One supervisor tab.
  const std::string cookie = sign_in(port, "sup", "bench password");
  if (cookie.empty()) {
    fmt::print(stderr, "board bench: sign-in refused\n");
    return 1;
  }
  boost::asio::io_context ioc;
  websocket::stream<beast::tcp_stream> ws(ioc);
  tcp::resolver resolver(ioc);
  beast::get_lowest_layer(ws).connect(resolver.resolve("127.0.0.1", std::to_string(port)));
  ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& r) {
    r.set(beast::http::field::origin, fmt::format("http://127.0.0.1:{}", port));
    r.set(beast::http::field::cookie, cookie);
  }));
  ws.handshake(fmt::format("127.0.0.1:{}", port), "/agent/board");
  ws.read_message_max(64 << 20);
  size_t last_bytes = 0;
  // Reads pictures until one shows at least `want` waiting; false after `limit`.
  auto until_waiting = [&](int want, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    beast::flat_buffer buf;
    while (std::chrono::steady_clock::now() < deadline) {
      beast::get_lowest_layer(ws).expires_at(deadline);
      beast::error_code ec;
      ws.read(buf, ec);
      if (ec) return false;
      last_bytes = buf.size();
      const json p = json::parse(beast::buffers_to_string(buf.data()), nullptr, false);
      buf.consume(buf.size());
      const json& total = p.is_object() && p.contains("total") ? p["total"] : json();
      if (total.is_object() && total.value("waiting", 0) >= want) return true;
    }
    return false;
  };
  if (!until_waiting(waiting, std::chrono::seconds(300))) {
    fmt::print(stderr, "board bench: the board never showed the preloaded floor\n");
    return 1;
  }
  const double preload_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - preload_start).count();
  fmt::print(
      "board bench: {} agents, {} queues, {} conversations on the board after {:.1f} s; "
      "picture {} bytes\n",
      o.agents, o.queues, o.conversations, preload_s, last_bytes);

  // One decision at a time: produced to omni.routing -> a pushed picture showing it.
  std::vector<double> ms;
  for (int i = 0; i < o.decisions; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    const std::string q = fmt::format("q{}", (i * 7) % o.queues);
    const auto t0 = std::chrono::steady_clock::now();
    produce(event(RoutingEvent::KIND_QUEUED, fmt::format("N{}", i), q));
    ++waiting;
    if (!until_waiting(waiting, std::chrono::seconds(30))) {
      fmt::print(stderr, "board bench: decision {} never reached the board\n", i);
      return 1;
    }
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  beast::error_code ec;
  ws.close(websocket::close_code::normal, ec);
  producer.reset();  // before the embedded cluster goes
  stack.stop();
  fs::remove_all(tmp);
  auto p = percentiles(ms);
  const json result = {{"config",
                        {{"agents", o.agents},
                         {"queues", o.queues},
                         {"conversations", o.conversations},
                         {"decisions", o.decisions}}},
                       {"decision_to_board_ms",
                        {{"p50", p.p50}, {"p99", p.p99}, {"max", p.max}, {"count", p.count}}},
                       {"picture_bytes", last_bytes},
                       {"preload_to_board_s", preload_s}};
  fmt::print(
      "board bench: decision -> board p50 {:.0f} ms, p99 {:.0f} ms, max {:.0f} ms ({} "
      "decisions)\n",
      p.p50, p.p99, p.max, p.count);
  fs::create_directories(o.out_dir);
  std::ofstream(fs::path(o.out_dir) / "board.json") << result.dump(2) << "\n";
  return 0;
}

}  // namespace omniroute::bench
