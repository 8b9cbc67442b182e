// What an HTTP-facing connector declares about its listener, in one place: the address
// and the server settings every connector on that address shares (threads, timeouts,
// connection caps). Connectors put `listener_fields()` into their settings and start with
// `listen(settings)`; the host checks at start and in `config check` that connectors on
// one address do not declare different values (listener_conflicts).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "connectors/http/server.h"
#include "connectors/sdk/settings.h"

namespace omniroute::connectors::http {

// listen, threads, request_timeout_ms, max_connections, max_connections_per_client.
std::vector<sdk::ConfigField> listener_fields(const std::string& default_listen = "127.0.0.1:8080");
bool is_listener_field(const std::string& name);

Server::Options listener_options(const sdk::Settings& s);

// The shared server on settings' `listen` address (a new one if none runs there).
std::shared_ptr<Server> listen(const sdk::Settings& s, std::string& err);

// `connectors.<a>.<key> (va) differs from connectors.<b>.<key> (vb) on <address>` for every
// listener setting two connectors on one address resolve differently.
struct NamedSettings {
  std::string connector;
  sdk::Settings settings;
};
std::vector<std::string> listener_conflicts(const std::vector<NamedSettings>& connectors);

}  // namespace omniroute::connectors::http
