#include "router/agent_gate.h"

#include "ops/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace omniroute::router {
namespace {
constexpr const char* kMonitorEndpoint = "inproc://omniroute-agent-monitor";

std::string z85(const void* key32) {
  char out[41];
  zmq_z85_encode(out, static_cast<const uint8_t*>(key32), 32);
  return std::string(out, 40);
}

// The local TCP port of `fd`, or -1 (closed, not a socket).
int local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return -1;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return -1;
}
}  // namespace

AgentKeys agent_keys(const config::Config& cfg) {
  AgentKeys keys;
  for (const auto& ws : cfg.workspaces)
    for (const auto& a : ws.agents)
      if (!a.curve_public_key.empty()) keys.insert(a.curve_public_key);
  for (const auto& g : cfg.router.gateways) keys.insert(g.public_key);
  return keys;
}

AgentGate::AgentGate(zmq::context_t& ctx, config::AgentAuth auth, int max_connections)
    : ctx_(ctx),
      auth_(auth),
      max_connections_(max_connections),
      log_(log::get("router/gate")),
      keys_(std::make_shared<AgentKeys>()) {}

AgentGate::~AgentGate() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void AgentGate::set_keys(AgentKeys keys) {
  auto next = std::make_shared<const AgentKeys>(std::move(keys));
  std::lock_guard lock(mu_);
  keys_ = std::move(next);
}

std::string AgentGate::start(zmq::socket_t& sock) {
  try {
    zap_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::rep);
    zap_->set(zmq::sockopt::linger, 0);
    zap_->bind("inproc://zeromq.zap.01");
  } catch (const zmq::error_t& e) {
    return std::string("ZAP handler: ") + e.what();
  }
  const int events = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED;
  if (zmq_socket_monitor(sock.handle(), kMonitorEndpoint, events) != 0)
    return std::string("socket monitor: ") + zmq_strerror(zmq_errno());
  monitor_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::pair);
  monitor_->set(zmq::sockopt::rcvhwm, 0);
  monitor_->connect(kMonitorEndpoint);
  thread_ = std::thread([this] { loop(); });
  return {};
}

void AgentGate::loop() {
  while (!stop_) {
    zmq::pollitem_t items[] = {{zap_->handle(), 0, ZMQ_POLLIN, 0},
                               {monitor_->handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 2, std::chrono::milliseconds(100));
      if (items[0].revents & ZMQ_POLLIN) answer_zap();
      if (items[1].revents & ZMQ_POLLIN) on_monitor_event();
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      log_->warn("agent gate: {}", e.what());
    }
    // At most one line per 10 s, however hard a flood knocks.
    const auto now = std::chrono::steady_clock::now();
    if (const uint64_t r = refused_.load();
        r != refused_logged_ && now - last_log_ >= std::chrono::seconds(10)) {
      log_->warn(
          "{} desk connections refused in the last {} s ({} in all; cap {}, unknown keys "
          "or more than the cap)",
          r - refused_logged_,
          std::chrono::duration_cast<std::chrono::seconds>(now - last_log_).count(), r,
          max_connections_);
      refused_logged_ = r;
      last_log_ = now;
    }
  }
  zmq_socket_monitor(nullptr, nullptr, 0);
  monitor_.reset();
  zap_.reset();
}

// ZAP (RFC 27): version, request id, domain, address, identity, mechanism, credentials.
void AgentGate::answer_zap() {
  std::vector<zmq::message_t> req;
  do {
    zmq::message_t part;
    if (!zap_->recv(part, zmq::recv_flags::dontwait)) break;
    req.push_back(std::move(part));
  } while (req.back().more());
  if (req.size() < 6) return;  // not a ZAP request; REP needs no answer to nothing
  const std::string mechanism = req[5].to_string();
  std::string status = "200", text = "OK", user;
  if (static_cast<int>(live_count_.load()) > max_connections_) {
    status = "300";
    text = "too many desk connections";
  } else if (auth_ == config::AgentAuth::kCurve) {
    if (mechanism != "CURVE" || req.size() < 7 || req[6].size() != 32) {
      status = "400";
      text = "CURVE required";
    } else {
      user = z85(req[6].data());
      std::shared_ptr<const AgentKeys> keys;
      {
        std::lock_guard lock(mu_);
        keys = keys_;
      }
      if (!keys->count(user)) {
        status = "400";
        text = "unknown key";
        user.clear();
      }
    }
  }
  if (status != "200") {
    refused_++;
    const char* reason = status == "300"         ? "connection_cap"
                         : text == "unknown key" ? "unknown_key"
                                                 : "curve_required";
    ops::metrics().auth_rejected.Add({{"surface", "desk"}, {"reason", reason}}).Increment();
  }
  const std::string version = "1.0";
  zap_->send(zmq::buffer(version), zmq::send_flags::sndmore);
  zap_->send(req[1], zmq::send_flags::sndmore);
  zap_->send(zmq::buffer(status), zmq::send_flags::sndmore);
  zap_->send(zmq::buffer(text), zmq::send_flags::sndmore);
  zap_->send(zmq::buffer(user), zmq::send_flags::sndmore);
  zap_->send(zmq::message_t(), zmq::send_flags::none);
}

// Monitor events (libzmq 4.x): [u16 event, u32 value (the fd)] then the endpoint.
void AgentGate::on_monitor_event() {
  for (int n = 0; n < 1024; ++n) {
    zmq::message_t ev, addr;
    if (!monitor_->recv(ev, zmq::recv_flags::dontwait)) return;
    if (ev.more()) (void)monitor_->recv(addr, zmq::recv_flags::none);
    if (ev.size() < 6) continue;
    uint16_t event = 0;
    uint32_t value = 0;
    std::memcpy(&event, ev.data(), 2);
    std::memcpy(&value, static_cast<const char*>(ev.data()) + 2, 4);
    const int fd = static_cast<int>(value);
    if (event == ZMQ_EVENT_DISCONNECTED) {
      live_fds_.erase(fd);
    } else if (event == ZMQ_EVENT_ACCEPTED) {
      live_fds_.insert(fd);
      if (static_cast<int>(live_fds_.size()) > max_connections_) {
        // Forget entries whose events were lost: fds no longer on our port.
        for (auto it = live_fds_.begin(); it != live_fds_.end();)
          it = local_port(*it) == port_.load() ? std::next(it) : live_fds_.erase(it);
      }
      if (static_cast<int>(live_fds_.size()) > max_connections_ && local_port(fd) == port_.load()) {
        // libzmq owns the fd: shutting it down (not closing it) makes libzmq see the end
        // of the connection and close it itself.
        ::shutdown(fd, SHUT_RDWR);
        live_fds_.erase(fd);
        refused_++;
        ops::metrics()
            .auth_rejected.Add({{"surface", "desk"}, {"reason", "connection_cap"}})
            .Increment();
      }
    }
    live_count_ = live_fds_.size();
  }
}

}  // namespace omniroute::router
