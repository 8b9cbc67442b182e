#include "config/config.h"

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "config/yaml_reader.h"

namespace omniroute::config {
namespace {

const std::regex kIdPattern("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$");

std::string id_field(MapReader& m, const std::string& key, Errors& errors, const YAML::Node& at) {
  std::string v = m.str(key, "", true);
  if (!v.empty() && !std::regex_match(v, kIdPattern)) {
    errors.add(at, m.path_of(key),
               "must be 1-64 characters of letters, digits, '_', '.', '-', starting with a "
               "letter or digit");
  }
  return v;
}

template <typename Fn>
void each_item(MapReader& parent, const std::string& key, Errors& errors, Fn fn) {
  YAML::Node list = parent.child(key);
  if (!list.IsDefined() || list.IsNull()) return;
  if (!list.IsSequence()) {
    errors.add(list, parent.path_of(key), "must be a list");
    return;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    std::string path = fmt::format("{}[{}]", parent.path_of(key), i);
    MapReader item(list[i], path, errors);
    if (!item.valid()) continue;
    fn(item, list[i], path);
    item.finish();
  }
}

void parse_kafka(MapReader& top, Config& c, Errors& errors) {
  MapReader k(top.child("kafka"), "kafka", errors);
  c.kafka.brokers = k.str("brokers", "embedded");
  if (c.kafka.brokers.empty()) errors.add("kafka.brokers", "must not be empty");
  c.kafka.embedded_brokers = static_cast<int>(k.integer("embedded_brokers", 3, 1, 9));
  c.kafka.partitions = static_cast<int>(k.integer("partitions", 6, 1, 1024));
  c.kafka.replication_factor = static_cast<int>(k.integer("replication_factor", 3, 1, 9));
  if (c.kafka.embedded() && c.kafka.replication_factor > c.kafka.embedded_brokers) {
    errors.add("kafka.replication_factor", "must not exceed kafka.embedded_brokers");
  }
  c.kafka.properties = k.str_map("properties");
  {
    MapReader t(k.child("topics"), "kafka.topics", errors);
    c.kafka.topics.inbound = t.str("inbound", c.kafka.topics.inbound);
    c.kafka.topics.outbound_prefix = t.str("outbound_prefix", c.kafka.topics.outbound_prefix);
    c.kafka.topics.routing = t.str("routing", c.kafka.topics.routing);
    c.kafka.topics.dlq = t.str("dlq", c.kafka.topics.dlq);
    t.finish();
  }
  k.finish();
}

void parse_router(MapReader& top, Config& c, Errors& errors) {
  MapReader r(top.child("router"), "router", errors);
  c.router.agent_endpoint = r.str("agent_endpoint", c.router.agent_endpoint);
  c.router.heartbeat_interval_ms = static_cast<int>(
      r.integer("heartbeat_interval_ms", c.router.heartbeat_interval_ms, 50, 60000));
  c.router.heartbeat_timeout_ms = static_cast<int>(
      r.integer("heartbeat_timeout_ms", c.router.heartbeat_timeout_ms, 150, 600000));
  if (c.router.heartbeat_timeout_ms < 2 * c.router.heartbeat_interval_ms) {
    errors.add("router.heartbeat_timeout_ms", "must be at least twice heartbeat_interval_ms");
  }
  c.router.offer_timeout_ms =
      static_cast<int>(r.integer("offer_timeout_ms", c.router.offer_timeout_ms, 100, 86400000));
  c.router.max_batch = static_cast<int>(r.integer("max_batch", c.router.max_batch, 1, 100000));
  c.router.max_history =
      static_cast<int>(r.integer("max_history", c.router.max_history, 1, 100000));
  c.router.max_record_bytes =
      r.integer("max_record_bytes", c.router.max_record_bytes, 1024, int64_t{1} << 30);
  r.finish();
}

void parse_workspaces(MapReader& top, Config& c, Errors& errors) {
  std::set<std::string> ws_ids;
  each_item(
      top, "workspaces", errors, [&](MapReader& w, const YAML::Node& wn, const std::string& wpath) {
        Workspace ws;
        ws.id = id_field(w, "id", errors, wn);
        if (!ws.id.empty() && !ws_ids.insert(ws.id).second)
          errors.add(wn, wpath + ".id", "duplicate workspace id " + ws.id);
        ws.name = w.str("name", ws.id);
        std::set<std::string> queue_ids;
        each_item(w, "queues", errors,
                  [&](MapReader& q, const YAML::Node& qn, const std::string& qpath) {
                    Queue queue;
                    queue.id = id_field(q, "id", errors, qn);
                    if (!queue.id.empty() && !queue_ids.insert(queue.id).second)
                      errors.add(qn, qpath + ".id", "duplicate queue id " + queue.id);
                    ws.queues.push_back(queue);
                  });
        std::set<std::string> inbox_ids;
        each_item(w, "inboxes", errors,
                  [&](MapReader& i, const YAML::Node& in, const std::string& ipath) {
                    Inbox inbox;
                    inbox.id = id_field(i, "id", errors, in);
                    if (!inbox.id.empty() && !inbox_ids.insert(inbox.id).second)
                      errors.add(in, ipath + ".id", "duplicate inbox id " + inbox.id);
                    std::string ch = i.str("channel", "", true);
                    if (!ch.empty()) {
                      auto parsed = parse_channel(ch);
                      if (!parsed)
                        errors.add(in, ipath + ".channel", "unknown channel '" + ch + "'");
                      else
                        inbox.channel = *parsed;
                    }
                    inbox.queue = i.str("queue", "", true);
                    if (!inbox.queue.empty() && !queue_ids.count(inbox.queue)) {
                      errors.add(in, ipath + ".queue",
                                 "no queue '" + inbox.queue + "' in this workspace");
                    }
                    inbox.settings = i.child("settings");
                    inbox.line = in.Mark().line + 1;
                    ws.inboxes.push_back(inbox);
                  });
        std::set<std::string> agent_ids;
        each_item(w, "agents", errors,
                  [&](MapReader& a, const YAML::Node& an, const std::string& apath) {
                    Agent agent;
                    agent.id = id_field(a, "id", errors, an);
                    if (!agent.id.empty() && !agent_ids.insert(agent.id).second)
                      errors.add(an, apath + ".id", "duplicate agent id " + agent.id);
                    agent.name = a.str("name", agent.id);
                    agent.token = a.secret("token", false);
                    agent.queues = a.str_list("queues");
                    for (const auto& q : agent.queues) {
                      if (!queue_ids.count(q))
                        errors.add(an, apath + ".queues", "no queue '" + q + "' in this workspace");
                    }
                    MapReader cap(a.child("capacity"), apath + ".capacity", errors);
                    for (int ch = v1::Channel_MIN + 1; ch <= v1::Channel_MAX; ++ch) {
                      auto channel = static_cast<v1::Channel>(ch);
                      int64_t n = cap.integer(channel_name(channel), 0, 0, 1000);
                      if (n > 0) agent.capacity[channel] = static_cast<int>(n);
                    }
                    cap.finish();
                    ws.agents.push_back(agent);
                  });
        c.workspaces.push_back(std::move(ws));
      });
}

}  // namespace

const Inbox* Workspace::inbox(const std::string& inbox_id) const {
  for (const auto& i : inboxes)
    if (i.id == inbox_id) return &i;
  return nullptr;
}

const Agent* Workspace::agent(const std::string& agent_id) const {
  for (const auto& a : agents)
    if (a.id == agent_id) return &a;
  return nullptr;
}

const Workspace* Config::workspace(const std::string& id) const {
  for (const auto& w : workspaces)
    if (w.id == id) return &w;
  return nullptr;
}

std::vector<std::string> Config::all_topics() const {
  std::vector<std::string> t{kafka.topics.inbound, kafka.topics.routing, kafka.topics.dlq};
  for (int c = v1::Channel_MIN + 1; c <= v1::Channel_MAX; ++c) {
    t.push_back(kafka.topics.outbound(static_cast<v1::Channel>(c)));
  }
  return t;
}

std::optional<Config> parse(const std::string& yaml_text, std::vector<std::string>& out_errors) {
  Errors errors;
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    out_errors.push_back(fmt::format("line {}: YAML syntax error: {}", e.mark.line + 1, e.msg));
    return std::nullopt;
  }
  Config c;
  MapReader top(root, "", errors);
  parse_kafka(top, c, errors);
  {
    MapReader s(top.child("state"), "state", errors);
    c.state.dir = s.str("dir", c.state.dir);
    c.state.sync = s.boolean("sync", c.state.sync);
    s.finish();
  }
  parse_router(top, c, errors);
  c.log_level = top.str("log_level", "info");
  static const std::set<std::string> kLevels{"trace", "debug", "info", "warn", "error", "off"};
  if (!kLevels.count(c.log_level))
    errors.add("log_level", "must be one of trace, debug, info, warn, error, off");
  {
    YAML::Node conns = top.child("connectors");
    if (conns.IsDefined() && !conns.IsNull()) {
      if (!conns.IsMap()) {
        errors.add(conns, "connectors", "must be a map of connector name to settings");
      } else {
        for (const auto& kv : conns) {
          std::string name = kv.first.as<std::string>();
          Connector conn;
          conn.line = kv.first.Mark().line + 1;
          if (kv.second.IsMap() && kv.second["enabled"].IsDefined()) {
            try {
              conn.enabled = kv.second["enabled"].as<bool>();
            } catch (const YAML::Exception&) {
              errors.add(kv.second["enabled"], "connectors." + name + ".enabled",
                         "must be true or false");
            }
            YAML::Node copy = YAML::Clone(kv.second);
            copy.remove("enabled");
            conn.settings = copy;
          } else {
            conn.settings = kv.second;
          }
          c.connectors[name] = conn;
        }
      }
    }
  }
  parse_workspaces(top, c, errors);
  top.finish();
  if (!errors.empty()) {
    out_errors = errors.items();
    return std::nullopt;
  }
  return c;
}

std::optional<Config> load_file(const std::string& path, std::vector<std::string>& errors) {
  std::ifstream in(path);
  if (!in) {
    errors.push_back("cannot read config file " + path);
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), errors);
}

}  // namespace omniroute::config
