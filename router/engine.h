// The router's decisions, free of I/O: it applies inputs (inbound envelopes, agent
// frames, due timers) to state inside a Store::Batch and collects what must go out
// (frames to desks, Kafka records in the outbox). The runtime (router.h) commits the
// batch, and only then sends. Single-threaded.
//
// The engine only wires the parts (parts.h) and applies a step: poll (apply_record,
// apply_desk) -> punctuate (apply_timers) -> commit -> send (take_frames, take_outbox).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "router/parts.h"

namespace omniroute::router {

class Engine {
 public:
  Engine(const config::Config& cfg, Store& store, Clock& clock);
  ~Engine();

  // Rebuilds in-memory indexes (agents, queues, timers) from the store.
  void load();
  // Applies a new configuration (SIGHUP) inside a step: agents, queues, rules, SLAs,
  // schedules and router limits change without dropping work; what can move then is
  // dispatched at once. Refused (kConflict, with why) when it would strand work: a
  // removed queue with waiting conversations, a removed agent holding conversations.
  Status reconfigure(Store::Batch& b, std::shared_ptr<const config::Config> next);
  const config::Config& config() const { return *p_->cfg; }

  // Applies one record consumed from omni.inbound at (topic, partition, offset).
  void apply_record(Store::Batch& b, const std::string& topic, int32_t partition, int64_t offset,
                    std::string_view key, std::string_view value);
  // Applies one frame from the desk at `routing_id` (raw bytes; bad frames get an Error).
  // `peer_key`: the connection's CURVE public key (Z85) as the ZAP handler accepted it;
  // "" when agent_auth is token or none.
  void apply_desk(Store::Batch& b, const std::string& routing_id, std::string_view bytes,
                  const std::string& peer_key = {});
  // Fires every timer due at the clock's now (at most router.max_batch per step).
  void apply_timers(Store::Batch& b);
  // Earliest pending timer (clock ms), or INT64_MAX.
  int64_t next_timer_ms() const { return p_->timers.next_ms(); }

  // Writes what the step kept in memory (id counters) into `b`, without committing (the
  // runtime commits the partition's batch with its changelog copy).
  void prepare_commit(Store::Batch& b);
  // The routing ids of the desks with a session here.
  std::vector<std::string> session_routing_ids() const;
  // Frames to this desk were dropped and it was asked to resync: its next Hello is
  // welcomed with the whole state.
  void resync_desk(const std::string& rid);
  // Every desk frame that arrived before `ms` (this engine's clock) has been applied:
  // desks are judged silent up to then (Desks::read_until).
  void desks_read_until(int64_t ms);
  // Writes what the step kept in memory (id counters) into `b` and commits it. Every
  // step must end here, never in Store::commit directly.
  [[nodiscard]] std::string commit(Store::Batch& b);
  // The same, typed: nullopt when committed (the batch is kept on failure).
  [[nodiscard]] std::optional<Store::CommitError> try_commit(Store::Batch& b);

  // Deletes an outbox entry Kafka has acknowledged.
  void outbox_done(Store::Batch& b, const std::string& key) { b.del(Cf::kOutbox, key); }
  // Kafka refused an outbox record for good (too large, not allowed): it leaves the
  // outbox for omni.dlq with the reason, and a reply's desk sees it FAILED.
  void outbox_refused(Store::Batch& b, const OutboxRecord& r, const std::string& reason) {
    p_->outbox.refused(b, r, reason);
  }
  // Outbox entries left by a previous run, to re-send at start.
  std::vector<OutboxRecord> pending_outbox() { return p_->outbox.pending(); }

  std::vector<DeskFrame> take_frames() { return p_->desks.take(); }
  std::vector<OutboxRecord> take_outbox() { return p_->outbox.take(); }

  // Offsets ("next to read") stored for `topic`, by partition.
  std::map<int32_t, int64_t> stored_offsets(const std::string& topic);

  const EngineCounters& counters() const { return p_->counters; }
  size_t online_agents() const { return p_->agents.online(); }
  // Sets the router's gauges for /metrics (router/gauges.h).
  void report_gauges();

 private:
  void fire(Store::Batch& b, const Timer& t);
  std::unique_ptr<Parts> p_;
  std::shared_ptr<const config::Config> owned_cfg_;  // set once a reload replaced the first
};

}  // namespace omniroute::router
