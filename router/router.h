// The router runtime: one event loop that waits on the Kafka consumer queue, the
// ZeroMQ ROUTER socket for desks, producer acknowledgements and timers; applies what
// arrived to the Engine in one Store::Batch; commits it; then sends what the step
// produced (desk frames, outbox records). See docs/architecture.md.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "config/config.h"
#include "kafka/kafka.h"
#include "router/agent_gate.h"
#include "router/engine.h"
#include "router/store.h"

namespace omniroute::router {

class Router {
 public:
  Router(const config::Config& cfg, kafka::ClientConfig kafka_cfg);
  ~Router();

  // Opens state, re-sends the outbox, assigns partitions at stored offsets, binds the
  // agent endpoint. "" or an error text.
  std::string start();
  // Runs the event loop on this thread until `stop` becomes true.
  void run(const std::atomic<bool>& stop);
  // The endpoint desks connect to (resolved when the config asks for port 0 / "*").
  const std::string& agent_endpoint() const { return endpoint_; }
  const Engine& engine() const { return *engine_; }
  // The router's CURVE public key (Z85), which desks need to connect; "" without CURVE.
  const std::string& curve_public_key() const { return curve_public_; }
  const AgentGate* gate() const { return gate_.get(); }
  // Thread-safe: the loop applies `next` at its next step (Engine::reconfigure) and calls
  // `done` with "" or why it was refused.
  void request_reload(std::shared_ptr<const config::Config> next,
                      std::function<void(const std::string&)> done = {});

 private:
  void step();
  void commit_or_exit(Store::Batch& b);
  // Gauges for /metrics: engine gauges, outbox depth, consumer lag (about once a second).
  void report_metrics();
  int64_t in_flight_ = 0;  // outbox records produced, not yet acknowledged or failed
  bool last_step_full_ = false;
  // `attempts`: how often these records failed before (0 = first try).
  void send_outbox(std::vector<OutboxRecord> records, int attempts = 0);
  std::string bind_agent_socket();
  std::string load_curve_keys(std::string& secret);
  // Records to produce again once `due`: a failing produce backs off, never spins.
  void retry_later(OutboxRecord r, int attempts);
  int64_t next_retry_ms() const;

  const config::Config& cfg_;
  kafka::ClientConfig kafka_cfg_;
  log::Logger log_;
  SystemClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Engine> engine_;
  std::shared_ptr<kafka::Producer> producer_;
  std::unique_ptr<kafka::Consumer> consumer_;
  zmq::context_t zctx_;
  std::unique_ptr<zmq::socket_t> socket_;
  std::string endpoint_;
  int kafka_fd_ = -1;       // read end, polled
  int kafka_wake_fd_ = -1;  // write end, given to librdkafka
  int ack_fd_ = -1;

  // Filled by producer completions (another thread), drained by the loop.
  struct Acks {
    std::mutex mu;
    std::vector<std::string> done;  // outbox keys Kafka acknowledged
    struct Failed {
      OutboxRecord record;
      rd_kafka_resp_err_t code;
      int attempts;
    };
    std::vector<Failed> failed;
    int fd = -1;
  };
  std::shared_ptr<Acks> acks_ = std::make_shared<Acks>();
  struct Retry {
    OutboxRecord record;
    int attempts = 0;
    int64_t due_ms = 0;
  };
  std::vector<Retry> retries_;
  // Records Kafka refused for good, with why: to the DLQ at the next step.
  std::vector<std::pair<OutboxRecord, std::string>> refused_;
  std::unique_ptr<AgentGate> gate_;
  std::string curve_public_;
  struct Reload {
    std::mutex mu;
    std::shared_ptr<const config::Config> next;
    std::function<void(const std::string&)> done;
  } reload_;
};

}  // namespace omniroute::router
