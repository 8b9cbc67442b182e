// One partition of omni.inbound as this router instance owns it: its own RocksDB
// (<state.dir>/p<N>), its Engine (only the workspaces whose key hashes to it), and the
// steps whose changelog records Kafka has not acknowledged yet. Whatever a step produced
// for people (desk frames) or other systems (outbox records) leaves only once the
// step's changelog records are on the cluster (released()).
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "router/changelog.h"
#include "router/engine.h"
#include "router/store.h"

namespace omniroute::router {

// The configuration an engine of partition `p` (of `count`) runs with: only the
// workspaces that hash to it.
std::shared_ptr<const config::Config> config_for_partition(const config::Config& cfg, int32_t p,
                                                           int32_t count);
// The partition of `workspace` (our producers key omni.inbound by workspace).
int32_t partition_of(std::string_view workspace, int32_t count);
// <state.dir>/p<N>
std::string partition_dir(const std::string& state_dir, int32_t p);
// For tools and tests: how many partition stores a state dir holds (p0, p1, ... present),
// and the store directory a workspace lives in.
int32_t partitions_in(const std::string& state_dir);
std::string workspace_dir(const std::string& state_dir, std::string_view workspace,
                          int32_t partitions);
// The workspace's store in a state dir where one instance served every partition.
inline std::string workspace_dir(const std::string& state_dir, std::string_view workspace) {
  return workspace_dir(state_dir, workspace, partitions_in(state_dir));
}

class Partition {
 public:
  // A committed step waiting for its changelog records.
  struct Step {
    uint64_t seq = 0;
    std::vector<ChangelogRecord> records;  // kept until the step is released
    size_t produced = 0;       // frames [0, produced) handed to Kafka (StepFrames: + commit)
    size_t outstanding = 0;    // frames handed to Kafka and not reported on yet
    int64_t last_offset = -1;  // changelog offset of the last acknowledged one
    // Frames this step puts on the changelog: its records and its commit (none: no records).
    size_t frames_total() const { return StepFrames::count(records); }
    std::vector<DeskFrame> frames;
    std::vector<OutboxRecord> outbox;
    // From unacknowledged() only: what each record's key held before the step (same order;
    // nullopt value: absent), and whether the step kept that at all.
    std::vector<ChangelogRecord> previous;
    bool has_previous = false;
  };

  // Opens (creating) the partition's store. nullptr + err.
  static std::unique_ptr<Partition> open(int32_t id, const std::string& dir, bool sync,
                                         std::string& err);
  // Deletes the store's files (a stale copy that must be restored from scratch).
  static void wipe(const std::string& dir);
  // Closes `part`, deletes its files and opens an empty copy in the same place (nullptr + err).
  static std::unique_ptr<Partition> recreate(std::unique_ptr<Partition> part, bool sync,
                                             std::string& err);
  int32_t id() const { return id_; }
  Store& store() { return *store_; }
  const std::string& dir() const { return dir_; }

  // ---- the local copy (kLocal)
  // This copy's id, made when the store was created (the changelog's owner marker).
  const std::string& copy_id() const { return copy_id_; }
  // Unique per opened copy in this process: an acknowledgement for a copy closed since
  // (handed over, reopened) is not this one's.
  uint64_t incarnation() const { return incarnation_; }
  // Changelog offset up to which this copy has everything (next to read).
  int64_t checkpoint() const { return checkpoint_; }
  // A restore's chunk of changelog records, committed with the checkpoint `next` in the
  // same write. "" or the store's error.
  std::string commit_replay(Store::Replay& replay, int64_t next);
  // A restore into an empty copy (between begin_unlogged and end_unlogged): what `load`
  // gathered is ingested, then the checkpoint `next` written. "" or the store's error.
  std::string commit_load(Store::Load& load, int64_t next);
  // A restore into an empty copy writes without RocksDB's write-ahead log (about a third
  // of its write time): begin_unlogged() puts a durable mark, the chunks go unlogged, and
  // end_unlogged() flushes them to files and removes the mark. A copy found with the mark
  // at open (the process died in between) is wiped: it is restored from scratch again.
  // "" or the store's error.
  std::string begin_unlogged();
  std::string end_unlogged();
  // A copy found with the mark was wiped when it was opened.
  bool wiped_at_open() const { return wiped_at_open_; }
  // Steps committed here whose changelog records were never acknowledged, in order.
  std::vector<Step> unacknowledged();
  // Puts back what the keys of `steps` (unacknowledged(), in order) held before them and
  // drops the steps, in one commit: the copy is what it was at its checkpoint. False
  // (nothing done) when a step kept no before-images, or on a store error (`err`).
  bool roll_back(const std::vector<Step>& steps, std::string& err);
  // Applies rolled-back `steps` again and keeps them as unacknowledged steps (with fresh
  // before-images), in one commit. False + `err` on a store error.
  bool reapply(const std::vector<Step>& steps, std::string& err);

  // ---- serving
  void start_engine(std::shared_ptr<const config::Config> cfg, Clock& clock);
  bool serving() const { return engine_ != nullptr; }
  Engine& engine() { return *engine_; }
  std::shared_ptr<const config::Config> config() const { return cfg_; }
  void set_config(std::shared_ptr<const config::Config> cfg) { cfg_ = std::move(cfg); }
  // This step's batch.
  Store::Batch& batch() { return batch_; }
  // Ends the step: the engine's counters, the step's changelog records kept in kLocal
  // until acknowledged, one atomic commit. On success the step (frames, outbox, records)
  // waits in pending(); nullopt. The batch is kept on failure.
  [[nodiscard]] std::optional<Store::CommitError> commit(bool with_engine = true);
  std::deque<Step>& pending() { return pending_; }
  // This serving's writer id on the changelog (random; every opened copy has its own).
  uint64_t writer() const { return writer_; }
  // Kafka acknowledged one frame of step `seq` at `offset`.
  void acknowledged(uint64_t seq, int64_t offset);
  // Kafka refused a frame of step `seq`: that step and every later one are produced again
  // from their first frame, so the topic ends with the latest value of every key.
  void refused(uint64_t seq);
  // Steps whose records are all acknowledged, in order (their kLocal copies are deleted
  // and the checkpoint advanced by the next commit).
  std::vector<Step> released();
  // Re-queues unacknowledged steps found at open (their records are produced again).
  void requeue(std::vector<Step> steps);

  // How this copy was made ready to serve: changelog records read and applied, and how
  // long from opening it to serving it (announced with the owner, `inspect owners`).
  struct RestoreFigures {
    int64_t records = 0;
    int64_t ms = 0;
  };
  RestoreFigures restored;

 private:
  Partition(int32_t id, std::string dir, std::unique_ptr<Store> store);
  int32_t id_;
  std::string dir_;
  std::unique_ptr<Store> store_;
  Store::Batch batch_;
  std::shared_ptr<const config::Config> cfg_;
  std::unique_ptr<Engine> engine_;
  std::string copy_id_;
  uint64_t incarnation_ = 0;
  uint64_t writer_ = 0;
  int64_t checkpoint_ = 0;
  uint64_t next_seq_ = 1;
  std::deque<Step> pending_;
  std::vector<uint64_t> done_seqs_;  // kLocal step copies to delete at the next commit
  bool unlogged_ = false;
  bool wiped_at_open_ = false;
};

}  // namespace omniroute::router
