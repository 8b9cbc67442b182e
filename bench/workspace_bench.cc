#include "bench/workspace_bench.h"

#include <zlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "bench/stats.h"
#include "cli/stack.h"
#include "common/log.h"
#include "connectors/webhook/callback_receiver.h"
#include "workspace/assets.h"
#include "workspace/passwords.h"
#include "workspace/web_assets.h"

namespace omniroute::bench {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = boost::asio::ip::tcp;
using json = nlohmann::json;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

size_t gzip_size(std::string_view data) {
  z_stream z{};
  if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
  std::string out(compressBound(static_cast<uLong>(data.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  const size_t n = z.total_out;
  deflateEnd(&z);
  return n;
}

// Shared results of every tab.
struct Tally {
  std::mutex mu;
  std::vector<double> latency_ms;  // customer message posted -> event at a tab
  uint64_t events = 0, duplicates = 0, lost = 0, resyncs = 0, reconnects = 0;
  std::map<std::string, int64_t> posted;  // text -> when posted (ns)
};

// One browser tab: applies events by number like the page does, answers like a person
// would (accepts offers, replies to customer messages), and reconnects after a drop.
class Tab {
 public:
  Tab(int port, std::string cookie, Tally& t) : port_(port), cookie_(std::move(cookie)), t_(t) {}
  void start() {
    thread_ = std::thread([this] { loop(); });
  }
  void stop() {
    stop_ = true;
    drop();
    thread_.join();
  }
  // Closes the socket under the tab (as a network drop would).
  void drop() {
    std::lock_guard lock(mu_);
    if (ws_) {
      beast::error_code ec;
      beast::get_lowest_layer(*ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    }
  }
  void send(const json& cmd) {
    std::lock_guard lock(mu_);
    if (!ws_) return;
    beast::error_code ec;
    ws_->text(true);
    ws_->write(boost::asio::buffer(cmd.dump()), ec);
  }
  bool primary = false;  // answers (the second tab of an agent only watches)

 private:
  void loop() {
    bool first = true;
    while (!stop_) {
      boost::asio::io_context ioc;
      auto ws = std::make_unique<websocket::stream<beast::tcp_stream>>(ioc);
      beast::error_code ec;
      tcp::resolver resolver(ioc);
      beast::get_lowest_layer(*ws).connect(resolver.resolve("127.0.0.1", std::to_string(port_)),
                                           ec);
      if (ec) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      ws->set_option(websocket::stream_base::decorator([&](websocket::request_type& r) {
        r.set(bhttp::field::origin, fmt::format("http://127.0.0.1:{}", port_));
        r.set(bhttp::field::cookie, cookie_);
      }));
      const std::string target =
          epoch_.empty() ? "/agent/ws" : fmt::format("/agent/ws?since={}&epoch={}", last_, epoch_);
      ws->handshake(fmt::format("127.0.0.1:{}", port_), target, ec);
      if (ec) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      if (!first) {
        std::lock_guard lock(t_.mu);
        ++t_.reconnects;
      }
      first = false;
      {
        std::lock_guard lock(mu_);
        ws_ = std::move(ws);
      }
      if (primary) send({{"cmd", "presence"}, {"presence", "available"}});
      read();
      std::lock_guard lock(mu_);
      ws_.reset();
    }
  }
  void read() {
    beast::flat_buffer buf;
    for (;;) {
      beast::error_code ec;
      ws_->read(buf, ec);
      if (ec) return;
      const int64_t at = now_ns();
      json e = json::parse(beast::buffers_to_string(buf.data()), nullptr, false);
      buf.consume(buf.size());
      if (!e.is_object() || !e.contains("seq")) continue;
      on_event(e, at);
    }
  }
  void on_event(const json& e, int64_t at) {
    const uint64_t seq = e["seq"];
    const std::string type = e.value("type", "");
    if (type == "state") {
      if (!epoch_.empty()) {
        std::lock_guard lock(t_.mu);
        ++t_.resyncs;  // the gateway no longer had what this tab missed
      }
      epoch_ = e.value("epoch", "");
      last_ = seq;
      return;
    }
    {
      std::lock_guard lock(t_.mu);
      if (seq <= last_) {
        ++t_.duplicates;
        return;
      }
      if (seq != last_ + 1) t_.lost += seq - last_ - 1;
      ++t_.events;
    }
    last_ = seq;
    std::string text;
    if (type == "offer") text = e["offer"].value("preview", "");
    if (type == "customer_message") text = e["customer_message"]["message"].value("text_body", "");
    if (!text.empty()) {
      std::lock_guard lock(t_.mu);
      auto it = t_.posted.find(text);
      if (it != t_.posted.end())
        t_.latency_ms.push_back(static_cast<double>(at - it->second) / 1e6);
    }
    if (!primary) return;
    if (type == "offer") send({{"cmd", "accept"}, {"offer_id", e["offer"]["offer_id"]}});
    if (type == "customer_message")
      send({{"cmd", "reply"},
            {"conversation_id", e["customer_message"]["conversation_id"]},
            {"text", "on it"}});
  }

  int port_;
  std::string cookie_;
  Tally& t_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::unique_ptr<websocket::stream<beast::tcp_stream>> ws_;
  std::string epoch_;
  uint64_t last_ = 0;
};

json pct(std::vector<double> v) {
  auto p = percentiles(v);
  std::sort(v.begin(), v.end());
  const double p90 = v.empty() ? 0 : v[std::min(v.size() - 1, v.size() * 9 / 10)];
  return {
      {"count", p.count}, {"p50_ms", p.p50}, {"p90_ms", p90}, {"p99_ms", p.p99}, {"max_ms", p.max}};
}

}  // namespace

std::string sign_in(int port, const std::string& login, const std::string& password) {
  boost::asio::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  stream.connect(resolver.resolve("127.0.0.1", std::to_string(port)));
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/agent/api/login", 11};
  req.set(bhttp::field::host, fmt::format("127.0.0.1:{}", port));
  req.set(bhttp::field::content_type, "application/json");
  req.body() = json{{"login", login}, {"password", password}}.dump();
  req.prepare_payload();
  bhttp::write(stream, req);
  beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(stream, buf, res);
  const std::string c(res[bhttp::field::set_cookie]);
  return res.result_int() == 200 ? c.substr(0, c.find(';')) : std::string();
}

int run_workspace(const WorkspaceOptions& o) {
  log::set_level("warn");
  json result;
  const std::string script(workspace::web::kAppJs);
  result["script"] = {{"bytes", script.size()}, {"gzip_bytes", gzip_size(script)}};
  fmt::print("workspace bench: script {} bytes, {} gzipped\n", script.size(), gzip_size(script));

  namespace fs = std::filesystem;
  const std::string tmp =
      (fs::temp_directory_path() / fmt::format("omniroute-wsbench-{}", getpid())).string();
  fs::create_directories(tmp);
  connectors::webhook::CallbackReceiver receiver("bench-secret");
  const std::string hash = workspace::hash_password("bench password").value();
  std::string agents, accounts;
  for (int i = 0; i < o.agents; ++i) {
    agents +=
        fmt::format("      - {{id: a{}, name: Agent {}, capacity: {{webhook: 1000}}}}\n", i, i);
    accounts += fmt::format(
        "    - {{login: a{}, workspace: acme, agent: a{}, password_hash: \"{}\"}}\n", i, i, hash);
  }
  const int http_port = [] {
    boost::asio::io_context ioc;
    tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return static_cast<int>(a.local_endpoint().port());
  }();
  const std::string yaml = fmt::format(R"(log_level: warn
state: {{dir: "{0}/state"}}
kafka: {{brokers: embedded, partitions: 3}}
router: {{agent_endpoint: "tcp://127.0.0.1:*", agent_auth: none, insecure: true, offer_timeout_ms: 60000}}
connectors:
  webhook: {{listen: "127.0.0.1:{1}", max_body_bytes: 65536}}
workspaces:
  - id: acme
    queues: [{{id: general}}]
    inboxes:
      - {{id: api, channel: webhook, queue: general, settings: {{secret: bench-secret, callback_url: "{2}"}}}}
    agents:
{3}agent_workspace:
  listen: "127.0.0.1:{1}"
  max_sessions_per_account: 100
  login_attempts_per_minute: 10000
  accounts:
{4})",
                                       tmp, http_port, receiver.url(), agents, accounts);
  std::vector<std::string> errors;
  auto cfg = config::parse(yaml, errors);
  if (!cfg) {
    fmt::print(stderr, "workspace bench: {}\n", errors.empty() ? "bad config" : errors.front());
    return 1;
  }
  cli::Stack stack(std::move(*cfg));
  std::string err = stack.start_all();
  if (!err.empty()) {
    fmt::print(stderr, "workspace bench: {}\n", err);
    return 1;
  }
  const std::string webhook =
      fmt::format("http://127.0.0.1:{}/v1/webhook/acme/api/messages", http_port);

  Tally tally;
  std::vector<std::unique_ptr<Tab>> tabs;
  for (int i = 0; i < o.agents; ++i) {
    const std::string cookie = sign_in(http_port, fmt::format("a{}", i), "bench password");
    if (cookie.empty()) {
      fmt::print(stderr, "workspace bench: sign-in of a{} refused\n", i);
      return 1;
    }
    tabs.push_back(std::make_unique<Tab>(http_port, cookie, tally));
    tabs.back()->primary = true;
    if (i % 4 == 0) tabs.push_back(std::make_unique<Tab>(http_port, cookie, tally));
  }
  for (auto& t : tabs) t->start();
  std::this_thread::sleep_for(std::chrono::seconds(2));  // sessions up, agents available

  fmt::print("workspace bench: {} agents, {} tabs, {} msg/s for {} s, {} forced drops\n", o.agents,
             tabs.size(), o.rate, o.seconds, o.drops);
  std::fflush(stdout);
  std::atomic<bool> loading{true};
  std::thread dropper([&] {
    std::mt19937 rng(7);
    const auto every =
        std::chrono::milliseconds(std::max(1, o.seconds * 1000 / std::max(1, o.drops)));
    for (int i = 0; i < o.drops && loading; ++i) {
      std::this_thread::sleep_for(every);
      tabs[rng() % tabs.size()]->drop();
    }
  });
  const int total = o.rate * o.seconds;
  int refused = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < total; ++i) {
    std::this_thread::sleep_until(start + std::chrono::microseconds(int64_t{1000000} * i / o.rate));
    const std::string text = fmt::format("bench message {}", i);
    {
      std::lock_guard lock(tally.mu);
      tally.posted[text] = now_ns();
    }
    const json body = {{"externalMessageId", fmt::format("m{}", i)},
                       {"customerHandle", fmt::format("c{}", i % o.customers)},
                       {"textBody", text}};
    if (connectors::webhook::post_signed(webhook, "bench-secret", body.dump()) != 202) ++refused;
  }
  loading = false;
  dropper.join();
  std::this_thread::sleep_for(std::chrono::seconds(3));  // the last events arrive
  for (auto& t : tabs) t->stop();
  stack.stop();
  fs::remove_all(tmp);

  std::lock_guard lock(tally.mu);
  result["config"] = {{"agents", o.agents}, {"tabs", tabs.size()},  {"customers", o.customers},
                      {"rate", o.rate},     {"seconds", o.seconds}, {"drops", o.drops}};
  result["event_to_tab"] = pct(tally.latency_ms);
  result["messages"] = {
      {"posted", total}, {"refused", refused}, {"arrivals_at_tabs", tally.latency_ms.size()}};
  result["stream"] = {{"events", tally.events},
                      {"lost", tally.lost},
                      {"duplicates", tally.duplicates},
                      {"resyncs", tally.resyncs},
                      {"reconnects", tally.reconnects}};
  fs::create_directories(o.out_dir);
  std::ofstream(o.out_dir + "/workspace.json") << result.dump(2) << "\n";
  fmt::print("{}\n", result.dump(2));
  return tally.lost == 0 && tally.duplicates == 0 && refused == 0 ? 0 : 1;
}

}  // namespace omniroute::bench
