#include "config/router_section.h"

#include <map>

#include <fmt/format.h>

#include "common/text_file.h"

namespace omniroute::config {

const char* agent_auth_name(AgentAuth a) {
  switch (a) {
    case AgentAuth::kCurve:
      return "curve";
    case AgentAuth::kToken:
      return "token";
    case AgentAuth::kNone:
      return "none";
  }
  return "?";
}

int64_t Kafka::max_message_bytes() const {
  auto it = properties.find("producer.message.max.bytes");
  if (it == properties.end()) it = properties.find("message.max.bytes");
  if (it == properties.end()) return 1000000;
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    return 1000000;
  }
}

bool loopback_endpoint(const std::string& e) {
  for (const char* p : {"tcp://127.", "tcp://localhost:", "tcp://[::1]:", "ipc://", "inproc://"})
    if (e.rfind(p, 0) == 0) return true;
  return false;
}

bool z85_key(const std::string& t) {
  static const std::string kAlphabet =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  return t.size() == 40 && t.find_first_not_of(kAlphabet) == std::string::npos;
}

void parse_router(MapReader& top, Config& c, Errors& errors) {
  MapReader r(top.child("router"), "router", errors);
  auto& R = c.router;
  R.agent_endpoint = r.str("agent_endpoint", R.agent_endpoint);
  const std::string auth = r.str("agent_auth", "curve");
  if (auth == "curve")
    R.agent_auth = AgentAuth::kCurve;
  else if (auth == "token")
    R.agent_auth = AgentAuth::kToken;
  else if (auth == "none")
    R.agent_auth = AgentAuth::kNone;
  else
    errors.add("router.agent_auth", "must be curve, token or none");
  R.insecure = r.boolean("insecure", false);
  if (R.agent_auth == AgentAuth::kNone) {
    if (!R.insecure)
      errors.add("router.agent_auth",
                 "none lets anyone act as any agent: it needs router.insecure: true");
    else if (!loopback_endpoint(R.agent_endpoint))
      errors.add("router.agent_auth",
                 "none is only allowed on a loopback agent_endpoint (tcp://127.0.0.1:...)");
  }
  R.curve_secret_key = r.has("curve_secret_key") ? r.secret("curve_secret_key", false) : "";
  if (r.has("curve_secret_key") && !R.curve_secret_key.empty() && !z85_key(R.curve_secret_key))
    errors.add("router.curve_secret_key",
               "must be a 40-character Z85 key (omniroute agent keygen)");
  R.agent_keys_dir = r.str("agent_keys_dir", "");
  {
    YAML::Node list = r.child("gateways");
    if (list.IsDefined() && !list.IsNull() && !list.IsSequence())
      errors.add(list, "router.gateways", "must be a list");
    for (size_t i = 0; list.IsSequence() && i < list.size(); ++i) {
      MapReader g(list[i], fmt::format("router.gateways[{}]", i), errors);
      if (!g.valid()) continue;
      Router::Gateway gw;
      gw.name = g.str("name", "", true);
      gw.public_key = g.secret("public_key", true);
      if (!gw.public_key.empty() && !z85_key(gw.public_key))
        errors.add(list[i], g.path_of("public_key"), "must be a 40-character Z85 public key");
      for (const auto& w : g.str_list("workspaces")) gw.workspaces.insert(w);
      if (gw.workspaces.empty())
        errors.add(list[i], g.path_of("workspaces"), "name the workspaces it may speak for");
      g.finish();
      R.gateways.push_back(std::move(gw));
    }
  }
  R.heartbeat_interval_ms =
      static_cast<int>(r.integer("heartbeat_interval_ms", R.heartbeat_interval_ms, 50, 60000));
  R.heartbeat_timeout_ms =
      static_cast<int>(r.integer("heartbeat_timeout_ms", R.heartbeat_timeout_ms, 150, 600000));
  if (R.heartbeat_timeout_ms < 2 * R.heartbeat_interval_ms) {
    errors.add("router.heartbeat_timeout_ms", "must be at least twice heartbeat_interval_ms");
  }
  R.offer_timeout_ms =
      static_cast<int>(r.integer("offer_timeout_ms", R.offer_timeout_ms, 100, 86400000));
  R.max_batch = static_cast<int>(r.integer("max_batch", R.max_batch, 1, 100000));
  {
    const std::string m = r.str("membership", "group");
    if (m == "group")
      R.membership = Membership::kGroup;
    else if (m == "single")
      R.membership = Membership::kSingle;
    else
      errors.add("router.membership", "must be group or single");
  }
  R.advertised_endpoint = r.str("advertised_endpoint", "");
  R.session_timeout_ms =
      static_cast<int>(r.integer("session_timeout_ms", R.session_timeout_ms, 1000, 300000));
  R.standby_replicas = static_cast<int>(r.integer("standby_replicas", R.standby_replicas, 0, 8));
  R.restore_threads = static_cast<int>(r.integer("restore_threads", R.restore_threads, 0, 64));
  R.max_history = static_cast<int>(r.integer("max_history", R.max_history, 1, 100000));
  R.max_trail = static_cast<int>(r.integer("max_trail", R.max_trail, 1, 100000));
  R.max_record_bytes = r.integer("max_record_bytes", R.max_record_bytes, 1024, int64_t{1} << 30);
  R.customer_history_conversations = static_cast<int>(
      r.integer("customer_history_conversations", R.customer_history_conversations, 0, 100));
  R.customer_history_messages = static_cast<int>(
      r.integer("customer_history_messages", R.customer_history_messages, 0, 1000));
  {
    MapReader t(r.child("offer_timeouts_ms"), "router.offer_timeouts_ms", errors);
    for (int ch = v1::Channel_MIN + 1; ch <= v1::Channel_MAX; ++ch) {
      auto channel = static_cast<v1::Channel>(ch);
      if (t.has(channel_name(channel)))
        R.offer_timeouts[channel] =
            static_cast<int>(t.integer(channel_name(channel), 0, 100, 86400000));
    }
    t.finish();
  }
  R.presence_grace_ms =
      r.integer("presence_grace_ms", R.presence_grace_ms, 0, int64_t{7} * 86400000);
  R.max_frame_bytes = r.integer("max_frame_bytes", R.max_frame_bytes, 4096, int64_t{1} << 30);
  R.handshake_timeout_ms =
      static_cast<int>(r.integer("handshake_timeout_ms", R.handshake_timeout_ms, 100, 600000));
  R.max_desk_connections =
      static_cast<int>(r.integer("max_desk_connections", R.max_desk_connections, 1, 1000000));
  R.desk_send_queue_frames =
      static_cast<int>(r.integer("desk_send_queue_frames", R.desk_send_queue_frames, 10, 1000000));
  R.fd_reserve = static_cast<int>(r.integer("fd_reserve", R.fd_reserve, 32, 100000));
  R.max_reply_bytes = r.integer("max_reply_bytes", R.max_reply_bytes, 1024, int64_t{1} << 30);
  R.max_welcomes_per_10s =
      static_cast<int>(r.integer("max_welcomes_per_10s", R.max_welcomes_per_10s, 1, 1000));
  r.finish();
  // A reply becomes one Kafka record with its envelope: it must fit with room to spare.
  const int64_t room = std::min(c.kafka.max_message_bytes(), R.max_record_bytes) - 16384;
  if (R.max_reply_bytes > room)
    errors.add(
        "router.max_reply_bytes",
        fmt::format("{} does not fit a Kafka record (at most {} with kafka "
                    "message.max.bytes {} and router.max_record_bytes {})",
                    R.max_reply_bytes, room, c.kafka.max_message_bytes(), R.max_record_bytes));
}

