#include "connectors/http/listener.h"

#include <map>

#include <fmt/format.h>

namespace omniroute::connectors::http {

std::vector<sdk::ConfigField> listener_fields(const std::string& default_listen) {
  using T = sdk::ConfigField::Type;
  return {
      {"listen", T::kString,
       "host:port of the HTTP server, shared with other connectors on the same address (port 0 "
       "= any free port)",
       default_listen},
      {"threads", T::kInt, "HTTP server threads (the same for every connector on the address)", "1",
       false, 1, 64},
      {"request_timeout_ms", T::kInt, "Time to read a request before the connection is closed",
       "15000", false, 100, 600000},
      {"max_connections", T::kInt,
       "Open connections on the address at most, WebSocket ones included; at the cap the "
       "longest idle one is closed for a new one",
       "10000", false, 1, 1000000},
      {"max_connections_per_client", T::kInt, "Open connections from one peer address at most",
       "256", false, 1, 1000000},
  };
}

bool is_listener_field(const std::string& name) {
  for (const auto& f : listener_fields())
    if (f.name == name) return true;
  return false;
}

Server::Options listener_options(const sdk::Settings& s) {
  Server::Options o;  // what the settings leave out keeps the declared default
  auto take = [&](const char* key, int& into) {
    if (s.has(key) && s.integer(key) > 0) into = static_cast<int>(s.integer(key));
  };
  take("threads", o.threads);
  take("request_timeout_ms", o.request_timeout_ms);
  take("max_connections", o.max_connections);
  take("max_connections_per_client", o.max_connections_per_client);
  return o;
}

std::shared_ptr<Server> listen(const sdk::Settings& s, std::string& err) {
  return Server::listen(s.str("listen"), listener_options(s), err);
}

std::vector<std::string> listener_conflicts(const std::vector<NamedSettings>& connectors) {
  std::vector<std::string> out;
  std::map<std::string, const NamedSettings*> first;  // address -> first connector there
  for (const auto& c : connectors) {
    if (!c.settings.has("listen")) continue;
    const std::string addr = c.settings.str("listen");
    if (addr.empty() || addr.substr(addr.rfind(':') + 1) == "0") continue;  // own free port
    auto [it, fresh] = first.emplace(addr, &c);
    if (fresh) continue;
    for (const auto& f : listener_fields()) {
      if (f.name == "listen" || !c.settings.has(f.name) || !it->second->settings.has(f.name))
        continue;
      const std::string a = it->second->settings.str(f.name), b = c.settings.str(f.name);
      if (a != b)
        out.push_back(fmt::format(
            "connectors.{}.{} ({}) differs from connectors.{}.{} ({}) on {}: connectors sharing "
            "an address share its listener; declare it once",
            c.connector, f.name, b, it->second->connector, f.name, a, addr));
    }
  }
  return out;
}

}  // namespace omniroute::connectors::http
