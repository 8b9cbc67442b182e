#include "router/router.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>

namespace omniroute::router {
namespace {
void drain_fd(int fd) {
  char buf[256];
  while (::read(fd, buf, sizeof buf) > 0) {
  }
}
void poke_fd(int fd) {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(fd, &one, sizeof one);
}
}  // namespace

Router::Router(const config::Config& cfg, kafka::ClientConfig kafka_cfg)
    : cfg_(cfg), kafka_cfg_(std::move(kafka_cfg)), log_(log::get("router")) {}

Router::~Router() {
  if (consumer_) consumer_->close();
  consumer_.reset();
  producer_.reset();  // flushes: every acknowledged record is deleted on the next start
  socket_.reset();
  if (kafka_fd_ >= 0) ::close(kafka_fd_);
  if (kafka_wake_fd_ >= 0) ::close(kafka_wake_fd_);
  if (ack_fd_ >= 0) ::close(ack_fd_);
}

std::string Router::start() {
  std::string err;
  store_ = Store::open(cfg_.state.dir, cfg_.state.sync, err);
  if (!store_) return "state: " + err;
  engine_ = std::make_unique<Engine>(cfg_, *store_, clock_);
  engine_->load();

  // Outbox records wait until Kafka has them: no delivery timeout.
  producer_ = std::shared_ptr<kafka::Producer>(
      kafka::Producer::create(kafka_cfg_, err, {{"message.timeout.ms", "0"}}));
  if (!producer_) return "kafka producer: " + err;
  // librdkafka writes one byte per wakeup: a pipe, not an eventfd (which needs 8).
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) != 0) return "pipe: cannot create";
  kafka_fd_ = pipe_fds[0];
  kafka_wake_fd_ = pipe_fds[1];
  ack_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  acks_->fd = ack_fd_;

  auto pending = engine_->pending_outbox();
  if (!pending.empty())
    log_->info("re-sending {} outbox records from the previous run", pending.size());
  send_outbox(std::move(pending));

  // Prefetch is bounded: librdkafka's defaults (100,000 messages per partition) would hold
  // hundreds of MB of records the router will read anyway.
  std::map<std::string, std::string> tuning{{"queued.min.messages", "20000"},
                                            {"queued.max.messages.kbytes", "32768"}};
  for (const auto& [k, v] : kafka_cfg_.properties) tuning.erase(k);  // the operator's word wins
  consumer_ = kafka::Consumer::create(kafka_cfg_, "omniroute-router", err, tuning);
  if (!consumer_) return "kafka consumer: " + err;
  const std::string& topic = cfg_.kafka.topics.inbound;
  int partitions = -1;
  for (int attempt = 0; attempt < 60 && partitions <= 0; ++attempt) {
    partitions = consumer_->partition_count(topic, 1000);
    if (partitions <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (partitions <= 0) return "kafka: topic " + topic + " not found";
  auto offsets = engine_->stored_offsets(topic);
  std::vector<kafka::PartitionOffset> assignment;
  for (int32_t p = 0; p < partitions; ++p) {
    auto it = offsets.find(p);
    assignment.push_back({topic, p, it == offsets.end() ? RD_KAFKA_OFFSET_BEGINNING : it->second});
  }
  if (!consumer_->assign(assignment, err)) return "kafka assign: " + err;
  consumer_->enable_wakeup_fd(kafka_wake_fd_);
  log_->info("consuming {} ({} partitions) from stored offsets", topic, partitions);

  socket_ = std::make_unique<zmq::socket_t>(zctx_, zmq::socket_type::router);
  socket_->set(zmq::sockopt::router_mandatory, 1);
  socket_->set(zmq::sockopt::linger, 0);
  socket_->set(zmq::sockopt::sndhwm, 100000);
  socket_->set(zmq::sockopt::rcvhwm, 100000);
  try {
    socket_->bind(cfg_.router.agent_endpoint);
  } catch (const zmq::error_t& e) {
    return fmt::format("bind {}: {}", cfg_.router.agent_endpoint, e.what());
  }
  endpoint_ = socket_->get(zmq::sockopt::last_endpoint);
  log_->info("agent protocol on {}", endpoint_);
  return {};
}

void Router::send_outbox(std::vector<OutboxRecord> records) {
  for (auto& r : records) {
    std::string err;
    auto acks = acks_;
    OutboxRecord copy = r;
    bool queued = producer_->produce(
        r.entry.topic(), r.entry.key(), r.entry.value(),
        [acks, copy = std::move(copy)](const kafka::DeliveryReport& rep) mutable {
          std::lock_guard lock(acks->mu);
          if (rep.ok())
            acks->done.push_back(copy.key);
          else
            acks->failed.push_back(std::move(copy));
          poke_fd(acks->fd);
        },
        &err);
    if (!queued) unqueued_.push_back(std::move(r));
  }
}

void Router::run(const std::atomic<bool>& stop) {
  bool more = true;  // drain before the first wait
  while (!stop.load()) {
    int64_t timeout = 100;
    const int64_t next = engine_->next_timer_ms();
    if (next != INT64_MAX) timeout = std::clamp<int64_t>(next - clock_.now_ms(), 0, 100);
    if (more || !unqueued_.empty()) timeout = 0;
    zmq::pollitem_t items[] = {{socket_->handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, kafka_fd_, ZMQ_POLLIN, 0},
                               {nullptr, ack_fd_, ZMQ_POLLIN, 0}};
    zmq::poll(items, 3, std::chrono::milliseconds(timeout));
    if (items[1].revents & ZMQ_POLLIN) drain_fd(kafka_fd_);
    if (items[2].revents & ZMQ_POLLIN) drain_fd(ack_fd_);
    step();
    // librdkafka signals the fd only when its queue turns non-empty, so keep stepping
    // while a step filled its batch.
    more = last_step_full_;
  }
}

void Router::request_reload(std::shared_ptr<const config::Config> next,
                            std::function<void(const std::string&)> done) {
  std::lock_guard lock(reload_.mu);
  reload_.next = std::move(next);
  reload_.done = std::move(done);
}

void Router::step() {
  Store::Batch b = store_->begin();
  {
    std::shared_ptr<const config::Config> next;
    std::function<void(const std::string&)> done;
    {
      std::lock_guard lock(reload_.mu);
      next = std::move(reload_.next);
      done = std::move(reload_.done);
      reload_.next.reset();
    }
    if (next) {
      std::string err = engine_->reconfigure(b, std::move(next));
      if (err.empty())
        log_->info("configuration reloaded");
      else
        log_->error("configuration reload refused, the running one stays: {}", err);
      if (done) done(err);
    }
  }
  const size_t max = static_cast<size_t>(engine_->config().router.max_batch);
  last_step_full_ = false;

  auto msgs = consumer_->poll(max, 0);
  if (msgs.size() == max) last_step_full_ = true;
  for (auto& m : msgs) {
    if (m.is_error()) {
      if (!m.is_eof()) log_->warn("consume: {}", m.error());
      continue;
    }
    engine_->apply_record(b, m.topic(), m.partition(), m.offset(), m.key(), m.value());
  }

  for (size_t n = 0; n < max; ++n) {
    zmq::message_t rid, body;
    if (!socket_->recv(rid, zmq::recv_flags::dontwait)) break;
    if (!rid.more()) continue;
    if (!socket_->recv(body, zmq::recv_flags::dontwait)) break;
    while (body.more()) {  // a desk must send one frame; extra parts are dropped
      zmq::message_t extra;
      if (!socket_->recv(extra, zmq::recv_flags::dontwait)) break;
      body.rebuild(0);
      if (!extra.more()) break;
    }
    engine_->apply_desk(b, rid.to_string(), body.to_string_view());
    if (n + 1 == max) last_step_full_ = true;
  }

  std::vector<std::string> done;
  std::vector<OutboxRecord> failed;
  {
    std::lock_guard lock(acks_->mu);
    done.swap(acks_->done);
    failed.swap(acks_->failed);
  }
  for (const auto& k : done) engine_->outbox_done(b, k);

  engine_->apply_timers(b);

  if (std::string err = engine_->commit(b); !err.empty()) {
    // State in memory is ahead of the store now; the only safe way on is a restart
    // from the store, which re-reads the uncommitted inputs from Kafka.
    log_->critical("state commit failed: {}; exiting so a restart recovers from the store", err);
    std::_Exit(3);
  }

  for (auto& df : engine_->take_frames()) {
    try {
      std::string bytes = df.frame.SerializeAsString();
      if (!socket_->send(zmq::buffer(df.routing_id),
                         zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
          !socket_->send(zmq::buffer(bytes), zmq::send_flags::dontwait)) {
        log_->warn("desk queue full; frame dropped (the desk resyncs on its next Hello)");
      }
    } catch (const zmq::error_t& e) {
      log_->debug("desk gone before a frame could be sent: {}", e.what());
    }
  }
  std::vector<OutboxRecord> out = engine_->take_outbox();
  if (!failed.empty()) {
    log_->warn("{} outbox records failed; producing them again", failed.size());
    out.insert(out.begin(), std::make_move_iterator(failed.begin()),
               std::make_move_iterator(failed.end()));
  }
  if (!unqueued_.empty()) {
    out.insert(out.begin(), std::make_move_iterator(unqueued_.begin()),
               std::make_move_iterator(unqueued_.end()));
    unqueued_.clear();
  }
  send_outbox(std::move(out));
}

}  // namespace omniroute::router