bool Router::gateway_allows(const std::string& key, const std::string& workspace) const {
  if (key.empty()) return false;
  for (const auto& g : gateways)
    if (g.public_key == key && g.workspaces.count(workspace)) return true;
  return false;
}

void check_agent_credentials(Config& c, Errors& errors, bool require) {
  std::map<std::string, std::string> owner;  // key -> "ws/agent"
  for (const auto& g : c.router.gateways) {
    owner.emplace(g.public_key, "gateway " + g.name);
    for (const auto& w : g.workspaces)
      if (!c.workspace(w))
        errors.add("router.gateways", "gateway " + g.name + ": no workspace '" + w + "'");
  }
  for (auto& ws : c.workspaces) {
    for (auto& a : ws.agents) {
      const std::string where = fmt::format("line {}: workspace {} agent {}", a.line, ws.id, a.id);
      if (a.curve_public_key.empty() && !c.router.agent_keys_dir.empty()) {
        const std::string path = c.router.agent_keys_dir + "/" + ws.id + "/" + a.id + ".pub";
        a.curve_public_key = read_trimmed(path).value_or("");
      }
      if (!a.curve_public_key.empty()) {
        if (!z85_key(a.curve_public_key)) {
          errors.add(where + ".curve_public_key", "must be a 40-character Z85 public key");
        } else if (auto [it, fresh] = owner.emplace(a.curve_public_key, ws.id + "/" + a.id);
                   !fresh) {
          errors.add(where + ".curve_public_key", "is also the key of " + it->second);
        }
      }
      if (!require) continue;
      if (c.router.agent_auth == AgentAuth::kCurve && a.curve_public_key.empty() &&
          !c.router.agent_keys_dir.empty()) {
        // The keys folder is the credential store: no file is no key (not issued yet, or
        // revoked by deleting it), and that agent cannot sign in until one is there.
        c.warnings.push_back(fmt::format(
            "{}: no key in {}/{}/{}.pub: this agent cannot sign in (omniroute agent keygen -w "
            "{} -a {} --keys-dir {})",
            where, c.router.agent_keys_dir, ws.id, a.id, ws.id, a.id, c.router.agent_keys_dir));
      } else if (c.router.agent_auth == AgentAuth::kCurve && a.curve_public_key.empty()) {
        errors.add(where, fmt::format("has no CURVE public key (curve_public_key, or "
                                      "router.agent_keys_dir with {}/{}.pub; make one with: "
                                      "omniroute agent keygen -w {} -a {} --keys-dir DIR)",
                                      ws.id, a.id, ws.id, a.id));
      } else if (c.router.agent_auth == AgentAuth::kToken && a.token.empty()) {
        errors.add(where, "has no token (router.agent_auth is token)");
      }
    }
  }
}

}  // namespace omniroute::config
