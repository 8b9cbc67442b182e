// The router runtime: one event loop that waits on the Kafka consumer queue, the
// ZeroMQ ROUTER socket for desks, producer acknowledgements and timers; applies what
// arrived to the engine of the partition it belongs to, in that partition's batch;
// commits each; produces the step's changelog records; and sends what the step produced
// (desk frames, outbox records) once Kafka acknowledged them. Partitions come and go with
// the consumer group (router_owner.cc). See docs/architecture.md.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <zmq.hpp>

#include "config/config.h"
#include "kafka/kafka.h"
#include "omniroute/v1/store.pb.h"
#include "router/agent_gate.h"
#include "router/partition.h"
#include "router/restore_jobs.h"

namespace omniroute::router {

class Router {
 public:
  Router(const config::Config& cfg, kafka::ClientConfig kafka_cfg);
  ~Router();

  // Binds the agent endpoint and joins the group (router.membership: group) or takes every
  // partition (single): restores each from its local copy and the changelog, re-sends
  // what was not acknowledged. "" or an error text.
  // `stop` (optional) ends the wait for the group's first assignment early.
  std::string start(const std::atomic<bool>* stop = nullptr);
  // Runs the event loop on this thread until `stop` becomes true, then hands its partitions
  // over (leaves the group after the last changelog records are acknowledged).
  void run(const std::atomic<bool>& stop);
  // The endpoint desks connect to (resolved when the config asks for port 0 / "*").
  const std::string& agent_endpoint() const { return endpoint_; }
  // The router's CURVE public key (Z85), which desks need to connect; "" without CURVE.
  const std::string& curve_public_key() const { return curve_public_; }
  const AgentGate* gate() const { return gate_.get(); }
  // Partitions of omni.inbound this instance serves now (any thread).
  std::vector<int32_t> owned_partitions() const;
  // Thread-safe: the loop applies `next` at its next step (Engine::reconfigure) and calls
  // `done` with "" or why it was refused.
  void request_reload(std::shared_ptr<const config::Config> next,
                      std::function<void(const std::string&)> done = {});

 private:
  // ---- the loop (router.cc)
  void step();
  void apply_reload();
  void apply_desk_frames();
  // A Hello for a workspace this instance does not own: where to go instead.
  void redirect(const std::string& rid, const std::string& workspace);
  void forget_gone_desks();
  Partition* serving(int32_t p);
  void commit_or_exit(Partition& part);
  void report_metrics();

  // ---- out (router_out.cc)
  struct Out {
    int32_t partition = -1;
    OutboxRecord record;
  };
  // `attempts`: how often these records failed before (0 = first try).
  void send_outbox(std::vector<Out> records, int attempts = 0);
  void send_frames(std::vector<DeskFrame>& frames);
  void send_direct(const std::string& rid, const v1::AgentFrame& f);
  // False when the desk's queue is full (the frame is dropped; the desk is asked to resync).
  bool send_one(const std::string& rid, const v1::AgentFrame& f);
  // A frame from a desk that missed frames (its queue was full): tell it to say Hello again
  // (its Welcome carries everything) as soon as the queue has room.
  void ask_resync(const std::string& rid, const zmq::message_t& body);
  // Produces the changelog records of every step of `part` not handed to Kafka yet.
  void produce_changelog(Partition& part);
  // Applies what the producer reported since the last call (acks, failures).
  void drain_acks();
  // Sends what the acknowledged steps of every partition hold, in step order.
  void release_steps();
  void release_steps(Partition& part);
  void retry_later(Out r, int attempts);
  int64_t next_retry_ms() const;
  void send_due_retries(std::vector<Out> fresh);

  // ---- ownership (router_owner.cc)
  // Starts restoring the partitions given to this instance (beside the loop); with `wait`,
  // waits for them and returns where to consume each (single membership), else {} (the
  // loop assigns each once it is served: serve_restored()).
  std::vector<kafka::PartitionOffset> take_over(const std::vector<kafka::PartitionOffset>& parts,
                                                bool wait);
  // Starts serving the partitions whose restore finished; where to consume each.
  std::vector<kafka::PartitionOffset> serve_restored();
  void hand_over(const std::vector<kafka::PartitionOffset>& parts, bool lost);
  // Restores `part` from its local copy and the changelog (on a restore worker; reads
  // only `cfg`, the Kafka settings and `part`); "" or why not. Stops early on `cancel`.
  std::string restore(std::unique_ptr<Partition>& part, const config::Config& cfg,
                      const std::atomic<bool>& cancel);
  // After partitions came or went: the list for other threads, standby copies, /readyz.
  void owned_changed();
  void update_readiness();
  // A copy restored from scratch finds the changelog partition starting at `low` > 0.
  void log_truncated_changelog(int32_t p, int64_t low, const char* copy);
  enum class Ownership { kRestoring, kServing, kReleased };
  void announce(int32_t p, Ownership what);
  void read_directory();

