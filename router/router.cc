#include "router/router.h"

#include "ops/health.h"
#include "ops/metrics.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "common/text_file.h"

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

constexpr int64_t kFirstRetryMs = 50, kMaxRetryMs = 10000;
constexpr int64_t kCommitPatienceMs = 30000;
}  // namespace

Router::Router(const config::Config& cfg, kafka::ClientConfig kafka_cfg)
    : cfg_(cfg), kafka_cfg_(std::move(kafka_cfg)), log_(log::get("router")) {}

Router::~Router() {
  if (consumer_) consumer_->close();
  consumer_.reset();
  producer_.reset();  // flushes: every acknowledged record is deleted on the next start
  socket_.reset();
  gate_.reset();
  if (kafka_fd_ >= 0) ::close(kafka_fd_);
  if (kafka_wake_fd_ >= 0) ::close(kafka_wake_fd_);
  if (ack_fd_ >= 0) ::close(ack_fd_);
}

std::string Router::start() {
  std::string err;
  ops::set_ready("router", false, "opening the state store");
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
  ops::set_ready("router", false, "waiting for topic " + topic);
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
  ops::set_ready("router", false, "assigning the partitions of " + topic);
  if (!consumer_->assign(assignment, err)) return "kafka assign: " + err;
  consumer_->enable_wakeup_fd(kafka_wake_fd_);
  log_->info("consuming {} ({} partitions) from stored offsets", topic, partitions);

  ops::set_ready("router", false, "binding the agent endpoint");
  if (std::string e = bind_agent_socket(); !e.empty()) return e;
  ops::set_ready("router", true);
  return {};
}

// The router's CURVE key pair: from router.curve_secret_key, else <state.dir>/router.key
// (created on first start, owner-only), with the public half beside it in router.pub.
std::string Router::load_curve_keys(std::string& secret) {
  char pub[41] = {0};
  secret = cfg_.router.curve_secret_key;
  const std::string key_file = cfg_.state.dir + "/router.key";
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
  std::ofstream(cfg_.state.dir + "/router.pub") << curve_public_ << "\n";
  return {};
}

