#include "router/router.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "common/ids.h"
#include "ops/health.h"
#include "ops/metrics.h"

namespace omniroute::router {
namespace {
void drain_fd(int fd) {
  char buf[256];
  while (::read(fd, buf, sizeof buf) > 0) {
  }
}
constexpr int64_t kCommitPatienceMs = 30000;
}  // namespace

Router::Router(const config::Config& cfg, kafka::ClientConfig kafka_cfg)
    : current_(std::make_shared<const config::Config>(cfg)),
      kafka_cfg_(std::move(kafka_cfg)),
      log_(log::get("router")),
      instance_(new_uuid()) {}

Router::~Router() {
  if (consumer_) consumer_->close();  // a group member hands its partitions over here
  consumer_.reset();
  directory_reader_.reset();
  standby_reader_.reset();
  standbys_.clear();
  partitions_.clear();
  producer_.reset();  // flushes: every acknowledged record is deleted on the next start
  socket_.reset();
  gate_.reset();
  if (kafka_fd_ >= 0) ::close(kafka_fd_);
  if (kafka_wake_fd_ >= 0) ::close(kafka_wake_fd_);
  if (ack_fd_ >= 0) ::close(ack_fd_);
}

std::string Router::start(const std::atomic<bool>* stop) {
  std::string err;
  const auto& topics = current_->kafka.topics;
  if (std::filesystem::exists(current_->state.dir + "/CURRENT"))
    return "state: " + current_->state.dir +
           " holds one store for all partitions (before partitioned state); this version keeps "
           "a store per partition in <state.dir>/p<N>: move it aside and let the router "
           "restore, or run the previous version until its outbox is empty";
  std::error_code ec;
  std::filesystem::create_directories(current_->state.dir, ec);
  // Records wait until Kafka has them: no delivery timeout.
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
  const int restore_threads =
      current_->router.restore_threads > 0
          ? current_->router.restore_threads
          : 2 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  restores_ = std::make_unique<RestoreJobs>(static_cast<size_t>(restore_threads), [fd = ack_fd_] {
    const uint64_t one = 1;
    (void)!::write(fd, &one, sizeof one);
  });

  // The socket first: the directory names this endpoint.
  ops::set_ready("router", false, "binding the agent endpoint");
  if (std::string e = bind_agent_socket(); !e.empty()) return e;

  // Prefetch is bounded: librdkafka's defaults (100,000 messages per partition) would hold
  // hundreds of MB of records the router will read anyway.
  std::map<std::string, std::string> tuning{
      {"queued.min.messages", "20000"},
      {"queued.max.messages.kbytes", "32768"},
      {"session.timeout.ms", std::to_string(current_->router.session_timeout_ms)},
      {"heartbeat.interval.ms",
       std::to_string(std::max(100, current_->router.session_timeout_ms / 6))}};
  for (const auto& [k, v] : kafka_cfg_.properties) tuning.erase(k);  // the operator's word wins
  const bool group = current_->router.membership == config::Membership::kGroup;
  kafka::Rebalance on;
  if (group) {
    on.assigned = [this](const std::vector<kafka::PartitionOffset>& parts) {
      // Cooperative: restored beside the loop, consumed once served. An eager strategy set
      // by the operator revokes everything at each rebalance: restored here, as it waits.
      return take_over(parts, !consumer_->cooperative());
    };
    on.revoked = [this](const std::vector<kafka::PartitionOffset>& parts, bool lost) {
      hand_over(parts, lost);
    };
  }
  consumer_ =
      kafka::Consumer::create_member(kafka_cfg_, "omniroute-router", std::move(on), err, tuning);
  if (!consumer_) return "kafka consumer: " + err;
  ops::set_ready("router", false, "waiting for topic " + topics.inbound);
  for (int attempt = 0; attempt < 60 && partition_count_ <= 0; ++attempt) {
    partition_count_ = consumer_->partition_count(topics.inbound, 1000);
    if (partition_count_ <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (partition_count_ <= 0) return "kafka: topic " + topics.inbound + " not found";

  directory_reader_ = kafka::Consumer::create(kafka_cfg_, "omniroute-router-directory", err);
  if (!directory_reader_) return "kafka directory reader: " + err;
  const int dir_parts = directory_reader_->partition_count(topics.routers, 5000);
  if (dir_parts <= 0) return "kafka: topic " + topics.routers + " not found";
  std::vector<kafka::PartitionOffset> dir_assign;
  for (int32_t p = 0; p < dir_parts; ++p) dir_assign.push_back({topics.routers, p});
  if (!directory_reader_->assign(dir_assign, err)) return "kafka directory assign: " + err;

  if (group) {
    if (!consumer_->subscribe({topics.inbound}, err)) return "kafka subscribe: " + err;
    ops::set_ready("router", false, "joining the group omniroute-router");
    log_->info("joining the consumer group for {} ({} partitions) as {}", topics.inbound,
               partition_count_, advertised_);
    // Started = serving what the group gives this instance (perhaps nothing, with more
    // instances than partitions). The steps run here, before run() takes the loop over.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!consumer_->assigned_once() && std::chrono::steady_clock::now() < deadline &&
           !(stop && stop->load())) {
      step();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!consumer_->assigned_once() && !(stop && stop->load()))
      log_->warn("no assignment from the group after 60 s; serving once one comes");
    // The restores of that first assignment run beside the loop: started means served.
    while (restores_->size() > 0 && !(stop && stop->load())) {
      step();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  } else {
    std::vector<kafka::PartitionOffset> all;
    for (int32_t p = 0; p < partition_count_; ++p) all.push_back({topics.inbound, p});
    auto start = take_over(all, true);
    if (!consumer_->assign(start, err)) return "kafka assign: " + err;
    log_->info("serving every partition of {} ({})", topics.inbound, partition_count_);
  }
  consumer_->enable_wakeup_fd(kafka_wake_fd_);
  return {};
}

// A commit that fails for a while (out of file descriptors in a connection flood, disk
// full) is tried again with the same batch, the loop taking nothing new meanwhile, for up to
// kCommitPatienceMs. Only then, or for an error that will not pass, the process exits: the
// state in memory is ahead of the store, and a restart recovers from the store and re-reads
// the uncommitted inputs from Kafka.
void Router::commit_or_exit(Partition& part) {
  int64_t waited = 0, delay = 10;
  for (;;) {
    auto err = part.commit();
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
    (void)part.store().resume();
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
    for (auto& [p, part] : partitions_) {
      const int64_t next = part->engine().next_timer_ms();
      if (next != INT64_MAX)
        timeout = std::min<int64_t>(timeout, std::max<int64_t>(next - clock_.now_ms(), 0));
    }
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
  // Hand-over: leaving the group revokes every partition through hand_over().
  ops::set_ready("router", false, "handing partitions over");
  if (current_->router.membership == config::Membership::kGroup) {
    consumer_->close();
  } else {
    std::vector<kafka::PartitionOffset> all;
    for (const auto& [p, part] : partitions_) all.push_back({current_->kafka.topics.inbound, p});
    hand_over(all, false);
  }
  ops::forget_loop("router");
  ops::set_ready("router", false, "stopped");
}

Partition* Router::serving(int32_t p) {
  auto it = partitions_.find(p);
  return it == partitions_.end() || !it->second->serving() ? nullptr : it->second.get();
}

void Router::report_metrics() {
  auto& m = ops::metrics();
  m.outbox_depth.Set(static_cast<double>(in_flight_ + static_cast<int64_t>(retries_.size())));
  std::map<int32_t, int64_t> applied;
  for (auto& [p, part] : partitions_) {
    part->engine().report_gauges();
    applied[p] = 0;
    for (const auto& [q, off] : part->engine().stored_offsets(current_->kafka.topics.inbound))
      if (q == p) applied[p] = off;
  }
  for (const auto& hw : consumer_->high_watermarks()) {
    const auto it = applied.find(hw.partition);
    if (it == applied.end()) continue;
    m.consumer_lag.Add({{"topic", hw.topic}, {"partition", std::to_string(hw.partition)}})
        .Set(static_cast<double>(std::max<int64_t>(0, hw.offset - it->second)));
  }
}

void Router::request_reload(std::shared_ptr<const config::Config> next,
                            std::function<void(const std::string&)> done) {
  std::lock_guard lock(reload_.mu);
  reload_.next = std::move(next);
  reload_.done = std::move(done);
}

void Router::apply_reload() {
  std::shared_ptr<const config::Config> next;
  std::function<void(const std::string&)> done;
  {
    std::lock_guard lock(reload_.mu);
    next = std::move(reload_.next);
    done = std::move(reload_.done);
    reload_.next.reset();
  }
  if (!next) return;
  // Every partition's engine checks its part first; the reload is applied only if all
  // accept it (a refused one leaves the running configuration everywhere).
  std::string err;
  std::map<int32_t, std::shared_ptr<const config::Config>> parts;
  for (auto& [p, part] : partitions_) parts[p] = config_for_partition(*next, p, partition_count_);
  for (auto& [p, part] : partitions_) {
    err = part->engine().reconfigure(part->batch(), parts[p]).message();
    if (!err.empty()) {
      // Put back the ones already changed.
      for (auto& [q, other] : partitions_) {
        if (q == p) break;
        (void)other->engine().reconfigure(other->batch(), other->config());
      }
      break;
    }
  }
  if (err.empty()) {
    for (auto& [p, part] : partitions_) part->set_config(parts[p]);
    current_ = next;
    gate_->set_keys(agent_keys(*next));  // removed keys no longer pass the handshake
    log_->info("configuration reloaded");
  } else {
    log_->error("configuration reload refused, the running one stays: {}", err);
  }
  if (done) done(err);
}

// Connections come and go with new routing ids: the map keeps only those with a session.
void Router::forget_gone_desks() {
  std::unordered_map<std::string, int32_t> live;
  for (auto& [p, part] : partitions_)
    for (const auto& rid : part->engine().session_routing_ids()) live[rid] = p;
  desk_partition_.swap(live);
  std::erase_if(resync_, [&](const std::string& rid) { return !desk_partition_.count(rid); });
}

void Router::redirect(const std::string& rid, const std::string& workspace) {
  v1::AgentFrame f;
  auto* r = f.mutable_redirect();
  r->set_workspace_id(workspace);
  const int32_t p = partition_of(workspace, partition_count_);
  auto it = directory_.find(p);
  // A partition restoring here has our own "restoring" entry (instance_); an entry with our
  // endpoint but another instance id is this endpoint's previous process (killed): sending
  // the desk back here would make it bounce between Hello and Redirect until we serve.
  if (it == directory_.end() || it->second.released() || it->second.restoring() ||
      it->second.instance() == instance_ || it->second.endpoint().empty() ||
      it->second.endpoint() == advertised_) {
    r->set_moving(true);
    r->set_retry_after_ms(500);
  } else {
    r->set_endpoint(it->second.endpoint());
    r->set_server_key(it->second.server_key());
  }
  send_direct(rid, f);
}

void Router::apply_desk_frames() {
  const size_t max = static_cast<size_t>(current_->router.max_batch);
  // Frames that arrived before this moment are all read once the socket runs dry: up to
  // then a silent desk is silent, whatever this step or the last one cost.
  const int64_t reading_from = clock_.now_ms();
  for (size_t n = 0; n < max; ++n) {
    zmq::message_t rid, body;
    if (!socket_->recv(rid, zmq::recv_flags::dontwait)) {
      for (auto& [p, part] : partitions_) part->engine().desks_read_until(reading_from);
      break;
    }
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
    if (n + 1 == max) last_step_full_ = true;
    const std::string id = rid.to_string();
    if (!resync_.empty() && resync_.count(id)) ask_resync(id, body);
    Partition* part = nullptr;
    if (auto it = desk_partition_.find(id); it != desk_partition_.end()) part = serving(it->second);
    if (!part) {
      // Which partition a connection belongs to is learnt from its Hello.
      v1::AgentFrame f;
      if (f.ParseFromArray(body.data(), static_cast<int>(body.size())) && f.has_hello()) {
        const int32_t p = partition_of(f.hello().workspace_id(), partition_count_);
        part = serving(p);
        if (!part) {
          redirect(id, f.hello().workspace_id());
          continue;
        }
        if (desk_partition_.size() >=
            2 * static_cast<size_t>(current_->router.max_desk_connections))
          forget_gone_desks();
        desk_partition_[id] = p;
      } else if (!partitions_.empty()) {
        part = partitions_.begin()->second.get();  // it answers: unknown session / bad frame
      } else {
        v1::AgentFrame e;
        e.mutable_error()->set_code(v1::Error::CODE_UNKNOWN_SESSION);
        e.mutable_error()->set_message("say Hello");
        send_direct(id, e);
        continue;
      }
    }
    part->engine().apply_desk(part->batch(), id, body.to_string_view(), peer_key);
  }
}

void Router::step() {
  const auto step_started = std::chrono::steady_clock::now();
  // Kafka first: a rebalance runs inside poll, between two steps' batches.
  const size_t max = static_cast<size_t>(current_->router.max_batch);
  last_step_full_ = false;
  auto msgs = consumer_->poll(max, 0);
  if (msgs.size() == max) last_step_full_ = true;
  if (!msgs.empty()) ops::metrics().messages_in.Increment(static_cast<double>(msgs.size()));
  for (auto& m : msgs) {
    if (m.is_error()) {
      if (!m.is_eof()) log_->warn("consume: {}", m.error());
      continue;
    }
    if (Partition* part = serving(m.partition()))
      part->engine().apply_record(part->batch(), m.topic(), m.partition(), m.offset(), m.key(),
                                  m.value());
  }
  if (auto start = serve_restored(); !start.empty()) {
    std::string err;
    if (!consumer_->add_assignment(start, err)) {
      log_->critical("kafka: cannot consume the restored partitions: {}; exiting", err);
      std::_Exit(3);
    }
  }
  read_directory();
  follow_standbys();
  apply_reload();
  apply_desk_frames();

  drain_acks();
  for (auto& [out, why] : refused_)
    if (Partition* part = serving(out.partition))
      part->engine().outbox_refused(part->batch(), out.record, why);
  refused_.clear();
  release_steps();

  size_t writes = 0;
  for (auto& [p, part] : partitions_) {
    part->engine().apply_timers(part->batch());
    writes += part->batch().count();
    commit_or_exit(*part);
    produce_changelog(*part);
  }
  if (writes > 0) {
    auto& m = ops::metrics();
    m.commit_writes.Observe(static_cast<double>(writes));
    m.step_seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - step_started).count());
  }
  // Steps with nothing for the changelog (an Error to a desk) go at once, in order.
  release_steps();
}

}  // namespace omniroute::router