  // ---- standby copies (router_standby.cc)
  // Keeps a copy of each partition this instance is a standby for (placement below) and
  // follows them from the changelog; drops copies it is no longer one for.
  void refresh_standbys();
  // Whether this instance keeps a standby copy of partition `p` (not owned here): the
  // instances known from the directory (with a claim on some partition) and this one, in
  // the order of their ids, as a ring; the `router.standby_replicas` instances after the
  // partition's owner keep one. A partition without a known owner: every instance does.
  bool standby_here(int32_t p) const;
  // omniroute_router_partitions: what this instance holds, by role.
  void report_roles();
  // Applies what the changelog brought for the standby copies.
  void follow_standbys();

  // ---- the agent socket (router_socket.cc)
  std::string bind_agent_socket();
  std::string load_curve_keys(std::string& secret);

  std::shared_ptr<const config::Config> current_;  // the whole config (after reloads)
  kafka::ClientConfig kafka_cfg_;
  log::Logger log_;
  SystemClock clock_;
  std::string instance_;  // this run's id (the directory's `instance`)
  int32_t partition_count_ = 0;
  std::map<int32_t, std::unique_ptr<Partition>> partitions_;
  mutable std::mutex owned_mu_;
  std::vector<int32_t> owned_;  // copy of the keys of partitions_, for other threads
  std::unordered_map<std::string, int32_t> desk_partition_;  // routing id -> partition
  std::unordered_set<std::string> resync_;  // desks that missed frames (routing ids)
  std::map<int32_t, v1::store::RouterOwner> directory_;
  std::map<int32_t, std::string> own_claim_;  // our latest restoring/serving announcement
  std::set<int32_t> claim_read_back_;         // ... and it came back from omni.routers
  std::unique_ptr<kafka::Consumer> directory_reader_;
  std::map<int32_t, std::unique_ptr<Partition>> standbys_;  // copies without an engine
  std::unique_ptr<kafka::Consumer> standby_reader_;
  std::map<int32_t, StepGate<kafka::Message>> standby_gates_;  // per standby copy

  std::shared_ptr<kafka::Producer> producer_;
  std::unique_ptr<kafka::Consumer> consumer_;
  zmq::context_t zctx_;
  std::unique_ptr<zmq::socket_t> socket_;
  std::string endpoint_;
  std::string advertised_;
  int kafka_fd_ = -1;       // read end, polled
  int kafka_wake_fd_ = -1;  // write end, given to librdkafka
  int ack_fd_ = -1;
  int64_t in_flight_ = 0;  // outbox records produced, not yet acknowledged or failed
  bool last_step_full_ = false;

  // Filled by producer completions (another thread), drained by the loop.
  struct Acks {
    std::mutex mu;
    struct Done {
      int32_t partition;
      std::string key;  // outbox key
    };
    std::vector<Done> done;
    struct Failed {
      Out out;
      rd_kafka_resp_err_t code;
      int attempts;
    };
    std::vector<Failed> failed;
    struct Changelog {
      int32_t partition;
      uint64_t incarnation;  // the partition copy that produced it
      uint64_t seq;
      int64_t offset;
      rd_kafka_resp_err_t code;
    };
    std::vector<Changelog> changelog;
    int fd = -1;
    // Wakes the loop when the first report lands in empty lists (the loop reads the fd
    // before it takes the lists, so one wake per batch of reports is enough).
    void wake_if_first() const;
  };
  std::shared_ptr<Acks> acks_ = std::make_shared<Acks>();
  struct Retry {
    Out out;
    int attempts = 0;
    int64_t due_ms = 0;
  };
  std::deque<Retry> retries_;  // in due order; taken from the front
  // Records Kafka refused for good, with why: to the DLQ at the next step.
  std::vector<std::pair<Out, std::string>> refused_;
  std::unique_ptr<AgentGate> gate_;
  std::string curve_public_;
  struct Reload {
    std::mutex mu;
    std::shared_ptr<const config::Config> next;
    std::function<void(const std::string&)> done;
  } reload_;
  // Last: its workers use the members above, so it stops them first.
  std::unique_ptr<RestoreJobs> restores_;
};

}  // namespace omniroute::router
