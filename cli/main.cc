// The omniroute binary: every subcommand of the product in one executable.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <climits>

#include <fmt/format.h>

#include "bench/bench.h"
#include "bench/board_bench.h"
#include "bench/chaos.h"
#include "bench/failover_bench.h"
#include "bench/restore_bench.h"
#include "bench/scale_bench.h"
#include "bench/workspace_bench.h"
#include "cli/commands.h"
#include "connectors/sdk/connector.h"

int main(int argc, char** argv) {
  using namespace omniroute::cli;
  CLI::App app{"omniroute: event-driven omnichannel message router for contact centers"};
  app.require_subcommand(1);
  Common common;
  auto add_common = [&](CLI::App* sub) {
    sub->add_option("-c,--config", common.config_path, "Config file")->capture_default_str();
    sub->add_option("--brokers", common.brokers,
                    "Kafka bootstrap servers (overrides kafka.brokers)");
    sub->add_option("--state-dir", common.state_dir,
                    "Router state directory (overrides state.dir)");
    sub->add_option("--log-level", common.log_level, "trace, debug, info, warn, error");
    sub->add_option("--ops-listen", common.ops_listen,
                    "host:port for /metrics, /livez, /readyz (overrides operations.listen)");
  };

  auto* up = app.add_subcommand(
      "up", "Run broker (embedded by default), router and connectors in one process");
  add_common(up);
  bool demo = false;
  int demo_messages = 20, demo_timeout = 60;
  up->add_flag(
      "--demo", demo,
      "Feed sample messages, run scripted agents, print a summary, exit 0 if all delivered");
  up->add_option("--demo-messages", demo_messages, "Messages the demo sends")
      ->capture_default_str();
  up->add_option("--demo-timeout", demo_timeout, "Seconds the demo waits for every delivery")
      ->capture_default_str();

  auto* router =
      app.add_subcommand("router", "Run the router alone (Kafka from kafka.brokers or --brokers)");
  add_common(router);

  auto* connect = app.add_subcommand("connect", "Run channel connectors alone");
  add_common(connect);
  std::vector<std::string> names;
  connect->add_option("connectors", names, "Connector names (default: every configured one)");

  auto* workspace_cmd = app.add_subcommand(
      "workspace",
      "Run the agent workspace alone (web pages, sign-in, gateway) against a router's agent "
      "endpoint (agent_workspace.router_endpoint)");
  add_common(workspace_cmd);

  auto* analytics_cmd = app.add_subcommand(
      "analytics",
      "Run the analytics consumer of omni.routing alone (reports and live picture in its own "
      "store; /metrics and health on operations.listen or --ops-listen)");
  add_common(analytics_cmd);

  auto* broker = app.add_subcommand(
      "broker", "Run a standalone embedded (in-memory) Kafka cluster for development");
  add_common(broker);
  int broker_count = 3;
  broker->add_option("--count", broker_count, "Brokers in the cluster")->capture_default_str();

  auto* agent = app.add_subcommand("agent", "Terminal agent desk over the agent protocol");
  AgentOptions ao;
  agent->add_option("--endpoint", ao.endpoint, "Router agent endpoint")->capture_default_str();
  agent->add_option("-w,--workspace", ao.workspace, "Workspace id (required)");
  agent->add_option("-a,--agent", ao.agent, "Agent id (required)");
  agent->add_option("--token", ao.token, "Agent token (routers with agent_auth: token)");
  agent->add_option("--key", ao.key_file,
                    "This agent's CURVE secret key file "
                    "(default var/keys/WORKSPACE/AGENT.key)");
  agent->add_option("--server-key", ao.server_key,
                    "The router's CURVE public key, or its file (default var/state/router.pub)");
  agent->add_flag("--insecure", ao.insecure,
                  "Connect without CURVE (routers with agent_auth: token or none)");
  auto* keygen = agent->add_subcommand(
      "keygen",
      "Make a CURVE key pair for a desk: printed, or written as KEYS_DIR/WS/AGENT.pub "
      "and .key (the router reads .pub from router.agent_keys_dir)");
  KeygenOptions ko;
  keygen->add_option("-w,--workspace", ko.workspace, "Workspace id (with -a: write files)");
  keygen->add_option("-a,--agent", ko.agent, "Agent id");
  keygen->add_option("--keys-dir", ko.keys_dir, "Folder of key files")->capture_default_str();
  keygen->add_option("-c,--config", ko.config_path, "Config file (with --all)");
  keygen->add_flag("--all", ko.all, "Write a pair for every agent of --config that has no key yet");
  agent->add_flag("--auto-accept", ao.auto_accept, "Accept every offer");
  agent->add_option("--auto-reply", ao.auto_reply, "Reply with this text to every new assignment");
  agent->add_flag("--auto-resolve", ao.auto_resolve,
                  "Resolve a conversation once the auto-reply is acknowledged");

  auto* normalize = app.add_subcommand(
      "normalize", "Print a native channel payload as canonical InboundMessage JSON");
  std::string channel, file = "-", provider;
  {
    // Channels and payload formats as the registered connectors declare them.
    const auto& reg = omniroute::sdk::builtin_registry();
    std::vector<std::string> providers;
    for (const auto& n : reg.names()) {
      const auto* f = reg.find(n);
      if (!f->providers.empty())
        providers.push_back(fmt::format("{}: {}", n, fmt::join(f->providers, ", ")));
    }
    normalize
        ->add_option(
            "channel", channel,
            fmt::format("Channel: {}, or social (with --provider)", fmt::join(reg.names(), ", ")))
        ->required();
    normalize->add_option("file", file, "Payload file ('-' = stdin)")->capture_default_str();
    normalize->add_option(
        "--provider", provider,
        fmt::format("Payload format where a channel has several: {}; social: a connector name",
                    fmt::join(providers, "; ")));
  }

  auto* inspect =
      app.add_subcommand("inspect", "Show router state (read-only; works while the router runs)");
  add_common(inspect);
  std::string what, id, workspace;
  inspect
      ->add_option("what", what,
                   "conversation (history and decision trail) | queue | agent | customer | "
                   "offsets | outbox | owners (which router instance serves which workspaces)")
      ->required()
      ->check(CLI::IsMember(
          {"conversation", "queue", "agent", "customer", "offsets", "outbox", "owners"}));
  inspect->add_option("id", id,
                      "Conversation, queue, agent or customer id (a customer also by "
                      "channel handle, e.g. email:ana@example.com)");
  inspect->add_option("-w,--workspace", workspace, "Workspace id (default: the only one)");

  auto* config = app.add_subcommand("config", "Configuration tools");
  config->require_subcommand(1);
  auto* check =
      config->add_subcommand("check", "Validate a config file: errors name the key and line");
  std::string check_path;
  check->add_option("file", check_path, "Config file")->required();

  auto* bench = app.add_subcommand(
      "bench", "End-to-end routing measured against raw Kafka, RocksDB and ZeroMQ in the same run");
  omniroute::bench::Options bo;
  bench->add_option("-n,--messages", bo.messages, "Messages at full speed")->capture_default_str();
  bench->add_option("--workspaces", bo.workspaces, "Workspaces")->capture_default_str();
  bench->add_option("--conversations", bo.conversations, "Conversations")->capture_default_str();
  bench->add_option("--agents", bo.agents, "Agents per workspace")->capture_default_str();
  bench->add_option("--brokers", bo.brokers, "A real Kafka cluster (default: embedded)");
  bench
      ->add_option("--rate-fraction", bo.rate_fraction,
                   "Fixed-rate phase as a fraction of the maximum")
      ->capture_default_str();
  bench->add_option("--fixed-rate-seconds", bo.fixed_rate_seconds, "Length of the fixed-rate phase")
      ->capture_default_str();
  bench
      ->add_option("--state-conversations", bo.state_conversations,
                   "Conversations in state for the RSS and restart figures (0 = skip)")
      ->capture_default_str();
  bench->add_option("--decision-agents", bo.decision_agents, "Routing decisions: agents")
      ->capture_default_str();
  bench->add_option("--decision-queues", bo.decision_queues, "Routing decisions: queues")
      ->capture_default_str();
  bench
      ->add_option("--decision-conversations", bo.decision_conversations,
                   "Routing decisions: new conversations (0 = skip)")
      ->capture_default_str();
  bench->add_option("--out", bo.out_dir, "Directory for the JSON results")->capture_default_str();
  bool workspace_bench = false;
  omniroute::bench::WorkspaceOptions wo;
  bench->add_flag("--workspace", workspace_bench,
                  "Measure the agent workspace instead: event -> tab latency under load, "
                  "forced WebSocket drops (lost / duplicated events), script size");
  bench->add_option("--ws-agents", wo.agents, "Workspace bench: signed-in agents")
      ->capture_default_str();
  bench->add_option("--ws-rate", wo.rate, "Workspace bench: customer messages per second")
      ->capture_default_str();
  bench->add_option("--ws-seconds", wo.seconds, "Workspace bench: seconds of load")
      ->capture_default_str();
  bench->add_option("--ws-drops", wo.drops, "Workspace bench: forced WebSocket drops")
      ->capture_default_str();
  bool board_bench = false;
  bool failover_bench = false;
  omniroute::bench::FailoverOptions fo;
  bench->add_flag("--failover", failover_bench,
                  "Measure failover instead: two routers, the workspace's owner SIGKILLed under a "
                  "steady stream, time until the first message after each kill is answered, "
                  "with standby copies and without");
  bench->add_option("--failover-rate", fo.rate, "Failover bench: messages per second")
      ->capture_default_str();
  bench->add_option("--failover-kills", fo.kills, "Failover bench: owner kills per mode")
      ->capture_default_str();
  bench
      ->add_option("--failover-session-timeout", fo.session_timeout_ms,
                   "Failover bench: router.session_timeout_ms (how soon the group notices a "
                   "dead instance)")
      ->capture_default_str()
      ->check(CLI::Range(1000, 60000));
  omniroute::bench::BoardOptions bdo;
  bench->add_flag("--board", board_bench,
                  "Measure the supervisors' wallboard instead: routing decision -> pushed picture "
                  "at --board-agents / --board-queues");
  bench->add_option("--board-agents", bdo.agents, "Board bench: agents")->capture_default_str();
  bench->add_option("--board-queues", bdo.queues, "Board bench: queues")->capture_default_str();
  bench->add_option("--board-conversations", bdo.conversations, "Board bench: open conversations")
      ->capture_default_str();
  omniroute::bench::ScaleOptions so;
  auto* instances_opt =
      bench
          ->add_option(
              "--instances", so.instances,
              "Measure scale-out instead: the same load through this many router "
              "instances in one group, each count on a fresh embedded cluster (e.g. 1,2,3)")
          ->delimiter(',')
          ->check(CLI::Range(1, 6));
  bench->add_option("--scale-messages", so.messages, "Scale bench: messages per instance count")
      ->capture_default_str();
  omniroute::bench::RestoreOptions ro;
  auto* restore_opt =
      bench
          ->add_option("--restore", ro.conversations,
                       "Measure a restore instead: the changelog of this many conversations, "
                       "then a router with no local state restores every partition before it "
                       "serves (e.g. 1000000)")
          ->check(CLI::Range(1, 100000000));
  bench
      ->add_option("--restore-partitions", ro.partitions,
                   "Restore bench: partitions (the embedded broker keeps ~5 MB of each)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  bench
      ->add_option("--restore-session-ms", ro.session_timeout_ms,
                   "Restore bench: the routers' group session (how soon the killed one's "
                   "partitions move)")
      ->capture_default_str()
      ->check(CLI::Range(1000, 300000));
  bool chaos = false;
  omniroute::bench::ChaosOptions co;
  bench->add_flag(
      "--chaos", chaos,
      "Run the fault harness instead: two routers in a group, the workspace's owner killed "
      "(SIGKILL) or handed over (rebalance), broker faults, desk and connector restarts; exit 0 "
      "only if nothing was lost or duplicated");
  bench->add_option("--chaos-messages", co.messages, "Fault harness: messages")
      ->capture_default_str();
  bench->add_option("--chaos-kills", co.router_kills, "Fault harness: owner SIGKILLs")
      ->capture_default_str();
  bench->add_option("--chaos-faults", co.other_faults, "Fault harness: other faults")
      ->capture_default_str();
  bench->add_option("--chaos-seed", co.seed, "Fault harness: random seed")->capture_default_str();
  bench
      ->add_option("--chaos-fault-kinds", co.fault_kinds,
                   "Fault harness: only these other faults (broker-down, produce-errors, latency, "
                   "desk-kill, connector-kill, rebalance)")
      ->delimiter(',')
      ->check(CLI::IsMember({"broker-down", "produce-errors", "latency", "desk-kill",
                             "connector-kill", "rebalance"}));
  bench
      ->add_option("--chaos-max-unanswered", co.max_unanswered,
                   "Fault harness: customers wait while this many messages are unanswered")
      ->capture_default_str();

  auto* passwd = app.add_subcommand(
      "passwd",
      "Hash a password for agent_workspace.accounts (argon2id); typed twice without echo, or "
      "read from standard input");
  PasswdOptions po;
  passwd->add_option("-l,--login", po.login, "Print a whole account entry for this login");
  passwd->add_option("-w,--workspace", po.workspace, "Workspace of the account (with --login)");
  passwd->add_option("-a,--agent", po.agent, "Agent of the account (with --login)");
  passwd->add_flag("--supervisor", po.supervisor, "The account is a supervisor's");

  CLI11_PARSE(app, argc, argv);

  if (*up) return cmd_up(common, demo, demo_messages, demo_timeout);
  if (*router) return cmd_router(common);
  if (*connect) return cmd_connect(common, names);
  if (*workspace_cmd) return cmd_workspace(common);
  if (*analytics_cmd) return cmd_analytics(common);
  if (*broker) return cmd_broker(common, broker_count);
  if (*keygen) return cmd_agent_keygen(ko);
  if (*passwd) {
    if (!po.login.empty() && (po.workspace.empty() || po.agent.empty())) {
      fprintf(stderr, "omniroute passwd: --login needs -w/--workspace and -a/--agent\n");
      return 2;
    }
    return cmd_passwd(po);
  }
  if (*agent) {
    if (ao.workspace.empty() || ao.agent.empty()) {
      fprintf(stderr, "omniroute agent: -w/--workspace and -a/--agent are required\n");
      return 2;
    }
    return cmd_agent(ao);
  }
  if (*normalize) return cmd_normalize(channel, file, provider);
  if (*inspect) {
    if (what == "owners") return cmd_inspect_owners(common);
    return cmd_inspect(common, what, id, workspace);
  }
  if (*check) return cmd_config_check(check_path);
  if (*bench) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    bo.binary = n > 0 ? std::string(self, static_cast<size_t>(n)) : argv[0];
    if (workspace_bench) {
      wo.out_dir = bo.out_dir;
      return omniroute::bench::run_workspace(wo);
    }
    if (failover_bench) {
      fo.binary = bo.binary;
      fo.out_dir = bo.out_dir;
      return omniroute::bench::run_failover(fo);
    }
    if (instances_opt->count() > 0) {
      so.binary = bo.binary;
      so.out_dir = bo.out_dir;
      return omniroute::bench::run_scale(so);
    }
    if (restore_opt->count() > 0) {
      ro.binary = bo.binary;
      ro.out_dir = bo.out_dir;
      return omniroute::bench::run_restore(ro);
    }
    if (board_bench) {
      bdo.out_dir = bo.out_dir;
      return omniroute::bench::run_board(bdo);
    }
    if (chaos) {
      co.binary = bo.binary;
      co.out_dir = bo.out_dir;
      auto r = omniroute::bench::run_chaos(co);
      fprintf(stdout, "%s\n", r.summary().c_str());
      for (const auto& v : r.violations) fprintf(stdout, "  violation: %s\n", v.c_str());
      return r.ok ? 0 : 1;
    }
    return omniroute::bench::run(bo);
  }
  return 1;
}
