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
  // Thread-safe: the loop applies `next` at its next step (Engine::reconfigure) and calls
  // `done` with "" or why it was refused.
  void request_reload(std::shared_ptr<const config::Config> next,
                      std::function<void(const std::string&)> done = {});

 private:
  void step();
  bool last_step_full_ = false;
  void send_outbox(std::vector<OutboxRecord> records);

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
    std::vector<std::string> done;     // outbox keys Kafka acknowledged
    std::vector<OutboxRecord> failed;  // to produce again
    int fd = -1;
  };
  std::shared_ptr<Acks> acks_ = std::make_shared<Acks>();
  std::vector<OutboxRecord> unqueued_;  // produce() refused (queue full): retried next step
  struct Reload {
    std::mutex mu;
    std::shared_ptr<const config::Config> next;
    std::function<void(const std::string&)> done;
  } reload_;
};

}  // namespace omniroute::router
