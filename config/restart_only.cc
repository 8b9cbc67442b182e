// What a SIGHUP reload cannot change: settings the router reads once, at start.
#include "config/config.h"

namespace omniroute::config {

std::vector<std::string> restart_only_changes(const Config& running, const Config& next) {
  std::vector<std::string> fixed;
  const Router &a = running.router, &b = next.router;
  if (next.state.dir != running.state.dir) fixed.push_back("state.dir");
  if (next.all_topics() != running.all_topics()) fixed.push_back("kafka.topics");
  if (b.agent_endpoint != a.agent_endpoint) fixed.push_back("router.agent_endpoint");
  // Announced on omni.routers at each take-over from the value bound at start.
  if (b.advertised_endpoint != a.advertised_endpoint) fixed.push_back("router.advertised_endpoint");
  // The consumer group is joined at start with these.
  if (b.membership != a.membership) fixed.push_back("router.membership");
  if (b.session_timeout_ms != a.session_timeout_ms) fixed.push_back("router.session_timeout_ms");
  // The restore workers are made at start.
  if (b.restore_threads != a.restore_threads) fixed.push_back("router.restore_threads");
  // The socket's security and limits are set when it binds.
  if (b.agent_auth != a.agent_auth) fixed.push_back("router.agent_auth");
  if (b.curve_secret_key != a.curve_secret_key) fixed.push_back("router.curve_secret_key");
  if (b.max_frame_bytes != a.max_frame_bytes || b.max_desk_connections != a.max_desk_connections ||
      b.desk_send_queue_frames != a.desk_send_queue_frames ||
      b.handshake_timeout_ms != a.handshake_timeout_ms || b.fd_reserve != a.fd_reserve)
    fixed.push_back("router socket limits");
  return fixed;
}

}  // namespace omniroute::config
