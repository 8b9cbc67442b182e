#include "config/workspace_section.h"

#include "config/router_section.h"

#include <set>

#include <fmt/format.h>

namespace omniroute::config {

const Account* AgentWorkspace::account(const std::string& login) const {
  for (const auto& a : accounts)
    if (a.login == login) return &a;
  return nullptr;
}

void parse_agent_workspace(MapReader& top, Config& c, Errors& errors) {
  if (!top.has("agent_workspace")) return;
  YAML::Node node = top.child("agent_workspace");
  MapReader m(node, "agent_workspace", errors);
  if (!m.valid()) return;
  AgentWorkspace& w = c.agent_workspace;
  w.enabled = true;
  w.listen = m.str("listen", w.listen);
  w.secure_cookies = m.boolean("secure_cookies", w.secure_cookies);
  w.demo_accounts = m.boolean("demo_accounts", false);
  w.session_idle_ms = m.integer("session_idle_minutes", 30, 1, 7 * 24 * 60) * 60 * 1000;
  w.session_max_ms = m.integer("session_max_hours", 12, 1, 30 * 24) * 3600 * 1000;
  w.login_max_failures = static_cast<int>(m.integer("login_max_failures", 5, 1, 1000));
  w.lockout_ms = m.integer("lockout_minutes", 15, 1, 24 * 60) * 60 * 1000;
  w.login_attempts_per_minute =
      static_cast<int>(m.integer("login_attempts_per_minute", 20, 1, 10000));
  w.max_sessions_per_account = static_cast<int>(m.integer("max_sessions_per_account", 20, 1, 1000));
  w.tab_grace_ms = m.integer("tab_grace_seconds", 15, 1, 3600) * 1000;
  if (m.has("gateway_secret_key")) w.gateway_secret_key = m.secret("gateway_secret_key", false);
  if (!w.gateway_secret_key.empty() && !z85_key(w.gateway_secret_key))
    errors.add(node, "agent_workspace.gateway_secret_key",
               "must be a 40-character Z85 key (omniroute agent keygen)");
  w.router_endpoint = m.str("router_endpoint", "");
  w.router_public_key = m.str("router_public_key", "");
  if (!w.router_public_key.empty() && !z85_key(w.router_public_key))
    errors.add(node, "agent_workspace.router_public_key", "must be a 40-character Z85 key");
  std::set<std::string> logins;
  YAML::Node list = m.child("accounts");
  if (list.IsDefined() && !list.IsNull() && !list.IsSequence())
    errors.add(list, "agent_workspace.accounts", "must be a list");
  for (size_t i = 0; list.IsSequence() && i < list.size(); ++i) {
    const std::string path = fmt::format("agent_workspace.accounts[{}]", i);
    MapReader a(list[i], path, errors);
    if (!a.valid()) continue;
    Account acc;
    acc.login = a.str("login", "", true);
    acc.workspace = a.str("workspace", "", true);
    acc.agent = a.str("agent", "", true);
    acc.password_hash = a.secret("password_hash", true);
    const std::string role = a.str("role", "agent");
    if (role == "supervisor")
      acc.role = Role::kSupervisor;
    else if (role != "agent")
      errors.add(list[i], a.path_of("role"), "must be agent or supervisor");
    if (!acc.login.empty() && !logins.insert(acc.login).second)
      errors.add(list[i], a.path_of("login"), "login '" + acc.login + "' is used twice");
    if (acc.login.size() > 128) errors.add(list[i], a.path_of("login"), "at most 128 characters");
    if (!acc.password_hash.empty() && acc.password_hash.rfind("$argon2id$", 0) != 0)
      errors.add(list[i], a.path_of("password_hash"),
                 "must be an argon2id hash from `omniroute passwd`");
    const Workspace* ws = c.workspace(acc.workspace);
    const Agent* agent = ws ? ws->agent(acc.agent) : nullptr;
    if (!acc.workspace.empty() && !ws)
      errors.add(list[i], a.path_of("workspace"), "no workspace '" + acc.workspace + "'");
    else if (!acc.agent.empty() && !agent)
      errors.add(list[i], a.path_of("agent"),
                 "no agent '" + acc.agent + "' in workspace '" + acc.workspace + "'");
    else if (agent && acc.role == Role::kSupervisor && !agent->supervisor)
      errors.add(list[i], a.path_of("role"),
                 "supervisor accounts need an agent with supervisor: true");
    a.finish();
    w.accounts.push_back(std::move(acc));
  }
  m.finish();
}

}  // namespace omniroute::config
