#include "tests/support/support.h"

#include "common/free_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <random>

#include <zmq.h>

#include <fmt/format.h>

namespace omniroute::testing {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "omniroute-test-XXXXXX").string();
  char* p = mkdtemp(tmpl.data());
  path_ = p ? p : tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

int free_port() {
  return free_tcp_port();
}

int connect_tcp(int port, const std::string& source) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in src{};
  src.sin_family = AF_INET;
  ::inet_pton(AF_INET, source.c_str(), &src.sin_addr);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  dst.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool closed_within(int fd, int ms) {
  timeval tv{0, 50 * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[256];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < deadline) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return true;
  }
  return false;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

const TestKeyPair& test_router_keys() {
  static const TestKeyPair pair = [] {
    TestKeyPair p;
    char pub[41] = {0}, sec[41] = {0};
    zmq_curve_keypair(pub, sec);
    p.public_key = pub;
    p.secret_key = sec;
    return p;
  }();
  return pair;
}

TestKeyPair test_agent_keys(const std::string& ws, const std::string& agent) {
  static std::mutex mu;
  static std::map<std::string, TestKeyPair> pairs;
  std::lock_guard lock(mu);
  auto& p = pairs[ws + "/" + agent];
  if (p.public_key.empty()) {
    char pub[41] = {0}, sec[41] = {0};
    zmq_curve_keypair(pub, sec);
    p.public_key = pub;
    p.secret_key = sec;
  }
  return p;
}

std::string config_yaml(const ConfigParams& p) {
  std::string agents;
  const bool curve = p.agent_auth == "curve";
  for (const auto& a : p.agents) {
    agents += fmt::format(
        "      - id: {}\n        name: Agent {}\n        queues: [general]\n        capacity: "
        "{{webhook: {}}}\n",
        a.id, a.id, a.webhook_capacity);
    if (a.supervisor) agents += "        supervisor: true\n";
    if (curve && p.keys_dir.empty())
      agents += fmt::format("        curve_public_key: \"{}\"\n",
                            test_agent_keys("acme", a.id).public_key);
    if (curve && !p.keys_dir.empty()) {
      std::filesystem::create_directories(p.keys_dir + "/acme");
      const auto pair = test_agent_keys("acme", a.id);
      std::ofstream(p.keys_dir + "/acme/" + a.id + ".pub") << pair.public_key << "\n";
      std::ofstream(p.keys_dir + "/acme/" + a.id + ".key") << pair.secret_key << "\n";
    }
    if (p.agent_auth == "token") agents += fmt::format("        token: \"token-{}\"\n", a.id);
  }
  std::string auth =
      (curve ? fmt::format("  agent_auth: curve\n  curve_secret_key: \"{}\"\n",
                           test_router_keys().secret_key)
             : fmt::format("  agent_auth: {}\n  insecure: {}\n", p.agent_auth,
                           p.agent_auth == "none" ? "true" : "false")) +
      p.extra_router_yaml +
      (p.keys_dir.empty() ? "" : fmt::format("  agent_keys_dir: \"{}\"\n", p.keys_dir));
  return fmt::format(R"(log_level: warn
kafka:
  brokers: "{}"
  partitions: {}
  replication_factor: 1
  embedded_brokers: 3
state:
  dir: "{}"
router:
  agent_endpoint: "{}"
{}  heartbeat_interval_ms: {}
  heartbeat_timeout_ms: {}
  offer_timeout_ms: {}
connectors:
  webhook:
    listen: "{}"
    max_body_bytes: {}
    publish_timeout_ms: {}
    initial_backoff_ms: 20
    max_backoff_ms: 200
    max_attempts: 5
    delivery_timeout_ms: 2000
workspaces:
  - id: acme
    queues:
      - id: general
    inboxes:
      - id: api
        channel: webhook
        queue: general
        settings:
          secret: "{}"
          callback_url: "{}"
    agents:
{})",
                     p.brokers, p.partitions, p.state_dir, p.agent_endpoint, auth,
                     p.heartbeat_interval_ms, p.heartbeat_timeout_ms, p.offer_timeout_ms,
                     p.webhook_listen, p.max_body_bytes, p.publish_timeout_ms, p.secret,
                     p.callback_url, agents);
}

std::string omniroute_binary() {
  if (const char* env = std::getenv("OMNIROUTE_BINARY")) return env;
  return OMNIROUTE_BINARY_PATH;
}

bool port_open(int port) {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(s);
  return ok;
}

}  // namespace omniroute::testing
