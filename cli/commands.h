// Subcommands of the `omniroute` binary, one function each.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "config/config.h"

namespace omniroute::cli {

struct Common {
  std::string config_path = "config/omniroute.yaml";
  std::string brokers;     // overrides kafka.brokers
  std::string state_dir;   // overrides state.dir
  std::string log_level;   // overrides log_level
  std::string ops_listen;  // overrides operations.listen
};

// Shared by the subcommand files: the config (validated against the connectors), and a
// message as indented JSON.
std::optional<config::Config> load(const Common& c);
std::string to_json(const google::protobuf::Message& m);

int cmd_up(const Common& c, bool demo, int demo_messages, int demo_timeout_s);
int cmd_router(const Common& c);
int cmd_connect(const Common& c, const std::vector<std::string>& names);
int cmd_broker(const Common& c, int brokers);
// The agent workspace alone: its pages, sign-in and gateway, connected to a router's agent
// endpoint with the gateway's own CURVE key.
int cmd_workspace(const Common& c);
int cmd_analytics(const Common& c);
int cmd_config_check(const std::string& path);
int cmd_normalize(const std::string& channel, const std::string& file,
                  const std::string& provider = "");
int cmd_inspect(const Common& c, const std::string& what, const std::string& id,
                const std::string& workspace);
// Who owns which partition of omni.inbound (and its workspaces), from omni.routers.
int cmd_inspect_owners(const Common& c);

struct AgentOptions {
  std::string endpoint = "tcp://127.0.0.1:5570";
  std::string workspace;
  std::string agent;
  std::string token;
  // CURVE (the router's default): this agent's secret key file, and the router's public
  // key or its file. Defaults follow config/omniroute.yaml: var/keys/WS/AGENT.key and
  // var/state/router.pub.
  std::string key_file;
  std::string server_key;
  bool insecure = false;  // no CURVE (routers with agent_auth token or none)
  bool auto_accept = false;
  std::string auto_reply;  // reply with this text to every new assignment
  bool auto_resolve = false;
};
int cmd_agent(const AgentOptions& o);

struct KeygenOptions {
  std::string workspace, agent;
  std::string keys_dir = "var/keys";
  std::string config_path;  // with `all`: every agent of this config without a key
  bool all = false;
};
// Prints a CURVE key pair, or writes <keys_dir>/<ws>/<agent>.pub/.key (never overwriting).
int cmd_agent_keygen(const KeygenOptions& o);

// `passwd`: an argon2id hash for agent_workspace.accounts (with --login: the whole entry).
struct PasswdOptions {
  std::string login, workspace, agent;
  bool supervisor = false;
};
int cmd_passwd(const PasswdOptions& o);

}  // namespace omniroute::cli
