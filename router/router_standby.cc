// Standby copies (router.standby_replicas): partitions this instance does not own are
// followed from the changelog into local copies (<state.dir>/p<N>, no engine), so a take-over
// reads only what the copy has not seen yet. Kafka Streams' standby tasks were the model;
// their placement by the group leader's assignor is done here from the directory instead
// (librdkafka's cooperative-sticky assignor cannot be given a standby placement).
#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "ops/metrics.h"
#include "router/router.h"

namespace omniroute::router {

bool Router::standby_here(int32_t p) const {
  const int n = current_->router.standby_replicas;
  if (n <= 0) return false;
  auto owner = directory_.find(p);
  if (owner == directory_.end() || owner->second.released()) return true;
  std::vector<std::string> ring{instance_};
  for (const auto& [q, o] : directory_)
    if (!o.released() && !o.instance().empty()) ring.push_back(o.instance());
  std::sort(ring.begin(), ring.end());
  ring.erase(std::unique(ring.begin(), ring.end()), ring.end());
  const auto at = std::find(ring.begin(), ring.end(), owner->second.instance());
  if (at == ring.end()) return true;
  const size_t from = static_cast<size_t>(at - ring.begin());
  const size_t keep = std::min(static_cast<size_t>(n), ring.size() - 1);
  for (size_t k = 1; k <= keep; ++k)
    if (ring[(from + k) % ring.size()] == instance_) return true;
  return false;
}

void Router::report_roles() {
  auto& family = ops::metrics().partitions;
  for (int32_t p = 0; p < partition_count_; ++p) {
    const std::string part = std::to_string(p);
    family.Add({{"partition", part}, {"role", "serving"}}).Set(partitions_.count(p) ? 1 : 0);
    family.Add({{"partition", part}, {"role", "restoring"}}).Set(restores_->holds(p) ? 1 : 0);
    family.Add({{"partition", part}, {"role", "standby"}}).Set(standbys_.count(p) ? 1 : 0);
  }
}

void Router::refresh_standbys() {
  if (partition_count_ <= 0) return;
  if (current_->router.standby_replicas <= 0) {
    report_roles();
    return;
  }
  const std::string& topic = current_->kafka.topics.changelog;
  std::string err;
  if (!standby_reader_) {
    standby_reader_ = kafka::Consumer::create(kafka_cfg_, "omniroute-router-standby", err);
    if (!standby_reader_) {
      log_->error("standby reader: {}", err);
      return;
    }
  }
  bool changed = false;
  for (int32_t p = 0; p < partition_count_; ++p) {
    const bool owned = partitions_.count(p) > 0 || restores_->holds(p);
    const bool wanted = !owned && standby_here(p);
    auto it = standbys_.find(p);
    if (!wanted && it != standbys_.end()) {
      // Owned here now (the take-over opens the same directory), or another instance keeps
      // the standby: closed; its files stay for a later catch-up from their checkpoint.
      standbys_.erase(it);
      changed = true;
    } else if (wanted && it == standbys_.end()) {
      const std::string dir = partition_dir(current_->state.dir, p);
      auto copy = Partition::open(p, dir, false, err);
      if (copy) {
        // Steps this copy committed as owner and Kafka never acknowledged: someone else owns
        // the partition now, so they were never acted on. Back to the checkpoint (the
        // changelog from there is the truth), or, without before-images, start over.
        auto steps = copy->unacknowledged();
        if (!steps.empty() && !copy->roll_back(steps, err)) {
          log_->warn(
              "standby copy of partition {}: cannot roll back {} unacknowledged steps{}; "
              "starting the copy over",
              p, steps.size(), err.empty() ? "" : " (" + err + ")");
          copy = Partition::recreate(std::move(copy), false, err);
        }
      }
      if (!copy) {
        log_->error("standby copy of partition {}: {}", p, err);
        continue;
      }
      standbys_[p] = std::move(copy);
      changed = true;
    }
  }
  report_roles();
  if (!changed) return;
  // Every copy is read again from its checkpoint, where any step held back starts.
  standby_gates_.clear();
  std::vector<kafka::PartitionOffset> assignment;
  for (auto& [p, copy] : standbys_) {
    if (!copy) continue;
    int64_t low = 0, high = 0;
    int64_t from = copy->checkpoint();
    if (standby_reader_->query_watermarks(topic, p, low, high, 2000) && from < low) {
      if (from > 0)
        log_->warn(
            "standby copy of partition {} is older than the changelog's start; restarting it", p);
      copy = Partition::recreate(std::move(copy), false, err);
      if (!copy) continue;
      if (low > 0) log_truncated_changelog(p, low, "the standby copy");
      from = low;
    }
    assignment.push_back({topic, p, from});
  }
  if (!standby_reader_->assign(assignment, err)) log_->error("standby assign: {}", err);
}

void Router::follow_standbys() {
  if (!standby_reader_ || standbys_.empty()) return;
  std::map<int32_t, Store::Replay> replays;
  std::map<int32_t, int64_t> next;
  std::set<int32_t> broken;
  for (auto& m : standby_reader_->poll(static_cast<size_t>(current_->router.max_batch) * 8, 0)) {
    if (m.is_error()) continue;
    const int32_t p = m.partition();
    auto it = standbys_.find(p);
    if (it == standbys_.end() || !it->second || broken.count(p)) continue;
    auto r = replays.try_emplace(p, it->second->store().begin_replay()).first;
    // Whole steps only, as in a restore (the gate keeps a step until its commit arrives).
    auto& gate = standby_gates_[p];
    bool bad = false;
    const std::string_view key = m.key(), payload = m.value();
    const int64_t offset = m.offset();
    gate.offer(std::move(m), key, payload, offset, [&](kafka::Message& rec) {
      const auto value = changelog_value(rec.value());
      if (!bad && !r->second.add(rec.key(), value ? &*value : nullptr)) {
        log_->error(
            "standby copy of partition {}: changelog record at offset {} is not a router "
            "state key",
            p, rec.offset());
        bad = true;
      }
    });
    if (bad) {
      broken.insert(p);  // this poll's records of it are dropped; the copy stays behind
      replays.erase(r);
      continue;
    }
    next[p] = gate.resume_at(offset + 1);
  }
  for (auto& [p, replay] : replays)
    if (std::string e = standbys_[p]->commit_replay(replay, next[p]); !e.empty())
      log_->error("standby copy of partition {}: {}", p, e);
}

}  // namespace omniroute::router
