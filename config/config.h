// The omniroute configuration: one YAML file, validated at start. Unknown keys and bad
// values are errors naming the key path and the line. Connector-specific sections
// (`connectors.<name>` and each inbox's `settings`) are kept as YAML here and validated
// by the connector's own declared fields (connectors/sdk/settings.h, ConfigField).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/schedule.h"
#include "schemas/channel.h"

namespace re2 {
class RE2;
}

namespace omniroute::config {

struct Topics {
  std::string inbound = "omni.inbound";            // Envelopes from connectors.
  std::string outbound_prefix = "omni.outbound.";  // + channel name.
  std::string routing = "omni.routing";            // Routing decisions and lifecycle events.
  std::string dlq = "omni.dlq";                    // Dead letters.
  // Every write of the router's state, per omni.inbound partition (compacted on a real
  // cluster): what a new owner restores from.
  std::string changelog = "omni.changelog.router";
  std::string routers = "omni.routers";  // Which router instance owns which partition.
  std::string outbound(v1::Channel c) const { return outbound_prefix + channel_name(c); }
};

struct Kafka {
  // "embedded" starts librdkafka's in-memory mock cluster in-process; anything else is a
  // bootstrap list of a real cluster ("host1:9092,host2:9092").
  std::string brokers = "embedded";
  int embedded_brokers = 3;    // Brokers in the embedded cluster (1..9).
  int partitions = 6;          // Partitions per topic when omniroute creates topics.
  int replication_factor = 3;  // For topics omniroute creates (embedded: <= brokers).
  // Passed to librdkafka as-is (SASL, TLS...); `consumer.`/`producer.` + a name: to that kind
  // of client only.
  std::map<std::string, std::string> properties;
  // The largest record producers may send: properties["producer.message.max.bytes"] or
  // ["message.max.bytes"] or librdkafka's default (1,000,000). Bodies that cannot fit are refused
  // before they are accepted.
  int64_t max_message_bytes() const;
  Topics topics;
  bool embedded() const { return brokers == "embedded"; }
};

struct State {
  std::string dir = "var/state";  // RocksDB directory of the router.
  bool sync = false;  // fsync each commit: survives machine crashes, not just process crashes.
};

// How desks prove who they are (docs/agent-protocol.md, "Authentication").
enum class AgentAuth {
  kCurve,  // CURVE: each agent has a key pair; the router's ZAP handler knows the public keys.
  kToken,  // A shared token per agent in Hello (plain text on the wire: loopback or a VPN).
  kNone,   // Nobody is checked: only with `insecure: true` on a loopback endpoint (demos).
};
const char* agent_auth_name(AgentAuth a);

// How a router instance comes to own partitions of omni.inbound.
enum class Membership {
  kGroup,   // Instances form the Kafka consumer group omniroute-router; partitions move.
  kSingle,  // This instance owns every partition, no group (one router only).
};

struct Router {
  std::string agent_endpoint = "tcp://127.0.0.1:5570";  // ZeroMQ ROUTER bind address.
  Membership membership = Membership::kGroup;
  // What other instances tell desks to connect to for this one's workspaces; empty: the
  // bound endpoint (a wildcard host replaced by this machine's host name).
  std::string advertised_endpoint;
  // A member silent this long is out of the group and its partitions move (Kafka
  // session.timeout.ms; a real broker bounds it by group.min.session.timeout.ms).
  int session_timeout_ms = 6000;
  // Warm copies of each partition at this many instances other than its owner (the next
  // ones in the ring of instance ids): they follow its changelog into a local copy, so
  // taking it over reads only the last moments (and never depends on the broker still
  // holding old changelog records). 0: none.
  int standby_replicas = 1;
  // Partitions restored at once, each on its own thread with its own changelog reader.
  // 0: twice the cores (a restore waits on the broker's fetches and on its store's flushes
  // between bursts of work, so two per core keep the cores busy).
  int restore_threads = 0;
  AgentAuth agent_auth = AgentAuth::kCurve;
  bool insecure = false;  // Allows agent_auth: none (loopback endpoints only).
  // The router's CURVE secret key (Z85, 40 characters). Sensitive. Empty: kept in
  // <state.dir>/router.key, generated on first start (the public half in router.pub).
  std::string curve_secret_key;
  // Folder of agent public keys: <dir>/<workspace>/<agent>.pub (Z85), for agents whose
  // config has no curve_public_key. Re-read on SIGHUP: removing a file revokes the key.
  std::string agent_keys_dir;
  // Gateways that speak for many agents with one CURVE key (the agent workspace): a
  // connection with such a key may say Hello as any agent of the listed workspaces.
  struct Gateway {
    std::string name;
    std::string public_key;  // Z85
    std::set<std::string> workspaces;
  };
  std::vector<Gateway> gateways;
  // Whether a connection authenticated with `key` may speak for an agent of `workspace`.
  bool gateway_allows(const std::string& key, const std::string& workspace) const;
  int64_t max_frame_bytes = 4 << 20;    // ZMQ_MAXMSGSIZE: larger frames close the connection.
  int handshake_timeout_ms = 5000;      // A connection that has not authenticated by then closes.
  int max_desk_connections = 10000;     // Connections to the agent endpoint at once.
  int desk_send_queue_frames = 1000;    // Frames queued for one desk that does not read.
  int fd_reserve = 256;                 // File descriptors never given to desk connections.
  int64_t max_reply_bytes = 256 << 10;  // Reply / Transfer note text; must fit a Kafka record.
  // Welcomes (the agent's whole state) built for one agent per 10 s at most; more Hellos
  // are answered CODE_RATE_LIMITED.
  int max_welcomes_per_10s = 5;
  int heartbeat_interval_ms = 1000;           // Heartbeat period, both ways.
  int heartbeat_timeout_ms = 3000;            // Silence after which a desk is offline.
  int offer_timeout_ms = 30000;               // Unanswered offers are withdrawn after this.
  std::map<v1::Channel, int> offer_timeouts;  // Per channel, overriding offer_timeout_ms.
  // An agent whose desk went away keeps its accepted conversations this long; after it
  // they go back to the front of their queues.
  int64_t presence_grace_ms = 120000;
  int max_trail = 200;    // Decision records kept per conversation for `inspect`.
  int max_batch = 512;    // Inputs applied in one RocksDB commit at most.
  int max_history = 200;  // Messages sent with an Assignment at most.
  // The customer's earlier conversations (any channel, linked customers included) sent
  // with an Assignment: how many, and how many of the latest messages of each.
  int customer_history_conversations = 5;
  int customer_history_messages = 20;
  int64_t max_record_bytes = 1 << 20;  // Larger Kafka records go to the DLQ.
  int offer_timeout(v1::Channel c) const {
    auto it = offer_timeouts.find(c);
    return it == offer_timeouts.end() ? offer_timeout_ms : it->second;
  }
};

// A satisfaction survey sent when a conversation of the inbox is resolved (once per
// conversation, only if a person wrote; the connector keeps it to the channel's rules:
// windows, opt-outs). No question = no survey.
struct CsatSurvey {
  std::map<std::string, std::string> question;  // language -> text
  std::map<std::string, std::string> thanks;    // language -> text sent after an answer; optional
  int scale = 5;                                // 3 or 5
  int64_t window_ms = 72 * 3600 * 1000LL;       // answers accepted this long after sending
  bool enabled() const { return !question.empty(); }
};

struct Inbox {
  std::string id;
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
  std::string queue;    // Queue new conversations go to.
  YAML::Node settings;  // Channel-specific, validated by the connector.
  int line = 0;         // Line of the inbox in the file, for connector errors.
  // Automatic acknowledgement of a new conversation, per language ({reference},
  // {answer_within}, {subject}); empty = none. At most one per customer per window.
  std::map<std::string, std::string> auto_acknowledge;
  int64_t auto_acknowledge_window_ms = 86400 * 1000;
  CsatSurvey csat;
};

using Skills = std::map<std::string, int>;  // skill -> level 1..5

// How a queue picks among the agents who may take a conversation.
enum class Strategy { kLongestIdle, kLeastBusy, kRoundRobin };
const char* strategy_name(Strategy s);
// "pt-BR" -> "pt": languages are compared by their primary subtag, lower case.
std::string primary_language(const std::string& tag);

// After `after_ms` in the queue a conversation also targets `queues`, and its required
// skill levels drop by `relax_skills` (a level that reaches 0 is no longer required).
struct OverflowStep {
  int64_t after_ms = 0;
  std::vector<std::string> queues;
  int relax_skills = 0;
};

struct Queue {
  std::string id;
  Strategy strategy = Strategy::kLongestIdle;
  Skills skills;     // Required of agents unless a rule sets others.
  int priority = 0;  // Default priority of its conversations, 0..9 (9 first).
  // Sticky routing: the agent who served the customer within the window gets the
  // conversation, waited for up to `sticky_wait_ms` when busy or away.
  int64_t sticky_window_ms = 0;
  int64_t sticky_wait_ms = 0;
  std::vector<OverflowStep> overflow;  // In order of after_ms.
  std::string bot;  // Bot-first: agent id of a bot desk that gets new conversations first.
  // Offer a conversation on these channels to the best `parallel_offers` agents at once;
  // the first to accept gets it, the others' offers are withdrawn (1 = one at a time).
  int parallel_offers = 1;
  std::set<v1::Channel> parallel_channels{v1::CHANNEL_CHAT};
};

struct Agent {
  std::string id;
  std::string name;
  std::string token;  // agent_auth: token: Hello must carry it. Sensitive.
  // agent_auth: curve: the desk's CURVE public key (Z85), or from router.agent_keys_dir.
  std::string curve_public_key;
  int line = 0;  // Line of the agent in the file, for errors found after parsing.
  std::vector<std::string> queues;
  std::map<v1::Channel, int> capacity;  // Per channel; a channel absent here gets 0.
  int total_capacity = 0;               // All channels together; 0 = only per channel.
  Skills skills;
  std::vector<std::string> languages;     // Primary subtags ("en", "de"); empty = any.
  std::shared_ptr<const Schedule> shift;  // Null = always on shift.
  bool bot = false;                       // A bot desk (bot-first queues).
  bool supervisor = false;                // May force-assign conversations.
};

// A routing rule: the first rule whose every given condition matches sets the queue,
// priority and required skills of a new conversation.
struct Rule {
  std::string name;
  std::set<v1::Channel> channels;
  std::set<std::string> inboxes;
  std::set<std::string> languages;
  std::vector<std::string> keywords;            // Lower case; any one in subject or body matches.
  std::shared_ptr<const re2::RE2> regex;        // On subject + "\n" + body.
  std::map<std::string, std::string> customer;  // Attribute -> required value.
  // What it sets.
  std::string queue;
  int priority = -1;  // -1 = the queue's default
  Skills skills;      // Empty = the queue's
};

// SLA targets for conversations matching channels (empty = all) and a priority range.
struct SlaPolicy {
  std::string name;
  std::set<v1::Channel> channels;
  int min_priority = 0, max_priority = 9;
  int64_t first_response_ms = 0;  // 0 = no target
  int64_t next_response_ms = 0;
  int64_t resolution_ms = 0;
  double warning_fraction = 0.8;  // Warning (and a priority raise) at this share of a target.
};

struct Workspace {
  std::string id;
  std::string name;
  std::vector<Inbox> inboxes;
  std::vector<Queue> queues;
  std::vector<Agent> agents;
  std::shared_ptr<const Schedule> hours;  // Business hours; never null (default: always open).
  std::string default_language = "en";
  // A reply to a conversation resolved at most this long ago reopens it; a later one
  // starts a new conversation linked to the old (email threading).
  int64_t reopen_window_ms = int64_t{7} * 86400 * 1000;
  // Auto-reply sent when a conversation opens outside business hours, by language;
  // "{opens_at}" and "{reference}" are replaced.
  std::map<std::string, std::string> closed_replies;
  std::vector<Rule> rules;
  std::vector<SlaPolicy> sla;
  const Inbox* inbox(const std::string& id) const;
  const Agent* agent(const std::string& id) const;
  const Queue* queue(const std::string& id) const;
  // First SLA policy for (channel, priority), or null.
  const SlaPolicy* sla_for(v1::Channel c, int priority) const;
};

struct Connector {
  bool enabled = true;
  YAML::Node settings;  // Validated by the connector.
  int line = 0;
};

// A person who signs in to the web workspace (docs/workspace.md).
enum class Role { kAgent, kSupervisor };
struct Account {
  std::string login;             // what the person types; unique
  std::string workspace, agent;  // the agent it acts as
  std::string password_hash;     // argon2id, libsodium's encoded form ("$argon2id$v=19$...")
  Role role = Role::kAgent;      // supervisor: the agent must be one (supervisor: true)
};

struct AgentWorkspace {
  bool enabled = false;                       // the section is present
  std::string listen = "127.0.0.1:8080";      // the HTTP front door it joins (path /agent/)
  bool secure_cookies = false;                // behind TLS: cookies get Secure
  int64_t session_idle_ms = 30 * 60 * 1000;   // signed out after this long unused
  int64_t session_max_ms = 12 * 3600 * 1000;  // and after this long in any case
  int login_max_failures = 5;                 // wrong passwords in a row, per login
  int64_t lockout_ms = 15 * 60 * 1000;        // then the login is locked this long
  int login_attempts_per_minute = 20;         // per client address, any login
  int max_sessions_per_account = 20;          // tabs and devices of one person
  int64_t tab_grace_ms = 15000;  // an agent's protocol session outlives its last tab this long
  // The gateway's way to the router: its CURVE secret key (its public key must be in
  // router.gateways); empty in `omniroute up`: a key pair is made at start and given to the
  // router in the same process. The router's endpoint and public key default to the
  // router's own (same process).
  std::string gateway_secret_key;
  std::string router_endpoint;
  std::string router_public_key;
  std::vector<Account> accounts;
  // `omniroute up` only: every agent without an account gets one (login = agent id) with a
  // random password printed at start, kept in memory for that run. For trying it out.
  bool demo_accounts = false;
  const Account* account(const std::string& login) const;
};

// /metrics, /livez and /readyz (docs/operations.md). Every front door a process opens
// serves them; `listen` adds an address of their own (what `omniroute router`, which has
// no front door, needs to be watched).
struct Operations {
  std::string listen;         // "host:port"; "" = only on the front doors.
  std::string metrics_token;  // Set: /metrics wants "Authorization: Bearer <token>".
  // After SIGTERM, /readyz answers 503 for this long while everything still serves, so a
  // load balancer stops sending work before the process stops taking it.
  int64_t drain_ms = 0;
  bool operator==(const Operations&) const = default;
};

// The analytics consumer of omni.routing (docs/reports.md).
struct Analytics {
  bool enabled = true;  // `omniroute up` runs it (the `analytics` subcommand always does)
  std::string dir;      // its RocksDB; "" = state.dir + "-analytics"
  std::vector<int64_t> service_level_s = {20, 60, 300};  // answered-within thresholds
  bool operator==(const Analytics&) const = default;
};

struct Config {
  Kafka kafka;
  State state;
  Router router;
  std::string log_level = "info";
  std::map<std::string, Connector> connectors;  // By connector name.
  std::vector<Workspace> workspaces;
  AgentWorkspace agent_workspace;
  Operations operations;
  Analytics analytics;
  // What is valid but probably not meant (an agent whose key file is missing from
  // router.agent_keys_dir cannot sign in): printed by `config check`, logged at start.
  std::vector<std::string> warnings;
  const Workspace* workspace(const std::string& id) const;
  // Every topic omniroute uses: inbound, routing, dlq and one outbound per channel.
  std::vector<std::string> all_topics() const;
};

struct ParseOptions {
  // An agent without a credential for router.agent_auth is an error. Off only for
  // `omniroute agent keygen --config`, which makes the missing keys.
  bool require_agent_credentials = true;
};

// Parses and validates. On failure returns nullopt and fills `errors`.
std::optional<Config> parse(const std::string& yaml_text, std::vector<std::string>& errors,
                            const ParseOptions& options = {});
std::optional<Config> load_file(const std::string& path, std::vector<std::string>& errors,
                                const ParseOptions& options = {});

// The settings a running router reads only at start, named where `next` differs from
// `running` (a SIGHUP reload that changes any of them is refused as a whole). kafka.brokers
// is left to the caller: the embedded broker's address is resolved at start.
std::vector<std::string> restart_only_changes(const Config& running, const Config& next);

}  // namespace omniroute::config
