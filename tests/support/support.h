// Helpers shared by tests: temp dirs, free ports, waiting, and config text.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace omniroute::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A TCP port that was free a moment ago on 127.0.0.1.
int free_port();
// True when something accepts TCP connections on 127.0.0.1:port.
bool port_open(int port);

// A TCP connection to 127.0.0.1:port from `source` (another 127.0.0.x address looks like
// another client); -1 when it cannot connect.
int connect_tcp(int port, const std::string& source = "127.0.0.1");
// Whether the peer closed `fd` (or reset it) within `ms`.
bool closed_within(int fd, int ms);

// Polls `pred` every 10 ms until true or `timeout`; returns its last value.
bool wait_until(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(20));

struct TestAgent {
  std::string id;
  int webhook_capacity = 3;
  bool supervisor = false;
};

// CURVE keys for tests (Z85): one router pair per test process, one pair per
// (workspace, agent), made on first use.
struct TestKeyPair {
  std::string public_key, secret_key;
};
const TestKeyPair& test_router_keys();
TestKeyPair test_agent_keys(const std::string& ws, const std::string& agent);

struct ConfigParams {
  std::string brokers = "embedded";
  std::string state_dir;
  std::string agent_endpoint = "tcp://127.0.0.1:*";
  // "curve" (the product's default; keys from test_router_keys / test_agent_keys),
  // "token" or "none" (written with insecure: true).
  std::string agent_auth = "curve";
  std::string extra_router_yaml;
  // With CURVE: write the agents' test keys as <keys_dir>/acme/<agent>.pub and .key and
  // name the folder in router.agent_keys_dir (as `omniroute agent keygen` would), instead
  // of inline curve_public_key.
  std::string keys_dir;  // more lines of the router: section (two-space indent)
  std::string webhook_listen = "127.0.0.1:0";
  std::string secret = "test-secret";
  std::string callback_url = "http://127.0.0.1:1/unused";
  std::vector<TestAgent> agents = {{"alice", 3}, {"bob", 3}};
  int heartbeat_interval_ms = 200;
  int heartbeat_timeout_ms = 800;
  int offer_timeout_ms = 60000;
  int publish_timeout_ms = 10000;
  int max_body_bytes = 65536;
  int partitions = 3;
};

std::string config_yaml(const ConfigParams& p);

// Path of the omniroute binary under test.
std::string omniroute_binary();

}  // namespace omniroute::testing
