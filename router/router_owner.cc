// Which partitions this instance serves. Taking one over: restore its store from the
// local copy and the changelog (Kafka Streams' model), re-produce what the last owner
// committed but Kafka never acknowledged, mark the changelog with this copy, announce the
// ownership on omni.routers, then consume omni.inbound from the offset in the store.
// Handing one over: the last changelog records acknowledged, the step's frames and outbox
// sent, desks told the workspace is moving, the store closed.
#include <atomic>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "ops/health.h"
#include "router/router.h"

namespace omniroute::router {
namespace {
constexpr size_t kRestoreChunk = 20000;  // records per restore commit
// Bytes gathered per ingestion of a restore into an empty copy (a partition of 1M
// conversations over 128 partitions is about 15 MB of changelog: one ingestion).
constexpr size_t kLoadBytes = 32 << 20;
const std::string kCancelled = "cancelled";
constexpr int kFlushPatienceMs = 20000;  // below a supervisor's usual 30 s stop grace
const std::string kOwnerSlot = std::string(1, static_cast<char>(Cf::kMeta)) + "owner";
}  // namespace

void Router::log_truncated_changelog(int32_t p, int64_t low, const char* copy) {
  log_->error(
      "partition {}: the changelog starts at offset {}: what was written before is gone from "
      "the cluster (retention without compaction, or the embedded broker's 5 MB per "
      "partition), so {} restored from it is incomplete; keep standby copies "
      "(router.standby_replicas) and a compacted topic",
      p, low, copy);
}

std::vector<int32_t> Router::owned_partitions() const {
  std::lock_guard lock(owned_mu_);
  return owned_;
}

std::string Router::restore(std::unique_ptr<Partition>& part, const config::Config& cfg,
                            const std::atomic<bool>& cancel) {
  const auto started = std::chrono::steady_clock::now();
  const std::string& topic = cfg.kafka.topics.changelog;
  const int32_t p = part->id();
  std::string err;
  // A fresh reader for each restore: a reused one could still hold records it fetched for
  // an earlier (cancelled) restore, which librdkafka may hand out after the reassignment.
  auto reader = kafka::Consumer::create(kafka_cfg_, "omniroute-router-restore", err);
  if (!reader) return "restore consumer: " + err;
  reader->skip_settle_on_close();  // short-lived, many per take-over (see Consumer::close)
  int64_t low = 0, high = 0;
  bool ok = false;
  for (int attempt = 0; attempt < 30 && !ok; ++attempt)
    ok = reader->query_watermarks(topic, p, low, high, 2000);
  if (!ok) return fmt::format("cannot read the watermarks of {} [{}]", topic, p);
  auto steps = part->unacknowledged();
  // Back to the checkpoint first: the changelog from there is the truth, and these steps go
  // on top again below only if nobody else owned the partition since.
  bool rolled_back = false;
  if (!steps.empty()) {
    rolled_back = part->roll_back(steps, err);
    if (!err.empty()) return fmt::format("partition {}: rolling back: {}", p, err);
  }
  for (int pass = 0; pass < 2; ++pass) {
    int64_t from = part->checkpoint();
    if (from < low) {
      if (from > 0 || !steps.empty()) {
        // The changelog no longer holds what this copy misses (retention): start over.
        log_->warn("partition {}: local copy older than the changelog; restoring from scratch", p);
        part = Partition::recreate(std::move(part), cfg.state.sync, err);
        if (!part) return err;
        steps.clear();
      }
      if (low > 0) log_truncated_changelog(p, low, "this copy");
      from = low;
    }
    bool foreign = false;  // set by `apply` below
    size_t applied = 0;
    if (from < high) {
      if (!reader->assign({{topic, p, from}}, err)) return "restore assign: " + err;
      // Into an empty copy, without the write-ahead log: a crash meanwhile only means
      // starting again from scratch, which is where this restore starts anyway. And as a
      // bulk load: sorted files ingested, no memtables (Store::Load).
      const bool into_empty = part->checkpoint() == 0 && steps.empty();
      if (into_empty)
        if (std::string e = part->begin_unlogged(); !e.empty()) return e;
      int64_t next = from;
      // Straight from the fetched records into one RocksDB write (or ingestion) per chunk:
      // no per-key merging (the latest write of a key wins in order). Only whole steps: the
      // gate holds a step's records until its commit record (a step cut off by its writer's
      // death stays out, and the checkpoint stays before it).
      Store::Replay replay = part->store().begin_replay();
      Store::Load load = part->store().begin_load();
      StepGate<kafka::Message> gate;
      std::string bad;
      auto apply = [&](kafka::Message& m) {
        const auto value = changelog_value(m.value());
        // Another owner's mark counts once its step is committed (a cut-off one never acted).
        if (m.key() == kOwnerSlot && value && *value != part->copy_id()) foreign = true;
        const std::string_view* v = value ? &*value : nullptr;
        if (!(into_empty ? load.add(m.key(), v) : replay.add(m.key(), v)) && bad.empty())
          bad = fmt::format("partition {}: changelog record at offset {} is not a router state key",
                            p, m.offset());
      };
      auto chunk_full = [&] {
        return into_empty ? load.bytes() >= kLoadBytes : replay.count() >= kRestoreChunk;
      };
      auto flush_chunk = [&]() -> std::string {
        if (!bad.empty()) return bad;
        if (into_empty) {
          if (load.count() == 0) return {};
          applied += load.count();
          return part->commit_load(load, gate.resume_at(next));
        }
        if (replay.count() == 0) return {};
        applied += replay.count();
        return part->commit_replay(replay, gate.resume_at(next));
      };
      int idle = 0;
      while (next < high) {
        if (cancel) {
          // Taken away meanwhile: what was read so far stays (a warm copy), nothing else.
          if (std::string e = flush_chunk(); !e.empty()) return e;
          if (std::string e = part->end_unlogged(); !e.empty()) return e;
          return kCancelled;
        }
        auto msgs = reader->poll(2000, 100);
        if (msgs.empty() && ++idle > 600) return fmt::format("restore of partition {} stalled", p);
        for (auto& m : msgs) {
          if (m.is_error()) continue;
          if (m.partition() != p || m.topic() != topic) continue;  // not this copy's
          idle = 0;
          next = m.offset() + 1;
          const std::string_view key = m.key(), payload = m.value();
          const int64_t offset = m.offset();
          gate.offer(std::move(m), key, payload, offset, apply);
        }
        if (chunk_full())
          if (std::string e = flush_chunk(); !e.empty()) return e;
      }
      if (std::string e = flush_chunk(); !e.empty()) return e;
      if (std::string e = part->end_unlogged(); !e.empty()) return e;
      (void)reader->assign({}, err);
      if (gate.dropped() > 0 || gate.held() > 0)
        log_->warn(
            "partition {}: {} changelog records of steps their writers never committed left "
            "out (a writer stopped while producing a step)",
            p, gate.dropped() + gate.held());
    }
    if (foreign && !steps.empty() && rolled_back) {
      // Another instance owned the partition since this copy's last acknowledged step: the
      // steps it never got acknowledged were never acted on and are not the truth any more.
      // The copy was rolled back to its checkpoint, so it now is what the changelog says.
      log_->warn(
          "partition {}: dropped {} unacknowledged local steps (another instance owned "
          "it since)",
          p, steps.size());
      steps.clear();
    } else if (foreign && !steps.empty()) {
      // Steps from before before-images were kept: start over.
      log_->warn(
          "partition {}: dropping {} unacknowledged local steps (another instance owned "
          "it since); restoring from scratch",
          p, steps.size());
      part = Partition::recreate(std::move(part), cfg.state.sync, err);
      if (!part) return err;
      steps.clear();
      continue;
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    part->restored.records = static_cast<int64_t>(applied);
    if (applied > 0)
      log_->info("partition {}: restored {} changelog records in {:.2f} s", p, applied, secs);
    break;
  }
  if (!steps.empty()) {
    // Committed here, never acknowledged: the changelog records just read may predate
    // them, so they are applied again, then produced again.
    if (rolled_back) {
      if (!part->reapply(steps, err)) return err;
    } else {
      for (const auto& s : steps)
        if (std::string e = restore_into(part->batch(), s.records); !e.empty()) return e;
      if (std::string e = part->store().commit(part->batch()); !e.empty()) return e;
      part->batch().clear();
    }
    log_->info("partition {}: producing {} unacknowledged steps again", p, steps.size());
    part->requeue(std::move(steps));
  }
  return {};
}

std::vector<kafka::PartitionOffset> Router::take_over(
    const std::vector<kafka::PartitionOffset>& parts, bool wait) {
  // Restores run beside the loop, one per core: the partitions this instance serves
  // already go on being served meanwhile, and taking several over costs about the longest
  // restore, not their sum. Each has its own store and changelog reader.
  for (const auto& tp : parts) {
    const int32_t p = tp.partition;
    if (partitions_.count(p) || restores_->holds(p)) continue;
    standbys_.erase(p);  // a warm copy: closed here, reopened as the owner's
    standby_gates_.erase(p);
    announce(p, Ownership::kRestoring);
    auto cfg = current_;
    restores_->start(p, [this, cfg](int32_t q, const std::atomic<bool>& cancel, std::string& err) {
      auto part = Partition::open(q, partition_dir(cfg->state.dir, q), cfg->state.sync, err);
      if (part && part->wiped_at_open())
        log_->warn(
            "partition {}: the last restore into this copy did not finish; restoring "
            "from scratch",
            q);
      if (part) err = restore(part, *cfg, cancel);
      return part;
    });
  }
  update_readiness();
  report_roles();
  if (!wait) return {};
  restores_->wait_idle();
  return serve_restored();
}

std::vector<kafka::PartitionOffset> Router::serve_restored() {
  std::vector<kafka::PartitionOffset> start;
  auto finished = restores_->take_finished();
  if (finished.empty()) return start;
  for (auto& done : finished) {
    const int32_t p = done.partition;
    if (!done.error.empty()) {
      log_->critical("partition {}: {}; exiting so another instance takes it", p, done.error);
      std::_Exit(3);
    }
    auto part = std::move(done.part);
    // The changelog's mark that this copy owns the partition from here on.
    part->batch().put(Cf::kMeta, "owner", part->copy_id());
    part->start_engine(config_for_partition(*current_, p, partition_count_), clock_);
    Partition& ref = *part;
    partitions_[p] = std::move(part);
    commit_or_exit(ref);
    // What a previous run left in the outbox goes out after the steps before it.
    Partition::Step resend;
    for (auto& r : ref.engine().pending_outbox()) resend.outbox.push_back(std::move(r));
    if (!resend.outbox.empty()) {
      log_->info("partition {}: re-sending {} outbox records", p, resend.outbox.size());
      ref.pending().push_back(std::move(resend));
    }
    produce_changelog(ref);
    const auto offsets = ref.engine().stored_offsets(current_->kafka.topics.inbound);
    auto it = offsets.find(p);
    start.push_back({current_->kafka.topics.inbound, p,
                     it == offsets.end() ? RD_KAFKA_OFFSET_BEGINNING : it->second});
    // From opening the copy to serving it (restore and loading the engine), announced.
    ref.restored.ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - done.began)
                          .count();
    announce(p, Ownership::kServing);
    log_->info("partition {} is served here, {} ({} workspaces)", p, advertised_,
               ref.config()->workspaces.size());
  }
  // The restores' memory kept for the next one goes back once none is left.
  if (restores_->size() == 0) Store::Load::release_spare_memory();
  owned_changed();
  return start;
}

void Router::update_readiness() {
  // Not ready only while there is nothing to serve yet: an instance that serves some
  // partitions keeps serving them while it restores others.
  const size_t restoring = restores_->size();
  if (restoring > 0 && partitions_.empty())
    ops::set_ready("router", false, fmt::format("restoring {} partitions", restoring));
  else
    ops::set_ready("router", true);
}

void Router::owned_changed() {
  {
    std::lock_guard lock(owned_mu_);
    owned_.clear();
    for (const auto& [p, part] : partitions_) owned_.push_back(p);
  }
  refresh_standbys();
  update_readiness();
}

void Router::hand_over(const std::vector<kafka::PartitionOffset>& parts, bool lost) {
  for (const auto& tp : parts) {
    if (restores_->holds(tp.partition)) {
      // Taken away before it was served: nobody was told anything from this copy. What it
      // restored so far stays on disk as a standby copy.
      restores_->cancel(tp.partition);
      if (!lost) announce(tp.partition, Ownership::kReleased);
      log_->info("partition {}: restore cancelled at {} (the group moved it elsewhere)",
                 tp.partition, advertised_);
      continue;
    }
    auto it = partitions_.find(tp.partition);
    if (it == partitions_.end()) continue;
    Partition& part = *it->second;
    if (!lost) {
      // Everything committed for it reaches the changelog, and what people and systems
      // were to be told goes out, before the next owner restores.
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(kFlushPatienceMs);
      for (;;) {
        commit_or_exit(part);
        produce_changelog(part);
        producer_->flush(1000);
        drain_acks();
        release_steps(part);
        if (part.pending().empty() && part.batch().count() == 0 && in_flight_ == 0) break;
        if (std::chrono::steady_clock::now() > deadline) {
          size_t outstanding = 0;
          for (const auto& s : part.pending()) outstanding += s.outstanding;
          log_->error(
              "partition {}: hand-over flush incomplete after {} ms ({} steps with {} "
              "changelog records unacknowledged, {} outbox records in flight)",
              tp.partition, kFlushPatienceMs, part.pending().size(), outstanding, in_flight_);
          break;
        }
      }
    }
    v1::AgentFrame moving;
    moving.mutable_redirect()->set_moving(true);
    moving.mutable_redirect()->set_retry_after_ms(500);
    for (const auto& rid : part.engine().session_routing_ids()) {
      send_direct(rid, moving);
      desk_partition_.erase(rid);
    }
    if (!lost) announce(tp.partition, Ownership::kReleased);
    log_->info("partition {} {} by {}", tp.partition,
               lost ? "lost (session expired)" : "handed over", advertised_);
    partitions_.erase(it);
  }
  owned_changed();
}

void Router::announce(int32_t p, Ownership what) {
  v1::store::RouterOwner o;
  o.set_partition(p);
  o.set_endpoint(advertised_);
  o.set_server_key(curve_public_);
  o.set_instance(instance_);
  o.set_since_ms(clock_.now_ms());
  o.set_released(what == Ownership::kReleased);
  o.set_restoring(what == Ownership::kRestoring);
  if (auto it = partitions_.find(p); it != partitions_.end() && what == Ownership::kServing) {
    o.set_restored_records(it->second->restored.records);
    o.set_restore_ms(it->second->restored.ms);
  }
  directory_[p] = o;
  const std::string bytes = o.SerializeAsString();
  // Fencing (read_directory): this claim counts once it is read back from the topic.
  own_claim_[p] = what == Ownership::kReleased ? std::string() : bytes;
  claim_read_back_.erase(p);
  log::Logger log = log_;
  if (!producer_->produce(current_->kafka.topics.routers, std::to_string(p), bytes,
                          [log, p](const kafka::DeliveryReport& r) {
                            if (!r.ok()) log->warn("announcing partition {}: {}", p, r.error);
                          }))
    log_->warn("announcing partition {}: producer queue full", p);
}

void Router::read_directory() {
  if (!directory_reader_) return;
  bool placement_changed = false;
  for (auto& m : directory_reader_->poll(500, 0)) {
    if (m.is_error()) continue;
    v1::store::RouterOwner o;
    if (!o.ParseFromArray(m.value().data(), static_cast<int>(m.value().size()))) continue;
    const int32_t p = o.partition();
    // Our own announcements are applied when made; an older one of ours read back later
    // must not undo a newer state.
    if (o.instance() == instance_) {
      if (auto c = own_claim_.find(p);
          c != own_claim_.end() && !c->second.empty() && c->second == m.value())
        claim_read_back_.insert(p);
      continue;
    }
    // Another instance starts taking over a partition this one holds, announced after our
    // own claim (the topic orders both): the group gave it away while this instance did not
    // notice (its session ended under a slow broker; a zombie). Stop at once, without
    // flushing: the new owner restores from the changelog, and two owners must not both
    // take messages and answer desks. Only a take-over's first announcement ("restoring")
    // fences: a "serving" one after ours can be an older owner's restore ending late (that
    // one is the zombie, and fencing here would leave the partition to nobody).
    if (o.restoring() && claim_read_back_.count(p) &&
        (partitions_.count(p) || restores_->holds(p))) {
      log_->error(
          "partition {}: {} took it over while this instance still held it (its group "
          "session ended unnoticed); dropping it here without flushing",
          p, o.endpoint());
      std::string err;
      if (!consumer_->remove_assignment({{current_->kafka.topics.inbound, p}}, err))
        log_->warn("partition {}: {}", p, err);
      hand_over({{current_->kafka.topics.inbound, p}}, true);
      claim_read_back_.erase(p);
      own_claim_.erase(p);
    }
    auto it = directory_.find(o.partition());
    if (it != directory_.end() && it->second.instance() == instance_ &&
        partitions_.count(o.partition()))
      continue;  // we own it now: a late record of the previous owner changes nothing
    // Who owns what decides where standby copies are kept.
    if (it == directory_.end() || it->second.instance() != o.instance() ||
        it->second.released() != o.released())
      placement_changed = true;
    directory_[o.partition()] = o;
  }
  if (placement_changed) refresh_standbys();
}

}  // namespace omniroute::router
