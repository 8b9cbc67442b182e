#include "router/partition.h"

#include <atomic>
#include <filesystem>
#include <random>

#include <fmt/format.h>

#include "common/ids.h"
#include "kafka/kafka.h"
#include "omniroute/v1/store.pb.h"

namespace omniroute::router {
namespace {
constexpr std::string_view kCopyId = "id";
constexpr std::string_view kCheckpoint = "changelog/next";
constexpr std::string_view kStepPrefix = "step/";
constexpr std::string_view kUnlogged = "restore/unlogged";  // a restore without the WAL runs
std::string step_key(uint64_t seq) {
  return fmt::format("{}{:020}", kStepPrefix, seq);
}
// A step's `local` copy: its writes, each with what the key held before (`previous`).
template <typename Get>
std::string local_copy(const std::vector<ChangelogRecord>& records, Get previous) {
  v1::store::ChangelogStep cs;
  cs.set_has_previous(true);
  for (const auto& r : records) {
    auto* w = cs.add_writes();
    w->set_key(r.key);
    if (r.value)
      w->set_value(*r.value);
    else
      w->set_deleted(true);
    const auto cf = static_cast<Cf>(static_cast<unsigned char>(r.key[0]));
    if (!previous(cf, std::string_view(r.key).substr(1), w->mutable_previous()))
      w->set_previous_absent(true);
  }
  return cs.SerializeAsString();
}
}  // namespace

int32_t partition_of(std::string_view workspace, int32_t count) {
  return kafka::partition_for_key(workspace, count);
}

std::string partition_dir(const std::string& state_dir, int32_t p) {
  return fmt::format("{}/p{}", state_dir, p);
}

int32_t partitions_in(const std::string& state_dir) {
  int32_t n = 0;
  while (std::filesystem::exists(partition_dir(state_dir, n))) ++n;
  return n;
}

std::string workspace_dir(const std::string& state_dir, std::string_view workspace,
                          int32_t partitions) {
  return partition_dir(state_dir, partition_of(workspace, std::max(1, partitions)));
}

std::shared_ptr<const config::Config> config_for_partition(const config::Config& cfg, int32_t p,
                                                           int32_t count) {
  auto out = std::make_shared<config::Config>(cfg);
  std::erase_if(out->workspaces,
                [&](const config::Workspace& w) { return partition_of(w.id, count) != p; });
  return out;
}

Partition::Partition(int32_t id, std::string dir, std::unique_ptr<Store> store)
    : id_(id), dir_(std::move(dir)), store_(std::move(store)), batch_(store_->begin()) {
  static std::atomic<uint64_t> opened{0};
  incarnation_ = ++opened;
  std::random_device rd;
  do writer_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  while (writer_ == 0);
}

void Partition::wipe(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

std::unique_ptr<Partition> Partition::recreate(std::unique_ptr<Partition> part, bool sync,
                                               std::string& err) {
  const int32_t id = part->id_;
  const std::string dir = part->dir_;
  part.reset();
  wipe(dir);
  return open(id, dir, sync, err);
}

std::unique_ptr<Partition> Partition::open(int32_t id, const std::string& dir, bool sync,
                                           std::string& err) {
  auto store = Store::open(dir, sync, err);
  if (!store) return nullptr;
  std::string v;
  bool wiped = false;
  if (store->get(Cf::kLocal, kUnlogged, &v)) {
    // A restore without the write-ahead log did not finish: what it wrote may be partly
    // lost, in any family. Start again from an empty copy.
    store.reset();
    wipe(dir);
    store = Store::open(dir, sync, err);
    if (!store) return nullptr;
    wiped = true;
  }
  std::unique_ptr<Partition> p(new Partition(id, dir, std::move(store)));
  p->wiped_at_open_ = wiped;
  if (p->store_->get(Cf::kLocal, kCopyId, &v)) {
    p->copy_id_ = v;
  } else {
    p->copy_id_ = new_uuid();
    auto b = p->store_->begin();
    b.put(Cf::kLocal, kCopyId, p->copy_id_);
    if (std::string e = p->store_->commit(b); !e.empty()) {
      err = e;
      return nullptr;
    }
  }
  if (p->store_->get(Cf::kLocal, kCheckpoint, &v)) p->checkpoint_ = std::stoll(v);
  p->store_->scan(Cf::kLocal, kStepPrefix, [&](std::string_view k, std::string_view) {
    p->next_seq_ = std::max<uint64_t>(p->next_seq_, std::stoull(std::string(k.substr(5))) + 1);
    return true;
  });
  return p;
}

std::vector<Partition::Step> Partition::unacknowledged() {
  std::vector<Step> out;
  store_->scan(Cf::kLocal, kStepPrefix, [&](std::string_view k, std::string_view v) {
    v1::store::ChangelogStep cs;
    if (!cs.ParseFromArray(v.data(), static_cast<int>(v.size()))) return true;
    Step s;
    s.seq = std::stoull(std::string(k.substr(kStepPrefix.size())));
    s.has_previous = cs.has_previous();
    for (const auto& w : cs.writes()) {
      s.records.push_back(
          {w.key(), w.deleted() ? std::nullopt : std::optional<std::string>(w.value())});
      s.previous.push_back(
          {w.key(), w.previous_absent() ? std::nullopt : std::optional<std::string>(w.previous())});
    }
    out.push_back(std::move(s));
    return true;
  });
  return out;
}

bool Partition::roll_back(const std::vector<Step>& steps, std::string& err) {
  err.clear();
  for (const auto& s : steps)
    if (!s.has_previous) return false;
  Store::Batch b = store_->begin();
  // Latest step first: each key ends with what it held before the earliest step.
  for (auto s = steps.rbegin(); s != steps.rend(); ++s) {
    if (std::string e = restore_into(b, s->previous); !e.empty()) {
      err = e;
      return false;
    }
  }
  for (const auto& s : steps) b.del(Cf::kLocal, step_key(s.seq));
  err = store_->commit(b);
  return err.empty();
}

bool Partition::reapply(const std::vector<Step>& steps, std::string& err) {
  Store::Batch b = store_->begin();
  for (const auto& s : steps) {
    // Through the batch: a key an earlier step here wrote has that step's value before.
    const std::string local = local_copy(
        s.records, [&](Cf cf, std::string_view k, std::string* v) { return b.get(cf, k, v); });
    if (err = restore_into(b, s.records); !err.empty()) return false;
    b.put(Cf::kLocal, step_key(s.seq), local);
  }
  err = store_->commit(b);
  return err.empty();
}

std::string Partition::commit_replay(Store::Replay& replay, int64_t next) {
  replay.put(Cf::kLocal, kCheckpoint, std::to_string(next));
  if (std::string e = store_->commit(replay, !unlogged_); !e.empty()) return e;
  checkpoint_ = next;
  return {};
}

std::string Partition::commit_load(Store::Load& load, int64_t next) {
  if (std::string e = store_->ingest(load); !e.empty()) return e;
  // The checkpoint goes in after the data: a crash in between leaves the unlogged mark,
  // and the copy is restored from scratch again.
  Store::Replay checkpoint = store_->begin_replay();
  return commit_replay(checkpoint, next);
}

std::string Partition::begin_unlogged() {
  if (unlogged_) return {};
  auto b = store_->begin();
  b.put(Cf::kLocal, kUnlogged, "");
  if (std::string e = store_->commit(b); !e.empty()) return e;
  unlogged_ = true;
  return {};
}

std::string Partition::end_unlogged() {
  if (!unlogged_) return {};
  if (std::string e = store_->flush(); !e.empty()) return e;
  auto b = store_->begin();
  b.del(Cf::kLocal, kUnlogged);
  if (std::string e = store_->commit(b); !e.empty()) return e;
  unlogged_ = false;
  return {};
}

void Partition::start_engine(std::shared_ptr<const config::Config> cfg, Clock& clock) {
  cfg_ = std::move(cfg);
  engine_ = std::make_unique<Engine>(*cfg_, *store_, clock);
  engine_->load();
}

std::optional<Store::CommitError> Partition::commit(bool with_engine) {
  Store::Batch& b = batch_;
  for (uint64_t seq : done_seqs_) b.del(Cf::kLocal, step_key(seq));
  if (engine_ && with_engine) engine_->prepare_commit(b);
  Step step;
  step.records = changelog_of(b);
  if (!step.records.empty()) {
    step.seq = next_seq_;
    // The before-images: the store before this step (earlier steps are in it).
    b.put(Cf::kLocal, step_key(step.seq),
          local_copy(step.records, [&](Cf cf, std::string_view k, std::string* v) {
            return store_->get(cf, k, v);
          }));
  }
  // Nothing written (a step with only an Error for a desk, or nothing at all): no commit,
  // no fsync with state.sync.
  if (b.count() > 0)
    if (auto e = store_->try_commit(b)) return e;
  b.clear();
  done_seqs_.clear();
  if (!step.records.empty()) ++next_seq_;
  if (engine_) {
    step.frames = engine_->take_frames();
    step.outbox = engine_->take_outbox();
  }
  if (step.records.empty() && step.frames.empty() && step.outbox.empty()) return std::nullopt;
  pending_.push_back(std::move(step));
  return std::nullopt;
}

void Partition::requeue(std::vector<Step> steps) {
  for (auto& s : steps) {
    s.outstanding = 0;
    s.produced = 0;
    next_seq_ = std::max(next_seq_, s.seq + 1);
    pending_.push_back(std::move(s));
  }
}

void Partition::acknowledged(uint64_t seq, int64_t offset) {
  for (auto& s : pending_) {
    if (s.seq != seq || s.outstanding == 0) continue;
    --s.outstanding;
    s.last_offset = std::max(s.last_offset, offset);
    return;
  }
}

void Partition::refused(uint64_t seq) {
  bool from_here = false;
  for (auto& s : pending_) {
    if (s.seq == seq && s.outstanding > 0) {
      --s.outstanding;
      from_here = true;
    }
    if (from_here) s.produced = 0;
  }
}

std::vector<Partition::Step> Partition::released() {
  std::vector<Step> out;
  while (!pending_.empty() && pending_.front().outstanding == 0 &&
         pending_.front().produced == pending_.front().frames_total()) {
    Step s = std::move(pending_.front());
    pending_.pop_front();
    if (s.seq != 0) done_seqs_.push_back(s.seq);
    if (s.last_offset >= 0) {
      checkpoint_ = std::max(checkpoint_, s.last_offset + 1);
      batch_.put(Cf::kLocal, kCheckpoint, std::to_string(checkpoint_));
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace omniroute::router
