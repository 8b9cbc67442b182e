// omniroute_first_paint: the agent workspace's first paint with many open conversations,
// in headless Chromium (Debian's chromium + chromedriver). One agent holds N conversations
// (accepted through the page itself); the page is then reloaded several times and the time
// from navigation start to the whole state on screen (the list counting N) is reported.
//   build/omniroute_first_paint [N=500] [reloads=5]
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/stats.h"
#include "cli/stack.h"
#include "common/log.h"
#include "connectors/webhook/callback_receiver.h"
#include "tests/support/browser.h"
#include "tests/support/support.h"
#include "workspace/passwords.h"

using json = nlohmann::json;
namespace fs = std::filesystem;
using omniroute::testing::wait_until;

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 500;
  const int reloads = argc > 2 ? std::atoi(argv[2]) : 5;
  omniroute::log::set_level("warn");
  const std::string tmp =
      (fs::temp_directory_path() / fmt::format("omniroute-paint-{}", getpid())).string();
  fs::create_directories(tmp);
  omniroute::connectors::webhook::CallbackReceiver receiver("bench-secret");
  const int port = omniroute::testing::free_port();
  const std::string yaml = fmt::format(R"(log_level: warn
state: {{dir: "{0}/state"}}
kafka: {{brokers: embedded, partitions: 1}}
router: {{agent_endpoint: "tcp://127.0.0.1:*", agent_auth: none, insecure: true, offer_timeout_ms: 600000}}
connectors:
  webhook: {{listen: "127.0.0.1:{1}"}}
workspaces:
  - id: acme
    queues: [{{id: general}}]
    inboxes:
      - {{id: api, channel: webhook, queue: general, settings: {{secret: bench-secret, callback_url: "{2}"}}}}
    agents:
      - {{id: ana, name: Ana, capacity: {{webhook: {3}}}}}
agent_workspace:
  listen: "127.0.0.1:{1}"
  accounts:
    - {{login: ana, workspace: acme, agent: ana, password_hash: "{4}"}}
)",
                                       tmp, port, receiver.url(), n + 10,
                                       omniroute::workspace::hash_password("paint").value());
  std::vector<std::string> errors;
  auto cfg = omniroute::config::parse(yaml, errors);
  if (!cfg) {
    fmt::print(stderr, "first paint: {}\n", errors.empty() ? "bad config" : errors.front());
    return 1;
  }
  omniroute::cli::Stack stack(std::move(*cfg));
  std::string err = stack.start_all();
  if (!err.empty()) {
    fmt::print(stderr, "first paint: {}\n", err);
    return 1;
  }
  omniroute::testing::Browser b(tmp + "/profile");
  if (!b.ok()) {
    fmt::print(stderr, "first paint: no browser: {}\n", b.error());
    return 1;
  }
  const std::string url = stack.workspace()->url();
  b.go(url);
  wait_until([&] { return !b.find("#login").empty(); }, std::chrono::seconds(20));
  b.type("#login", "ana");
  b.type("#password", "paint\xee\x80\x87");
  wait_until([&] { return !b.find("#presence").empty(); }, std::chrono::seconds(20));
  b.click("#presence");
  // The page accepts every offer as it comes (a person pressing "a" very fast).
  b.run(
      "setInterval(() => document.querySelectorAll('.offer .accept').forEach(x => x.click()), 50)");
  const std::string webhook = fmt::format("http://127.0.0.1:{}/v1/webhook/acme/api/messages", port);
  for (int i = 0; i < n; ++i)
    omniroute::connectors::webhook::post_signed(
        webhook, "bench-secret",
        json{{"externalMessageId", fmt::format("p{}", i)},
             {"customerHandle", fmt::format("customer-{}", i)},
             {"customerDisplayName", fmt::format("Customer {}", i)},
             {"textBody", fmt::format("Hello, this is message {} about my order", i)}}
            .dump());
  const std::string count =
      "const e=document.querySelector('#view-open .n');return e?e.textContent:''";
  if (!wait_until([&] { return b.run(count) == std::to_string(n); }, std::chrono::seconds(300))) {
    fmt::print(stderr, "first paint: the page shows {} of {} conversations\n", b.run(count).dump(),
               n);
    return 1;
  }
  std::vector<double> ms;
  for (int r = 0; r < reloads; ++r) {
    b.refresh();
    if (!wait_until([&] { return b.run(count) == std::to_string(n); }, std::chrono::seconds(60)) ||
        !wait_until([&] { return b.run("return window.omniroute.stats.firstStateMs") != 0; }))
      return 1;
    ms.push_back(b.run("return window.omniroute.stats.firstStateMs").get<double>());
  }
  const std::vector<double> all = ms;
  auto p = omniroute::bench::percentiles(ms);
  const json result = {{"open_conversations", n},
                       {"reloads", reloads},
                       {"first_paint_ms", all},
                       {"median_ms", p.p50},
                       {"max_ms", p.max}};
  fs::create_directories("bench/results");
  std::ofstream("bench/results/first_paint.json") << result.dump(2) << "\n";
  fmt::print("{}\n", result.dump(2));
  stack.stop();
  fs::remove_all(tmp);
  return 0;
}