std::string Router::bind_agent_socket() {
  const auto& rc = cfg_.router;
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
  socket_->set(zmq::sockopt::heartbeat_ivl, rc.heartbeat_interval_ms);
  socket_->set(zmq::sockopt::heartbeat_timeout, rc.heartbeat_timeout_ms);
  socket_->set(zmq::sockopt::heartbeat_ttl, rc.heartbeat_timeout_ms);
  // A ZAP domain makes libzmq ask the handler about NULL-mechanism peers too (the cap).
  socket_->set(zmq::sockopt::zap_domain, "omniroute");
  if (rc.agent_auth == config::AgentAuth::kCurve) {
    std::string secret;
    if (std::string e = load_curve_keys(secret); !e.empty()) return e;
    socket_->set(zmq::sockopt::curve_server, 1);
    socket_->set(zmq::sockopt::curve_secretkey, secret);
  }
  gate_ = std::make_unique<AgentGate>(zctx_, rc.agent_auth, cap);
  gate_->set_keys(agent_keys(cfg_));
  if (std::string e = gate_->start(*socket_); !e.empty()) return e;
  try {
    socket_->bind(rc.agent_endpoint);
  } catch (const zmq::error_t& e) {
    return fmt::format("bind {}: {}", rc.agent_endpoint, e.what());
  }
  endpoint_ = socket_->get(zmq::sockopt::last_endpoint);
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

// A commit that fails for a while (out of file descriptors in a connection flood, disk
// full) is tried again with the same batch, the loop taking nothing new meanwhile, for up to
// kCommitPatienceMs. Only then, or for an error that will not pass, the process exits: the
// state in memory is ahead of the store, and a restart recovers from the store and re-reads
// the uncommitted inputs from Kafka.
void Router::commit_or_exit(Store::Batch& b) {
  int64_t waited = 0, delay = 10;
  for (;;) {
    auto err = engine_->try_commit(b);
    if (!err) {
      if (waited > 0) log_->warn("state commit succeeded after {} ms of retries", waited);
      return;
    }
    if (!err->retriable || waited >= kCommitPatienceMs) {
      log_->critical("state commit failed: {}; exiting so a restart recovers from the store",
                     err->message);
      std::_Exit(3);
    }
    if (waited == 0) log_->error("state commit failed: {}; retrying", err->message);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    waited += delay;
    delay = std::min<int64_t>(delay * 2, 1000);
    (void)store_->resume();
  }
}

void Router::retry_later(OutboxRecord r, int attempts) {
  int64_t delay = kFirstRetryMs;
  for (int i = 1; i < attempts && delay < kMaxRetryMs; ++i) delay *= 2;
  // Due times never go down along the list: it stays in order.
  int64_t due = clock_.now_ms() + std::min(delay, kMaxRetryMs);
  if (!retries_.empty()) due = std::max(due, retries_.back().due_ms);
  retries_.push_back({std::move(r), attempts, due});
}

int64_t Router::next_retry_ms() const {
  return retries_.empty() ? INT64_MAX : retries_.front().due_ms;
}

void Router::send_outbox(std::vector<OutboxRecord> records, int attempts) {
  for (auto& r : records) {
    std::string err;
    rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;
    auto acks = acks_;
    OutboxRecord copy = r;
    bool queued = producer_->produce(
        r.entry.topic(), r.entry.key(), r.entry.value(),
        [acks, attempts, copy = std::move(copy)](const kafka::DeliveryReport& rep) mutable {
          std::lock_guard lock(acks->mu);
          if (rep.ok())
            acks->done.push_back(copy.key);
          else
            acks->failed.push_back({std::move(copy), rep.err, attempts + 1});
          poke_fd(acks->fd);
        },
        &err, &code);
    if (queued) {
      ++in_flight_;
      continue;
    }
    if (kafka::permanent_produce_error(code))
      refused_.emplace_back(std::move(r), err);
    else
      retry_later(std::move(r), attempts + 1);  // the local queue is full: back off
  }
}

void Router::run(const std::atomic<bool>& stop) {
  bool more = true;  // drain before the first wait
  int64_t next_report_ms = 0;
  while (!stop.load()) {
    ops::loop_turned("router");
    if (const int64_t now = clock_.now_ms(); now >= next_report_ms) {
      report_metrics();
      next_report_ms = now + 1000;
    }
    int64_t timeout = 100;
    const int64_t next = engine_->next_timer_ms();
    if (next != INT64_MAX) timeout = std::clamp<int64_t>(next - clock_.now_ms(), 0, 100);
    if (const int64_t retry = next_retry_ms(); retry != INT64_MAX)
      timeout = std::min<int64_t>(timeout, std::max<int64_t>(retry - clock_.now_ms(), 0));
    if (more || !refused_.empty()) timeout = 0;
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
  ops::forget_loop("router");
  ops::set_ready("router", false, "stopped");
}

void Router::report_metrics() {
  engine_->report_gauges();
  auto& m = ops::metrics();
  m.outbox_depth.Set(static_cast<double>(in_flight_ + static_cast<int64_t>(retries_.size())));
  const auto applied = engine_->stored_offsets(cfg_.kafka.topics.inbound);
  for (const auto& hw : consumer_->high_watermarks()) {
    const auto it = applied.find(hw.partition);
    const int64_t next = it == applied.end() ? 0 : it->second;
    m.consumer_lag.Add({{"topic", hw.topic}, {"partition", std::to_string(hw.partition)}})
        .Set(static_cast<double>(std::max<int64_t>(0, hw.offset - next)));
  }
}

void Router::request_reload(std::shared_ptr<const config::Config> next,
                            std::function<void(const std::string&)> done) {
  std::lock_guard lock(reload_.mu);
  reload_.next = std::move(next);
  reload_.done = std::move(done);
}

void Router::step() {
  const auto step_started = std::chrono::steady_clock::now();
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
      auto keys = agent_keys(*next);
      const std::string err = engine_->reconfigure(b, std::move(next)).message();
      if (err.empty()) {
        gate_->set_keys(std::move(keys));  // removed keys no longer pass the handshake
        log_->info("configuration reloaded");
      }
      if (!err.empty()) log_->error("configuration reload refused, the running one stays: {}", err);
      if (done) done(err);
    }
  }
  const size_t max = static_cast<size_t>(engine_->config().router.max_batch);
  last_step_full_ = false;

  auto msgs = consumer_->poll(max, 0);
  if (msgs.size() == max) last_step_full_ = true;
  if (!msgs.empty()) ops::metrics().messages_in.Increment(static_cast<double>(msgs.size()));
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
    std::string peer_key;
    if (!curve_public_.empty()) {
      try {
        // What our ZAP handler named the connection (metadata rides on the frames the
        // peer sent, not on the routing id the socket prepends).
        peer_key = body.gets("User-Id");
      } catch (const zmq::error_t&) {
      }
    }
    // A desk sends one frame per message: a multipart message is drained and answered
    // CODE_BAD_FRAME as a whole (its parts are never read as frames).
    while (body.more()) {
      zmq::message_t extra;
      if (!socket_->recv(extra, zmq::recv_flags::dontwait)) break;
      body.rebuild(0);
      if (!extra.more()) break;
    }
    engine_->apply_desk(b, rid.to_string(), body.to_string_view(), peer_key);
    if (n + 1 == max) last_step_full_ = true;
  }

  std::vector<std::string> done;
  std::vector<Acks::Failed> failed;
  {
    std::lock_guard lock(acks_->mu);
    done.swap(acks_->done);
    failed.swap(acks_->failed);
  }
  in_flight_ -= static_cast<int64_t>(done.size() + failed.size());
  for (const auto& k : done) engine_->outbox_done(b, k);
  for (auto& f : failed) {
    if (kafka::permanent_produce_error(f.code))
      refused_.emplace_back(std::move(f.record), rd_kafka_err2str(f.code));
    else
      retry_later(std::move(f.record), f.attempts);
  }
  for (auto& [rec, why] : refused_) engine_->outbox_refused(b, rec, why);
  refused_.clear();

  engine_->apply_timers(b);

  const size_t writes = b.count();
  commit_or_exit(b);
  if (writes > 0) {
    auto& m = ops::metrics();
    m.commit_writes.Observe(static_cast<double>(writes));
    m.step_seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - step_started).count());
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
  if (!retries_.empty()) {
    // Records wait their turn behind earlier ones that failed (order per conversation is
    // kept); due ones go out again with their attempt count, so another failure doubles
    // the wait. The loop never spins on a produce that keeps failing.
    const int64_t now = clock_.now_ms();
    if (retries_.front().due_ms > now) {
      const Retry& last = retries_.back();
      for (auto& r : out) retries_.push_back({std::move(r), last.attempts, last.due_ms});
      return;
    }
    std::vector<Retry> due;
    while (!retries_.empty() && retries_.front().due_ms <= now) {
      due.push_back(std::move(retries_.front()));
      retries_.erase(retries_.begin());
    }
    log_->warn("producing {} outbox records again (attempt {})", due.size(), due[0].attempts + 1);
    for (auto& r : due) send_outbox({std::move(r.record)}, r.attempts);
    if (!retries_.empty()) {
      const Retry& last = retries_.back();
      for (auto& r : out) retries_.push_back({std::move(r), last.attempts, last.due_ms});
      return;
    }
  }
  send_outbox(std::move(out));
}

}  // namespace omniroute::router
