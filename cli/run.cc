// up, router, connect, broker, config check, normalize (inspect: inspect.cc).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <google/protobuf/util/json_util.h>

#include "cli/commands.h"
#include "cli/demo.h"
#include "cli/stack.h"
#include "common/log.h"
#include "omniroute/v1/routing.pb.h"
#include "omniroute/v1/store.pb.h"
#include "ops/health.h"
#include "router/store.h"
#include "workspace/passwords.h"

namespace omniroute::cli {

std::optional<config::Config> load(const Common& c) {
  std::vector<std::string> errors;
  auto cfg = config::load_file(c.config_path, errors);
  if (cfg) connectors::validate(*cfg, sdk::builtin_registry(), errors);
  if (!errors.empty()) {
    for (const auto& e : errors) fmt::print(stderr, "{}: {}\n", c.config_path, e);
    return std::nullopt;
  }
  if (!c.brokers.empty()) cfg->kafka.brokers = c.brokers;
  if (!c.state_dir.empty()) cfg->state.dir = c.state_dir;
  if (!c.log_level.empty()) cfg->log_level = c.log_level;
  if (!c.ops_listen.empty()) cfg->operations.listen = c.ops_listen;
  log::set_level(cfg->log_level);
  for (const auto& w : cfg->warnings) log::get("omniroute")->warn("{}: {}", c.config_path, w);
  return cfg;
}

namespace {

// Waits for SIGINT/SIGTERM; on SIGHUP re-reads the config file and hands it to the router.
void wait_for_stop(const Common* c = nullptr, Stack* stack = nullptr) {
  struct Drain {  // /readyz says 503 from the signal on, while the process winds down
    const Stack* stack;
    ~Drain() {
      ops::set_draining(true);
      const int64_t ms = stack ? stack->config().operations.drain_ms : 0;
      if (ms > 0) {
        log::get("omniroute")
            ->info("draining: /readyz says 503 for {} s before stopping", ms / 1000);
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      }
    }
  } drain{stack};
  while (!stop_requested()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!reload_requested().exchange(false) || !c || !stack) continue;
    auto log = log::get("omniroute");
    log->info("SIGHUP: reloading {}", c->config_path);
    auto next = load(*c);
    if (!next) {
      log->error(
          "configuration reload refused: {} is not valid (errors above); the running one "
          "stays",
          c->config_path);
      continue;
    }
    const std::string err = stack->reload(std::move(*next));
    if (err.empty())
      log->info("configuration reloaded from {}", c->config_path);
    else
      log->error("configuration reload refused: {}", err);
  }
}

// agent_workspace.demo_accounts: a sign-in per agent without an account, with a random
// password for this run; "login / password" each.
std::vector<std::string> add_demo_accounts(config::Config& cfg) {
  std::vector<std::string> out;
  auto& w = cfg.agent_workspace;
  if (!w.enabled || !w.demo_accounts) return out;
  for (const auto& ws : cfg.workspaces)
    for (const auto& a : ws.agents) {
      bool has = false;
      for (const auto& acc : w.accounts) has |= acc.workspace == ws.id && acc.agent == a.id;
      if (has || a.bot || w.account(a.id)) continue;
      const std::string password = workspace::random_password();
      auto hash = workspace::hash_password(password);
      if (!hash) continue;
      config::Account acc;
      acc.login = a.id;
      acc.workspace = ws.id;
      acc.agent = a.id;
      acc.role = a.supervisor ? config::Role::kSupervisor : config::Role::kAgent;
      acc.password_hash = *hash;
      w.accounts.push_back(std::move(acc));
      out.push_back(fmt::format("{} / {}{}", a.id, password, a.supervisor ? " (supervisor)" : ""));
    }
  return out;
}

}  // namespace

std::string to_json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(m, &out, o).ok()) return "{}";
  return out;
}

