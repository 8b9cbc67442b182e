#include "cli/stack.h"

#include <algorithm>
#include <csignal>
#include <future>
#include <set>

#include <fmt/format.h>
#include <zmq.h>

#include "analytics/api.h"
#include "common/ids.h"
#include "common/log.h"
#include "ops/endpoints.h"
#include "ops/health.h"

namespace omniroute::cli {

std::atomic<bool>& stop_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}

std::atomic<bool>& reload_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}

void install_signal_handlers() {
  auto on_signal = [](int) { stop_requested().store(true); };
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGHUP, [](int) { reload_requested().store(true); });
  std::signal(SIGPIPE, SIG_IGN);
}

Stack::~Stack() {
  stop();
}

std::string Stack::start_kafka() {
  std::string err;
  ops::set_ready("kafka", false, "connecting and creating topics");
  if (cfg_.kafka.embedded()) {
    cluster_ = kafka::EmbeddedCluster::start(cfg_.kafka.embedded_brokers, err);
    if (!cluster_) return "embedded kafka: " + err;
    for (const auto& t : cfg_.all_topics()) {
      if (!cluster_->create_topic(t, cfg_.kafka.partitions, cfg_.kafka.replication_factor, err))
        return err;
    }
    cfg_.kafka.brokers = cluster_->bootstraps();
    log::get("kafka")->info("embedded Kafka cluster ({} brokers, in memory) at {}",
                            cluster_->brokers(), cluster_->bootstraps());
  }
  kcfg_.brokers = cfg_.kafka.brokers;
  kcfg_.properties = cfg_.kafka.properties;
  if (!cluster_) {
    if (!kafka::ensure_topics(kcfg_, cfg_.all_topics(), cfg_.kafka.partitions,
                              cfg_.kafka.replication_factor, err)) {
      return "kafka topics: " + err;
    }
  }
  ops::set_ready("kafka", true);
  return {};
}

