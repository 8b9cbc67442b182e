// The router's durable state: one RocksDB with a column family per kind of record (every
// key is built in keys.h).
// Every step of the router writes its state changes, the consumed Kafka offsets and the
// outbox in one Batch, committed atomically. Reads inside a step see the step's writes.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

namespace omniroute::router {

enum class Cf : size_t {
  kMeta = 0,       // offsets, id counters
  kCustomers,      // handles, identities, Customer records, conversation index (customers.h)
  kConversations,  // <ws>/<conversation> -> Conversation
  kMessages,       // <ws>/<conversation>/<seq:010> -> ConversationMessage
  kThreads,        // <ws>/<inbox>/<thread key> -> conversation id
  kDedup,          // m/<ws>/<inbox>/<external id>, r/<ws>/<agent>/<reply id> -> DedupEntry
  kAgents,         // <ws>/<agent> -> Agent; <ws>/<agent>/<conversation> -> "" while held
  kOutbox,         // <seq:020> -> OutboxEntry
  kQueue,          // <ws>/<queue>/<9-prio:1>/<due:013>/<seq:020> -> conversation id
  kOutboundIndex,  // <ws>/<outbound id> -> DedupEntry (conversation, seq)
  kTimers,         // <due:013>/<kind>/<ws>/<id>/<ref> -> "" (durable timers)
  kTrail,          // <ws>/<conversation>/<n:020> -> RoutingEvent (decision trail, at most
                   // router.max_trail); <ws>/<conversation> -> "<first n> <last n>"
  kLocal,          // this copy only, never in the changelog: its id, the changelog checkpoint,
                   // steps whose changelog records Kafka has not acknowledged yet
  kCount
};

const char* cf_name(Cf cf);

class Store {
 public:
  // A set of reads and writes applied atomically by commit(). Reads see the batch's own
  // writes. Writes are kept by key until the commit, so a record rewritten many times in
  // one batch (a conversation taking several messages, counters, offsets) is written once.
  class Batch {
   public:
    bool get(Cf cf, std::string_view key, std::string* value);
    // What get() gives for each of `keys` (ascending, mostly neighbours in the store: a
    // conversation's messages), read with one iterator instead of a lookup each:
    // fn(index, value) for every key present, in order.
    void get_sorted(Cf cf, const std::vector<std::string>& keys,
                    const std::function<void(size_t, std::string_view)>& fn);
    void put(Cf cf, std::string_view key, std::string_view value);
    void del(Cf cf, std::string_view key);
    // Distinct keys written or deleted so far.
    size_t count() const { return writes_.size(); }
    // Bytes of keys and values the commit will write (benchmarks size their baselines with it).
    size_t bytes_written() const;
    // Empties the batch for reuse after a commit.
    void clear() { writes_.clear(); }
    // Every distinct write in key order: `slot` is the column family byte + key, `value`
    // null for a delete (what a changelog carries; router/changelog.h).
    void for_each_write(
        const std::function<void(std::string_view slot, const std::string* value)>& fn) const;
    // Writes by slot, as for_each_write gave them (a restore from a changelog).
    void put_slot(std::string_view slot, std::string_view value);
    void del_slot(std::string_view slot);

   private:
    friend class Store;
    explicit Batch(Store& s) : store_(s) {}
    struct Write {
      std::string value;
      bool deleted = false;
    };
    static std::string slot(Cf cf, std::string_view key);
    Store& store_;
    std::unordered_map<std::string, Write> writes_;  // column family byte + key
  };

  // A restore's write: changelog records straight into one RocksDB write batch, in the order
  // given (no reads, no per-key merging: the latest write of a key wins, as on a compacted
  // topic), committed by commit(Replay&).
  class Replay {
   public:
    // False (nothing added) when `slot` is not a key of the replicated state (too short, an
    // unknown column family, or kLocal). A null `value` is a delete.
    bool add(std::string_view slot, const std::string_view* value);
    void put(Cf cf, std::string_view key, std::string_view value);
    size_t count() const { return count_; }

   private:
    friend class Store;
    explicit Replay(Store& s) : store_(s) {}
    Store& store_;
    rocksdb::WriteBatch wb_;
    size_t count_ = 0;
  };

  // A restore into a store that was empty when it began: changelog records gathered in
  // memory, then written as one sorted file per column family and ingested (RocksDB's bulk
  // load: no memtable, no write-ahead log, no flush, and into an empty store no compaction).
  // The latest write of a key wins, as in Replay. Committed by ingest(Load&).
  class Load {
   public:
    // As Replay::add.
    bool add(std::string_view slot, const std::string_view* value);
    size_t count() const { return count_; }
    size_t bytes() const { return bytes_; }