int cmd_up(const Common& c, bool demo, int demo_messages, int demo_timeout_s) {
  auto cfg = load(c);
  if (!cfg) return 2;
  const auto demo_logins = add_demo_accounts(*cfg);
  install_signal_handlers();
  Stack stack(std::move(*cfg));
  std::unique_ptr<Demo> d;
  if (demo)
    d = std::make_unique<Demo>(stack.mutable_config());  // points callbacks at its receivers
  std::string err = stack.start_all();
  if (err.empty()) err = stack.serve_operations();
  if (!err.empty()) {
    fmt::print(stderr, "omniroute up: {}\n", err);
    return 1;
  }
  fmt::print("omniroute is up\n");
  fmt::print("  kafka:   {}{}\n", stack.config().kafka.brokers,
             stack.cluster() ? " (embedded, in memory: data is lost on exit)" : "");
  fmt::print("  agents:  {}   (omniroute agent --endpoint {} -w WORKSPACE -a AGENT)\n",
             stack.router()->agent_endpoint(), stack.router()->agent_endpoint());
  fmt::print("  state:   {}\n", stack.config().state.dir);
  for (const auto& h : stack.connectors()) {
    for (const auto& e : h->endpoints()) fmt::print("  {}: {}\n", h->name(), e);
  }
  for (const auto& a : stack.operations_addresses())
    fmt::print("  operations: http://{}/metrics, /livez, /readyz\n", a);
  if (stack.workspace()) {
    fmt::print("  agent workspace: {}\n", stack.workspace()->url());
    if (!demo_logins.empty())
      fmt::print("  demo sign-in (this run only): {}\n", fmt::join(demo_logins, ", "));
  }
  std::fflush(stdout);
  if (d) return d->run(stack, demo_messages, demo_timeout_s);
  wait_for_stop(&c, &stack);
  fmt::print("omniroute: shutting down\n");
  return 0;
}

namespace {

// A part run alone against a running cluster (`router`, `analytics`): health first, so
// /readyz answers 503 (and why) while it starts; then Kafka, then the part; `started` prints
// where it is. SIGHUP reloads the router's configuration (`reloads`).
int run_alone(const Common& c, const char* name, std::string (Stack::*start)(),
              const std::function<std::string(Stack&)>& started, bool reloads) {
  auto cfg = load(c);
  if (!cfg) return 2;
  if (cfg->kafka.embedded()) {
    fmt::print(stderr,
               "omniroute {}: kafka.brokers is 'embedded'; run `omniroute broker` and pass "
               "--brokers\n",
               name);
    return 2;
  }
  install_signal_handlers();
  Stack stack(std::move(*cfg));
  // The front door opens first (/livez answers during a long start), but /readyz says
  // "starting" until the component has started and speaks for itself.
  ops::set_ready("start", false, fmt::format("starting {}", name));
  std::string err = stack.serve_operations();
  if (err.empty()) err = stack.start_kafka();
  if (err.empty()) err = (stack.*start)();
  if (!err.empty()) {
    fmt::print(stderr, "omniroute {}: {}\n", name, err);
    return 1;
  }
  ops::forget_check("start");
  fmt::print("{}\n", started(stack));
  std::fflush(stdout);
  wait_for_stop(reloads ? &c : nullptr, &stack);
  return 0;
}

}  // namespace

int cmd_router(const Common& c) {
  return run_alone(
      c, "router", &Stack::start_router,
      [](Stack& s) { return "router: agents on " + s.router()->agent_endpoint(); }, true);
}

int cmd_connect(const Common& c, const std::vector<std::string>& names) {
  auto cfg = load(c);
  if (!cfg) return 2;
  if (cfg->kafka.embedded()) {
    fmt::print(stderr,
               "omniroute connect: kafka.brokers is 'embedded'; run `omniroute broker` and pass "
               "--brokers\n");
    return 2;
  }
  install_signal_handlers();
  Stack stack(std::move(*cfg));
  std::string err = stack.start_kafka();
  if (err.empty()) err = stack.start_connectors(names);
  if (err.empty()) err = stack.serve_operations();
  if (!err.empty()) {
    fmt::print(stderr, "omniroute connect: {}\n", err);
    return 1;
  }
  for (const auto& h : stack.connectors()) {
    for (const auto& e : h->endpoints()) fmt::print("{}: {}\n", h->name(), e);
  }
  std::fflush(stdout);
  wait_for_stop(nullptr, &stack);
  return 0;
}

int cmd_workspace(const Common& c) {
  auto cfg = load(c);
  if (!cfg) return 2;
  const auto& w = cfg->agent_workspace;
  std::string missing;
  if (!w.enabled)
    missing = "an agent_workspace section";
  else if (w.router_endpoint.empty())
    missing = "agent_workspace.router_endpoint";
  else if (cfg->router.agent_auth == config::AgentAuth::kCurve && w.router_public_key.empty())
    missing = "agent_workspace.router_public_key (the router's <state.dir>/router.pub)";
  else if (cfg->router.agent_auth == config::AgentAuth::kCurve && w.gateway_secret_key.empty())
    missing =
        "agent_workspace.gateway_secret_key (a pair from `omniroute agent keygen`; its public "
        "key goes in the router's router.gateways)";
  if (!missing.empty()) {
    fmt::print(stderr, "omniroute workspace: the config needs {}\n", missing);
    return 2;
  }
  install_signal_handlers();
  Stack stack(std::move(*cfg));
  std::string werr = stack.start_workspace();
  if (werr.empty()) werr = stack.serve_operations();
  if (std::string err = werr; !err.empty()) {
    fmt::print(stderr, "omniroute workspace: {}\n", err);
    return 1;
  }
  fmt::print("agent workspace: {} (router {})\n", stack.workspace()->url(),
             stack.config().agent_workspace.router_endpoint);
  std::fflush(stdout);
  wait_for_stop(nullptr, &stack);
  return 0;
}