std::string Stack::reload(config::Config next) {
  if (!router_) return "no router runs in this process";
  // The in-process workspace gateway keeps the pairing made at start.
  if (paired_gateway_) {
    auto g = *paired_gateway_;
    g.workspaces.clear();
    for (const auto& ws : next.workspaces) g.workspaces.insert(ws.id);
    next.router.gateways.push_back(std::move(g));
  }
  std::vector<std::string> fixed = config::restart_only_changes(cfg_, next);
  if (next.kafka.brokers != configured_brokers_) fixed.push_back("kafka.brokers");
  if (!fixed.empty())
    return fmt::format("{} cannot change while running (restart to apply)", fmt::join(fixed, ", "));
  next.kafka.brokers = cfg_.kafka.brokers;  // the resolved embedded address
  auto verdict = std::make_shared<std::promise<std::string>>();
  auto result = verdict->get_future();
  router_->request_reload(std::make_shared<const config::Config>(std::move(next)),
                          [verdict](const std::string& err) { verdict->set_value(err); });
  if (result.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
    return "the router has not taken the new configuration within 10 s (it will when it can)";
  return result.get();
}

std::string Stack::start_router() {
  pair_workspace_gateway();
  router_ = std::make_unique<router::Router>(cfg_, kcfg_);
  if (auto err = router_->start(&stop_requested()); !err.empty()) return err;
  router_thread_ = std::thread([this] { router_->run(router_stop_); });
  return {};
}

std::string Stack::start_connectors(const std::vector<std::string>& names) {
  auto& registry = sdk::builtin_registry();
  std::set<std::string> wanted(names.begin(), names.end());
  if (wanted.empty()) {
    for (const auto& [name, c] : cfg_.connectors)
      if (c.enabled) wanted.insert(name);
    for (const auto& ws : cfg_.workspaces) {
      for (const auto& i : ws.inboxes) {
        if (const auto* f = registry.find(i.channel)) {
          auto it = cfg_.connectors.find(f->name);
          if (it == cfg_.connectors.end() || it->second.enabled) wanted.insert(f->name);
        }
      }
    }
  }
  for (const auto& name : wanted) {
    const auto* f = registry.find(name);
    if (!f) return "unknown connector " + name;
    auto host = std::make_unique<connectors::ConnectorHost>(cfg_, *f, kcfg_);
    if (auto e = host->start(); !e.empty()) return "connector " + name + ": " + e;
    hosts_.push_back(std::move(host));
  }
  return {};
}

std::string Stack::start_workspace() {
  const auto& w = cfg_.agent_workspace;
  if (!w.enabled) return {};
  workspace::GatewayOptions g;
  g.router_endpoint = !w.router_endpoint.empty() ? w.router_endpoint
                      : router_                  ? router_->agent_endpoint()
                                                 : cfg_.router.agent_endpoint;
  g.router_public_key = !w.router_public_key.empty() ? w.router_public_key
                        : router_                    ? router_->curve_public_key()
                                                     : std::string();
  if (cfg_.router.agent_auth != config::AgentAuth::kCurve) g.router_public_key.clear();
  g.secret_key = w.gateway_secret_key;
  g.tab_grace_ms = w.tab_grace_ms;
  workspace_ = std::make_unique<workspace::Api>(
      w, [] { return now_ms(); }, g);
  if (analytics_) {
    workspace_->set_supervisor_api([svc = analytics_.get()](const std::string& path,
                                                            const connectors::http::Request& req,
                                                            const std::string& ws) {
      return analytics::answer(*svc, path, req, ws, now_ms());
    });
    auto board = std::make_shared<workspace::Board>(
        [svc = analytics_.get()](const std::string& ws, const std::string& find) {
          return svc->live(ws, now_ms(), find).dump();
        });
    analytics_->on_change(
        [weak = std::weak_ptr<workspace::Board>(board)](const std::set<std::string>& changed) {
          if (auto b = weak.lock())
            for (const auto& ws : changed) b->changed(ws);
        });
    workspace_->set_board(std::move(board));
  }
  return workspace_->start();
}

std::string Stack::serve_operations() {
  std::string err;
  const std::string& token = cfg_.operations.metrics_token;
  if (!cfg_.operations.listen.empty()) {
    auto s = ops::listen(cfg_.operations.listen, token, err);
    if (!s) return "operations.listen: " + err;
    ops_servers_.push_back(std::move(s));
  }
  for (auto& s : connectors::http::Server::all()) {
    if (auto e = ops::serve(*s, token); !e.empty()) return e;
    if (std::find(ops_servers_.begin(), ops_servers_.end(), s) == ops_servers_.end())
      ops_servers_.push_back(std::move(s));
  }
  return {};
}

std::vector<std::string> Stack::operations_addresses() const {
  std::vector<std::string> out;
  for (const auto& s : ops_servers_) out.push_back(s->address());
  return out;
}

std::string Stack::start_analytics() {
  analytics_ = std::make_unique<analytics::Service>(cfg_, kcfg_);
  return analytics_->start();
}

std::string Stack::start_all() {
  std::string err = start_kafka();
  if (err.empty()) err = start_router();
  if (err.empty() && cfg_.analytics.enabled) err = start_analytics();
  if (err.empty()) err = start_connectors();
  if (err.empty()) err = start_workspace();
  return err;
}

void Stack::pair_workspace_gateway() {
  auto& w = cfg_.agent_workspace;
  if (!w.enabled || !w.gateway_secret_key.empty() ||
      cfg_.router.agent_auth != config::AgentAuth::kCurve)
    return;
  // One process: the gateway gets a key pair for this run, and the router trusts it for
  // every workspace.
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0) return;
  w.gateway_secret_key = sec;
  config::Router::Gateway g;
  g.name = "agent workspace";
  g.public_key = pub;
  for (const auto& ws : cfg_.workspaces) g.workspaces.insert(ws.id);
  paired_gateway_ = g;
  cfg_.router.gateways.push_back(std::move(g));
}

void Stack::stop() {
  ops_servers_.clear();
  if (analytics_) analytics_->stop();
  if (workspace_) workspace_->stop();
  workspace_.reset();
  for (auto& h : hosts_) h->stop();
  if (router_thread_.joinable()) {
    router_stop_ = true;
    router_thread_.join();
  }
  router_.reset();
  hosts_.clear();
  analytics_.reset();
  cluster_.reset();
}

}  // namespace omniroute::cli
