// The router's changelog, as records: every write of a committed step (column family byte
// + key; the new value, or none for a delete), how a step goes on the topic (tagged with
// its writer and step, closed by a commit record), and a reader's gate that lets records
// through a whole step at a time (docs/architecture.md, "Whole steps on the changelog").
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/store.h"

namespace omniroute::router {

struct ChangelogRecord {
  std::string key;                   // column family byte + key (Store::Batch slot)
  std::optional<std::string> value;  // nullopt: the key was deleted (a tombstone)
};

// Which writer (one serving of one copy of a partition: a random id) wrote a record, in
// which of its steps (increasing).
struct StepTag {
  uint64_t writer = 0;
  uint64_t seq = 0;
};

// On the changelog topic the key is the record's key and the payload "t" + the step's tag
// (16 bytes) + the value, or null for a delete (a tombstone, which compaction removes): an
// empty value stays a value. Payloads "v" + value (untagged) are from before steps were
// tagged, and are still read.
std::string changelog_payload(const ChangelogRecord& r);  // untagged; "" = a null payload
std::string changelog_payload(const ChangelogRecord& r, StepTag tag);
ChangelogRecord changelog_record(std::string_view key, std::string_view payload);
// The value a payload carries, as a view into it; nullopt for a tombstone.
inline std::optional<std::string_view> changelog_value(std::string_view payload) {
  if (payload.empty()) return std::nullopt;
  return payload.substr(payload[0] == 't' && payload.size() >= 17 ? 17 : 1);
}
std::optional<StepTag> changelog_tag(std::string_view payload);

// The records of a step's batch (the local-only family left out): its writes with a value
// first, then its deletes, each part in key order.
std::vector<ChangelogRecord> changelog_of(const Store::Batch& b);

// The commit record of `writer`'s step `seq`: its key is the writer's own (so compaction
// keeps the latest commit of every writer), never a state key.
ChangelogRecord commit_record(StepTag tag);
bool is_commit_slot(std::string_view slot);

// What a step puts on the topic, in order: its records (tagged; deletes untagged, as null
// payloads must be), then its commit record. A step with only deletes starts with its
// commit record too, so that every step's first record names its writer.
class StepFrames {
 public:
  StepFrames(const std::vector<ChangelogRecord>& records, StepTag tag);
  // How many frames a step with `records` puts on the topic (none for a step without any).
  static size_t count(const std::vector<ChangelogRecord>& records) {
    return records.empty() ? 0 : records.size() + 1 + (records.front().value ? 0 : 1);
  }
  size_t size() const { return count(records_); }
  // Frame i's key and payload ("": a null payload).
  std::pair<std::string_view, std::string> at(size_t i) const;

 private:
  const std::vector<ChangelogRecord>& records_;
  StepTag tag_;
  bool begin_ = false;
  ChangelogRecord commit_;
};

// Reading the changelog (a restore, a standby copy): records come out a whole step at a
// time, when the step's commit record arrives. A step whose writer stopped before
// committing it (killed while producing it) never comes out: when another writer's
// records follow, its records are dropped; at the end of what was read they are held, and
// resume_at() is where the next read must start so that they are read again.
template <typename Rec>
class StepGate {
 public:
  // `rec` at `offset`, with its key (`slot`) and payload. Apply(Rec&) runs for each record
  // of a committed step, in log order (the commit records themselves are not state).
  template <typename Apply>
  void offer(Rec&& rec, std::string_view slot, std::string_view payload, int64_t offset,
             Apply&& apply) {
    const auto tag = changelog_tag(payload);
    if (!tag && writer_ == 0) {  // a changelog written before steps were tagged
      apply(rec);
      return;
    }
    if (tag && tag->writer != writer_) {
      dropped_ += held_.size();  // the previous writer's step that was never committed
      held_.clear();
      writer_ = tag->writer;
    }
    if (tag) seq_ = tag->seq;  // a delete (untagged) is part of the step being read
    if (tag && is_commit_slot(slot)) {
      while (!held_.empty() && held_.front().seq <= tag->seq) {
        apply(held_.front().rec);
        held_.pop_front();
      }
      return;
    }
    held_.push_back({seq_, offset, std::move(rec)});
  }
  // The offset to read from next time: the first held record's, or `next`.
  int64_t resume_at(int64_t next) const { return held_.empty() ? next : held_.front().offset; }
  size_t held() const { return held_.size(); }
  // Records dropped so far: steps never committed by writers that stopped.
  uint64_t dropped() const { return dropped_; }

 private:
  struct Held {
    uint64_t seq;
    int64_t offset;
    Rec rec;
  };
  std::deque<Held> held_;
  uint64_t writer_ = 0;
  uint64_t seq_ = 0;
  uint64_t dropped_ = 0;
};

// Applies `records` in order to `b` (the latest write of a key wins, as compaction keeps
// it). "" or why a record cannot be one of ours (an unknown column family, an empty key);
// nothing of the records is applied then.
std::string restore_into(Store::Batch& b, const std::vector<ChangelogRecord>& records);

}  // namespace omniroute::router