int cmd_analytics(const Common& c) {
  return run_alone(
      c, "analytics", &Stack::start_analytics,
      [](Stack& s) { return "analytics: consuming " + s.config().kafka.topics.routing; }, false);
}

int cmd_broker(const Common& c, int brokers) {
  config::Config cfg;
  if (std::ifstream(c.config_path).good()) {
    auto loaded = load(c);
    if (!loaded) return 2;
    cfg = *loaded;
  }
  cfg.kafka.brokers = "embedded";
  cfg.kafka.embedded_brokers = brokers;
  cfg.kafka.replication_factor = std::min(cfg.kafka.replication_factor, brokers);
  install_signal_handlers();
  Stack stack(std::move(cfg));
  if (auto err = stack.start_kafka(); !err.empty()) {
    fmt::print(stderr, "omniroute broker: {}\n", err);
    return 1;
  }
  // First line of stdout is the bootstrap list, so scripts can read it.
  fmt::print("{}\n", stack.config().kafka.brokers);
  fmt::print(stderr,
             "embedded Kafka cluster: {} brokers, in memory, topics created; Ctrl-C stops it\n",
             brokers);
  std::fflush(stdout);
  wait_for_stop();
  return 0;
}

int cmd_config_check(const std::string& path) {
  std::vector<std::string> errors;
  auto cfg = config::load_file(path, errors);
  if (cfg) connectors::validate(*cfg, sdk::builtin_registry(), errors);
  if (!errors.empty()) {
    for (const auto& e : errors) fmt::print(stderr, "{}: {}\n", path, e);
    fmt::print(stderr, "{}: {} error(s)\n", path, errors.size());
    return 1;
  }
  size_t inboxes = 0, agents = 0;
  for (const auto& w : cfg->workspaces) {
    inboxes += w.inboxes.size();
    agents += w.agents.size();
  }
  for (const auto& w : cfg->warnings) fmt::print(stderr, "{}: warning: {}\n", path, w);
  fmt::print("{}: ok ({} workspaces, {} inboxes, {} agents{})\n", path, cfg->workspaces.size(),
             inboxes, agents,
             cfg->warnings.empty() ? "" : fmt::format(", {} warnings", cfg->warnings.size()));
  return 0;
}

int cmd_normalize(const std::string& channel, const std::string& file,
                  const std::string& provider) {
  const auto& reg = sdk::builtin_registry();
  const sdk::ConnectorFactory* f = nullptr;
  auto normalizers = [&] {
    std::vector<std::string> out;
    for (const auto& n : reg.names())
      if (reg.find(n)->normalize) out.push_back(n);
    return fmt::format("{}", fmt::join(out, "|"));
  };
  if (channel == "social") {
    // Social payloads differ per platform: the provider names the connector.
    f = provider.empty() ? nullptr : reg.find(provider);
    if (!f || !f->normalize) {
      fmt::print(stderr, "normalize: social needs --provider {}\n", normalizers());
      return 2;
    }
  } else {
    f = reg.find(channel);
  }
  if (f && !provider.empty() && channel != "social" &&
      std::find(f->providers.begin(), f->providers.end(), provider) == f->providers.end()) {
    fmt::print(stderr, "normalize: {} has no provider '{}' (known: {})\n", channel, provider,
               f->providers.empty() ? std::string("none")
                                    : fmt::format("{}", fmt::join(f->providers, ", ")));
    return 2;
  }
  if (!f) {
    fmt::print(stderr, "normalize: unknown channel '{}' (known: {})\n", channel,
               fmt::join(sdk::builtin_registry().names(), ", "));
    return 2;
  }
  if (!f->normalize) {
    fmt::print(stderr, "normalize: connector '{}' has no normalizer\n", channel);
    return 2;
  }
  std::stringstream ss;
  if (file == "-") {
    ss << std::cin.rdbuf();
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      fmt::print(stderr, "normalize: cannot read {}\n", file);
      return 2;
    }
    ss << in.rdbuf();
  }
  v1::InboundMessage m;
  if (auto err = f->normalize(ss.str(), m); !err.empty()) {
    fmt::print(stderr, "normalize: {}\n", err);
    return 1;
  }
  // As the host publishes it: the connector's declared handle kind stamped on.
  if (m.handle_kind() == v1::Identity::KIND_UNSPECIFIED) m.set_handle_kind(f->handle_kind);
  fmt::print("{}\n", to_json(m));
  return 0;
}

}  // namespace omniroute::cli