    ~Load();
    // The memory restores keep for the next one (the blocks of finished loads): given back
    // to the system when no restore runs.
    static void release_spare_memory();

   private:
    friend class Store;
    Load() = default;
    struct Entry {
      const char* key;
      uint32_t key_size, value_size;  // the value follows the key
      bool deleted;
    };
    static constexpr size_t kFamilies = static_cast<size_t>(Cf::kLocal);
    char* room(size_t n);  // n bytes in the current block, or a new one
    void clear();
    // Keys and values back to back in blocks that never move (no copy as they grow), reused
    // from one restore to the next: fresh pages cost a page fault each, which was a large
    // part of a restore's time.
    std::vector<std::unique_ptr<char[]>> blocks_;
    size_t used_ = 0;                             // in the last block
    std::vector<std::unique_ptr<char[]>> large_;  // records larger than a block
    std::array<std::vector<Entry>, kFamilies> entries_;
    size_t count_ = 0, bytes_ = 0;
    bool ingested_ = false;  // a delete must be kept as a tombstone once something is in
  };

  // Opens (creating if needed) the state directory. nullptr + `err` on failure.
  static std::unique_ptr<Store> open(const std::string& dir, bool sync, std::string& err);
  // Opens an existing state directory read-only (inspection while a router runs).
  static std::unique_ptr<Store> open_read_only(const std::string& dir, std::string& err);
  ~Store();

  Batch begin() { return Batch(*this); }
  Replay begin_replay() { return Replay(*this); }
  // Writes the replay atomically and empties it; "" or the error (nothing written then).
  // `logged` false: without the write-ahead log, so a crash loses it until flush() returned.
  [[nodiscard]] std::string commit(Replay& replay, bool logged = true);
  // The store must have been empty when `load` began. Writes what `load` holds into files
  // and ingests them (every family at once: all or nothing), then empties it; "" or the
  // error. Durable when it returns "".
  Load begin_load() { return Load(); }
  [[nodiscard]] std::string ingest(Load& load);
  // Writes every family's memtable to files and waits: what was committed without the
  // write-ahead log is durable once it returns "".
  [[nodiscard]] std::string flush();
  // Applies the batch atomically. "" or an error text; on error nothing was applied.
  // Why a commit failed. `retriable`: the disk or the process ran short of something (an
  // I/O error such as "too many open files", no space, busy) and the same batch may be
  // committed again after resume(); otherwise the store cannot go on.
  struct CommitError {
    bool retriable = false;
    std::string message;
  };
  // nullopt when the batch is committed; the batch is kept either way (commit it again).
  [[nodiscard]] std::optional<CommitError> try_commit(Batch& batch);
  // "" or the error's text.
  [[nodiscard]] std::string commit(Batch& batch) {
    auto e = try_commit(batch);
    return e ? e->message : std::string();
  }
  // After a retriable error: asks RocksDB to leave the read-only state it enters on a
  // failed write. True when it accepts writes again.
  bool resume();

  bool get(Cf cf, std::string_view key, std::string* value);
  // As Batch::get_sorted, without a batch.
  void get_sorted(Cf cf, const std::vector<std::string>& keys,
                  const std::function<void(size_t, std::string_view)>& fn);
  // Calls fn(key, value) for keys starting with `prefix`, in order, until fn returns false.
  void scan(Cf cf, std::string_view prefix,
            const std::function<bool(std::string_view, std::string_view)>& fn);
  // Approximate size on disk in bytes (all families).
  uint64_t approximate_size();

 private:
  Store() = default;
  static std::unique_ptr<Store> open_with(
      const std::function<rocksdb::Status(std::vector<rocksdb::ColumnFamilyHandle*>&,
                                          rocksdb::DB**)>& opener,
      std::string& err, bool read_only = false);
  rocksdb::ColumnFamilyHandle* h(Cf cf) const { return handles_[static_cast<size_t>(cf)]; }
  // The family of a changelog slot (family byte + key) of the replicated state; nullopt
  // when it is too short, names an unknown family, or kLocal (Replay::add, Load::add).
  static std::optional<Cf> state_family(std::string_view slot) {
    if (slot.size() < 2 || static_cast<unsigned char>(slot[0]) >= static_cast<size_t>(Cf::kLocal))
      return std::nullopt;
    return static_cast<Cf>(static_cast<unsigned char>(slot[0]));
  }
  std::unique_ptr<rocksdb::DB> db_;
  std::array<rocksdb::ColumnFamilyHandle*, static_cast<size_t>(Cf::kCount)> handles_{};
  std::vector<rocksdb::ColumnFamilyHandle*> unknown_;
  rocksdb::WriteOptions write_options_;
};

}  // namespace omniroute::router
