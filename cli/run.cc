// up, router, connect, broker, config check, normalize, inspect.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
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
#include "router/store.h"

namespace omniroute::cli {
namespace {

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
  log::set_level(cfg->log_level);
  for (const auto& w : cfg->warnings) log::get("omniroute")->warn("{}: {}", c.config_path, w);
  return cfg;
}

// Waits for SIGINT/SIGTERM; on SIGHUP re-reads the config file and hands it to the router.
void wait_for_stop(const Common* c = nullptr, Stack* stack = nullptr) {
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

std::string to_json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

}  // namespace

int cmd_up(const Common& c, bool demo, int demo_messages, int demo_timeout_s) {
  auto cfg = load(c);
  if (!cfg) return 2;
  install_signal_handlers();
  Stack stack(std::move(*cfg));
  std::unique_ptr<Demo> d;
  if (demo)
    d = std::make_unique<Demo>(stack.mutable_config());  // points callbacks at its receivers
  std::string err = stack.start_kafka();
  if (err.empty()) err = stack.start_router();
  if (err.empty()) err = stack.start_connectors();
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
  std::fflush(stdout);
  if (d) return d->run(stack, demo_messages, demo_timeout_s);
  wait_for_stop(&c, &stack);
  fmt::print("omniroute: shutting down\n");
  return 0;
}

int cmd_router(const Common& c) {
  auto cfg = load(c);
  if (!cfg) return 2;
  if (cfg->kafka.embedded()) {
    fmt::print(stderr,
               "omniroute router: kafka.brokers is 'embedded'; run `omniroute broker` and pass "
               "--brokers\n");
    return 2;
  }
  install_signal_handlers();
  Stack stack(std::move(*cfg));
  std::string err = stack.start_kafka();
  if (err.empty()) err = stack.start_router();
  if (!err.empty()) {
    fmt::print(stderr, "omniroute router: {}\n", err);
    return 1;
  }
  fmt::print("router: agents on {}\n", stack.router()->agent_endpoint());
  std::fflush(stdout);
  wait_for_stop(&c, &stack);
  return 0;
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
  if (!err.empty()) {
    fmt::print(stderr, "omniroute connect: {}\n", err);
    return 1;
  }
  for (const auto& h : stack.connectors()) {
    for (const auto& e : h->endpoints()) fmt::print("{}: {}\n", h->name(), e);
  }
  std::fflush(stdout);
  wait_for_stop();
  return 0;
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
  if (channel == "social") {
    // Social payloads differ per platform: the provider names the connector.
    for (const char* p : {"messenger", "instagram", "whatsapp", "telegram"})
      if (provider == p) f = reg.find(provider);
    if (!f) {
      fmt::print(stderr,
                 "normalize: social needs --provider messenger|instagram|whatsapp|telegram\n");
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
  fmt::print("{}\n", to_json(m));
  return 0;
}

namespace {
const char* state_label(v1::store::ConversationState s) {
  switch (s) {
    case v1::store::CONVERSATION_STATE_QUEUED:
      return "queued";
    case v1::store::CONVERSATION_STATE_OFFERED:
      return "offered";
    case v1::store::CONVERSATION_STATE_ASSIGNED:
      return "assigned";
    case v1::store::CONVERSATION_STATE_RESOLVED:
      return "resolved";
    default:
      return "?";
  }
}
}  // namespace

int cmd_inspect(const Common& common, const std::string& what, const std::string& id,
                const std::string& workspace) {
  std::string dir = common.state_dir;
  std::string ws = workspace;
  if (dir.empty() || ws.empty()) {
    auto cfg = load(common);
    if (!cfg) return 2;
    if (dir.empty()) dir = cfg->state.dir;
    if (ws.empty() && cfg->workspaces.size() == 1) ws = cfg->workspaces[0].id;
  }
  std::string err;
  auto store = router::Store::open_read_only(dir, err);
  if (!store) {
    fmt::print(stderr, "inspect: cannot open state {}: {}\n", dir, err);
    return 2;
  }
  using router::Cf;
  if (what == "offsets") {
    store->scan(Cf::kMeta, "offset/", [](std::string_view k, std::string_view v) {
      fmt::print("{} = {}\n", k.substr(7), v);
      return true;
    });
    return 0;
  }
  if (what == "outbox") {
    size_t n = 0;
    store->scan(Cf::kOutbox, "", [&](std::string_view, std::string_view) { return ++n, true; });
    fmt::print("{} records waiting for Kafka\n", n);
    return 0;
  }
  if (id.empty() || ws.empty()) {
    fmt::print(stderr, "inspect {}: give an id and --workspace\n", what);
    return 2;
  }
  std::string v;
  auto when = [](int64_t ms) {
    return ms <= 0 ? std::string("-")
                   : fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", fmt::gmtime(ms / 1000));
  };
  if (what == "queue") {
    // <ws>/<queue>/<9-prio>/<due>/<seq> -> conversation, in routing order.
    const std::string prefix = ws + "/" + id + "/";
    int pos = 0;
    fmt::print("queue {}/{} in routing order (priority, SLA due, arrival):\n", ws, id);
    store->scan(Cf::kQueue, prefix, [&](std::string_view, std::string_view cid) {
      v1::store::Conversation qc;
      std::string cv;
      if (!store->get(Cf::kConversations, ws + "/" + std::string(cid), &cv) ||
          !qc.ParseFromString(cv))
        return true;
      fmt::print(
          "{:>4}. {} {} prio {} due {} waiting since {} lang {} skills [{}]{}{}\n", ++pos, cid,
          channel_name(qc.summary().channel()), qc.priority(),
          when(qc.queue_due_ms() >= 9999999999999 ? 0 : qc.queue_due_ms()), when(qc.queued_at_ms()),
          qc.language().empty() ? "-" : qc.language(),
          [&] {
            std::vector<std::string> sk;
            for (const auto& [k, lvl] : qc.skills()) sk.push_back(fmt::format("{}>={}", k, lvl));
            return fmt::format("{}", fmt::join(sk, ","));
          }(),
          qc.overflow_stage() ? fmt::format(" overflow step {}", qc.overflow_stage()) : "",
          qc.summary().queue_id() != id ? " (overflow from " + qc.summary().queue_id() + ")" : "");
      return true;
    });
    if (pos == 0) fmt::print("  (empty)\n");
    return 0;
  }
  if (what == "agent") {
    v1::store::Agent a;
    if (!store->get(Cf::kAgents, ws + "/" + id, &v) || !a.ParseFromString(v)) {
      fmt::print(stderr, "no agent state for {}/{}\n", ws, id);
      return 1;
    }
    fmt::print("{}\n{}\nholds:\n", to_json(a),
               a.offline_since_ms() ? "desk offline since " + when(a.offline_since_ms())
                                    : std::string("desk connected (or never seen)"));
    std::map<std::string, int> per_channel;
    store->scan(Cf::kAgents, ws + "/" + id + "/", [&](std::string_view k, std::string_view) {
      const std::string cid(k.substr(ws.size() + id.size() + 2));
      v1::store::Conversation hc;
      std::string cv;
      if (store->get(Cf::kConversations, ws + "/" + cid, &cv) && hc.ParseFromString(cv)) {
        fmt::print("  {} {} {}\n", cid, channel_name(hc.summary().channel()),
                   hc.state() == v1::store::CONVERSATION_STATE_OFFERED ? "offered" : "assigned");
        ++per_channel[channel_name(hc.summary().channel())];
      }
      return true;
    });
    fmt::print("load: {}\n",
               per_channel.empty() ? "none" : fmt::format("{}", fmt::join(per_channel, ", ")));
    return 0;
  }
  if (what == "customer") {
    // By id ("U12") or by channel handle ("email:ana@example.com", "sms:+4930...").
    std::string cid = id;
    if (id.find(':') != std::string::npos && store->get(Cf::kCustomers, ws + "/h/" + id, &v))
      cid = v;
    auto load_customer = [&](const std::string& c, v1::store::Customer& out) {
      std::string cv;
      return store->get(Cf::kCustomers, ws + "/u/" + c, &cv) && out.ParseFromString(cv);
    };
    v1::store::Customer cust;
    if (!load_customer(cid, cust)) {
      fmt::print(stderr, "no customer {}/{}\n", ws, id);
      return 1;
    }
    fmt::print("{}\n", to_json(cust));
    v1::store::Customer root = cust;
    for (int hop = 0; hop < 16 && !root.merged_into().empty(); ++hop) {
      v1::store::Customer up;
      if (!load_customer(root.merged_into(), up)) break;
      root = up;
    }
    if (root.customer_id() != cust.customer_id())
      fmt::print("linked into {} (its profile is shared)\n", root.customer_id());
    // The group, root first, and each member's conversations (newest first).
    std::vector<std::string> group{root.customer_id()};
    for (size_t i = 0; i < group.size() && group.size() < 256; ++i) {
      v1::store::Customer m;
      if (!load_customer(group[i], m)) continue;
      fmt::print(
          "{} {}: handles [{}] identities [{}]{}\n", i == 0 ? "group" : "     ", m.customer_id(),
          fmt::join(m.handles(), ", "), fmt::join(m.identities(), ", "),
          m.claimed().empty() ? "" : fmt::format(" claimed [{}]", fmt::join(m.claimed(), ", ")));
      for (const auto& k : m.linked()) group.push_back(k);
      const std::string prefix = ws + "/x/" + m.customer_id() + "/";
      store->scan(Cf::kCustomers, prefix, [&](std::string_view k, std::string_view) {
        const std::string conv_id(k.substr(k.rfind('/') + 1));
        v1::store::Conversation hc;
        std::string cv;
        if (store->get(Cf::kConversations, ws + "/" + conv_id, &cv) && hc.ParseFromString(cv))
          fmt::print("      {} {} {} {}{}\n", conv_id, channel_name(hc.summary().channel()),
                     when(hc.summary().created_at_ms()), state_label(hc.state()),
                     hc.agent_id().empty() ? "" : " " + hc.agent_id());
        return true;
      });
    }
    return 0;
  }
  v1::store::Conversation conv;
  if (!store->get(Cf::kConversations, ws + "/" + id, &v) || !conv.ParseFromString(v)) {
    fmt::print(stderr, "no conversation {}/{}\n", ws, id);
    return 1;
  }
  fmt::print("{}\n", to_json(conv));
  fmt::print("history:\n");
  store->scan(Cf::kMessages, ws + "/" + id + "/", [](std::string_view, std::string_view val) {
    v1::ConversationMessage m;
    if (m.ParseFromArray(val.data(), static_cast<int>(val.size()))) fmt::print("{}\n", to_json(m));
    return true;
  });
  // The decision trail: every routing decision with its reason and the agents considered.
  fmt::print("decisions:\n");
  store->scan(Cf::kTrail, ws + "/" + id + "/", [&](std::string_view, std::string_view val) {
    v1::RoutingEvent e;
    if (!e.ParseFromArray(val.data(), static_cast<int>(val.size()))) return true;
    fmt::print("  {} {}{} {} (priority {}, language {})\n", when(e.at_ms()),
               v1::RoutingEvent::Kind_Name(e.kind()).substr(5),
               e.agent_id().empty() ? "" : " " + e.agent_id(), e.reason(), e.priority(),
               e.language().empty() ? "-" : e.language());
    for (const auto& cand : e.considered())
      fmt::print("      {} {}: {}\n", cand.eligible() ? "+" : "-", cand.agent_id(), cand.reason());
    return true;
  });
  return 0;
}

}  // namespace omniroute::cli
