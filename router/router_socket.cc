// The agent socket: the router's CURVE keys, the ZeroMQ ROUTER socket and its door
// (AgentGate), and the endpoint other instances send desks to.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "common/text_file.h"
#include "router/router.h"

namespace omniroute::router {
namespace {
// Raises the soft limit on open files to the hard limit; returns the soft limit now.
int64_t raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur == RLIM_INFINITY ? int64_t{1} << 20 : static_cast<int64_t>(rl.rlim_cur);
}

int open_fds() {
  std::error_code ec;
  int n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

// tcp://*:5570 or tcp://0.0.0.0:5570 -> tcp://<host name>:5570
std::string advertise(const std::string& bound) {
  for (const std::string wild : {"tcp://*:", "tcp://0.0.0.0:"}) {
    if (bound.rfind(wild, 0) == 0) {
      char host[256] = {0};
      if (::gethostname(host, sizeof host - 1) != 0) return bound;
      return fmt::format("tcp://{}:{}", host, bound.substr(wild.size()));
    }
  }
  return bound;
}
}  // namespace

// The router's CURVE key pair: from router.curve_secret_key, else <state.dir>/router.key
// (created on first start, owner-only), with the public half beside it in router.pub.
std::string Router::load_curve_keys(std::string& secret) {
  char pub[41] = {0};
  secret = current_->router.curve_secret_key;
  const std::string key_file = current_->state.dir + "/router.key";
  if (secret.empty() && std::filesystem::exists(key_file))
    secret = read_trimmed(key_file).value_or("");
  if (secret.empty()) {
    char sec[41] = {0};
    if (zmq_curve_keypair(pub, sec) != 0) return "CURVE: libzmq was built without CURVE";
    secret = sec;
    const mode_t old = ::umask(077);
    std::ofstream(key_file) << secret << "\n";
    ::umask(old);
    if (read_trimmed(key_file).value_or("") != secret) return "cannot write " + key_file;
    log_->info("generated the router's CURVE key pair in {}", key_file);
  }
  if (secret.size() != 40 || zmq_curve_public(pub, secret.c_str()) != 0)
    return "the router's CURVE secret key is not a 40-character Z85 key";
  curve_public_ = pub;
  std::ofstream(current_->state.dir + "/router.pub") << curve_public_ << "\n";
  return {};
}

std::string Router::bind_agent_socket() {
  const auto& rc = current_->router;
  // Peers must never take the descriptors the store needs: the soft limit goes up to the
  // hard one, and desk connections stop `fd_reserve` short of it.
  const int64_t limit = raise_fd_limit();
  const int64_t room = limit - open_fds() - rc.fd_reserve;
  const int cap = static_cast<int>(std::clamp<int64_t>(room, 1, rc.max_desk_connections));
  if (cap < rc.max_desk_connections)
    log_->warn("open-file limit {}: desk connections capped at {} (router.max_desk_connections {})",
               limit, cap, rc.max_desk_connections);
  socket_ = std::make_unique<zmq::socket_t>(zctx_, zmq::socket_type::router);
  socket_->set(zmq::sockopt::router_mandatory, 1);
  socket_->set(zmq::sockopt::linger, 0);
  // A desk that never reads holds at most this many frames; then frames to it are dropped
  // (it resyncs with Hello).
  socket_->set(zmq::sockopt::sndhwm, rc.desk_send_queue_frames);
  socket_->set(zmq::sockopt::rcvhwm, 1000);
  socket_->set(zmq::sockopt::maxmsgsize, rc.max_frame_bytes);
  socket_->set(zmq::sockopt::handshake_ivl, rc.handshake_timeout_ms);
  // Dead peers are found by TCP keepalive, not ZMTP heartbeats: libzmq 4.3.4 (and its
  // master) aborts in the heartbeat timer (stream_engine_base.cpp:331, !_io_error) when a
  // desk whose input queue was full disconnects before the router read it all, which a
  // busy router with a burst from a desk does (seen in the fault harness). The agent
  // protocol's own heartbeats say when a desk is offline.
  socket_->set(zmq::sockopt::tcp_keepalive, 1);
  socket_->set(zmq::sockopt::tcp_keepalive_idle, std::max(1, rc.heartbeat_timeout_ms / 1000));
  socket_->set(zmq::sockopt::tcp_keepalive_intvl, std::max(1, rc.heartbeat_interval_ms / 1000));
  socket_->set(zmq::sockopt::tcp_keepalive_cnt, 3);
  // A ZAP domain makes libzmq ask the handler about NULL-mechanism peers too (the cap).
  socket_->set(zmq::sockopt::zap_domain, "omniroute");
  if (rc.agent_auth == config::AgentAuth::kCurve) {
    std::string secret;
    if (std::string e = load_curve_keys(secret); !e.empty()) return e;
    socket_->set(zmq::sockopt::curve_server, 1);
    socket_->set(zmq::sockopt::curve_secretkey, secret);
  }
  gate_ = std::make_unique<AgentGate>(zctx_, rc.agent_auth, cap);
  gate_->set_keys(agent_keys(*current_));
  if (std::string e = gate_->start(*socket_); !e.empty()) return e;
  try {
    socket_->bind(rc.agent_endpoint);
  } catch (const zmq::error_t& e) {
    return fmt::format("bind {}: {}", rc.agent_endpoint, e.what());
  }
  endpoint_ = socket_->get(zmq::sockopt::last_endpoint);
  advertised_ = rc.advertised_endpoint.empty() ? advertise(endpoint_) : rc.advertised_endpoint;
  if (auto colon = endpoint_.rfind(':'); colon != std::string::npos) {
    try {
      gate_->set_port(std::stoi(endpoint_.substr(colon + 1)));
    } catch (const std::exception&) {
    }
  }
  log_->info("agent protocol on {} (auth {}{}, at most {} desk connections)", endpoint_,
             config::agent_auth_name(rc.agent_auth),
             curve_public_.empty() ? "" : ", server key " + curve_public_, cap);
  return {};
}

}  // namespace omniroute::router
