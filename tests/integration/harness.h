// An in-process omniroute on real components: the embedded Kafka cluster over TCP, the
// router on a temp-dir RocksDB, the webhook connector on a free port, desks over
// ZeroMQ, and a callback receiver standing in for the integrator.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/stack.h"
#include "connectors/http/client.h"
#include "connectors/webhook/callback_receiver.h"
#include "desk/desk.h"
#include "kafka/kafka.h"
#include "router/router.h"
#include "tests/support/support.h"

namespace omniroute::testing {

// A desk that records what it sees; optionally accepts offers and answers assignments.
class RecordingDesk {
 public:
  struct Behaviour {
    bool accept = true;
    bool reply = true;
    bool freeze_on_offer = false;  // stop all traffic on the first offer (a hung desk)
  };
  // To the router's agent endpoint, with CURVE when the router has a key (the agent's
  // test key pair, testing::test_agent_keys).
  RecordingDesk(const router::Router& r, const std::string& ws, const std::string& agent,
                Behaviour b);
  // Without CURVE (routers with agent_auth none or token).
  RecordingDesk(const std::string& endpoint, const std::string& ws, const std::string& agent,
                Behaviour b, desk::Options extra = {});
  ~RecordingDesk() { desk_->stop(); }
  desk::Desk& desk() { return *desk_; }

  std::vector<v1::Offer> offers() const;
  std::vector<v1::Assignment> assignments() const;
  std::vector<v1::DeliveryUpdate> deliveries() const;
  std::vector<v1::ReplyAck> acks() const;
  std::vector<v1::Typing> typing() const;
  std::vector<v1::CustomerMessage> messages() const;  // after the assignment (and ratings)

 private:
  mutable std::mutex mu_;
  std::vector<v1::Offer> offers_;
  std::vector<v1::Assignment> assignments_;
  std::vector<v1::DeliveryUpdate> deliveries_;
  std::vector<v1::ReplyAck> acks_;
  std::vector<v1::Typing> typing_;
  std::vector<v1::CustomerMessage> messages_;
  std::unique_ptr<desk::Desk> desk_;
};

// Desk options for a router configured by testing::config_yaml with CURVE (a child
// process): the test router key and the agent's test key pair.
desk::Options test_curve_options(const std::string& ws, const std::string& agent);

// Reads the records of `topic` from the beginning: until `expect` records arrived (then
// 300 ms more, to catch any extra) or `wait_ms` passed.
// An HTTP request as an operator's tools make it (5 s timeout, up to 4 MB of answer).
connectors::http::ClientResponse http_get(const std::string& url,
                                          std::vector<std::string> headers = {},
                                          const std::string& method = "GET");
// The value of the first sample in a Prometheus text exposition whose line starts with
// `series` (name and labels, as exposed), or -1.
double metric_sample(const std::string& text, const std::string& series);

std::vector<std::string> read_topic(const std::string& brokers, const std::string& topic,
                                    int partitions, size_t expect = SIZE_MAX, int wait_ms = 10000);

// A whole stack (embedded Kafka, router, the named connectors) from `yaml`, and a desk for
// acme/alice that accepts and replies, connected (unless !with_alice): the start-up every
// loop test shares.
// `stack` is null (and the test failed) when something did not start.
struct RunningStack {
  std::unique_ptr<cli::Stack> stack;
  std::unique_ptr<RecordingDesk> alice;
};
RunningStack start_stack(const std::string& yaml, const std::vector<std::string>& connectors,
                         bool with_alice = true);

class StackFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  virtual void adjust(ConfigParams&) {}

  std::string url(const std::string& ws = "acme", const std::string& inbox = "api") const;
  // A signed canonical message; returns the HTTP status.
  int post(const std::string& external_id, const std::string& customer, const std::string& text,
           std::string* response = nullptr);

  TempDir dir_;
  ConfigParams params_;
  std::unique_ptr<connectors::webhook::CallbackReceiver> receiver_;
  std::unique_ptr<cli::Stack> stack_;
  std::string base_;
};

}  // namespace omniroute::testing
