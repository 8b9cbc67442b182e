#include "router/store.h"

#include <algorithm>

#include <filesystem>
#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>

namespace omniroute::router {

const char* cf_name(Cf cf) {
  static constexpr const char* kNames[] = {
      "default", "customers", "conversations",  "messages", "threads", "dedup", "agents",
      "outbox",  "queue",     "outbound_index", "timers",   "trail",   "local"};
  return kNames[static_cast<size_t>(cf)];
}

namespace {
// Memory is bounded for the whole DB, not per family: ten families with RocksDB's default
// 64 MB memtables each would let the router grow past a gigabyte, and make recovery replay
// as much WAL.
constexpr size_t kMemtableBudget = 64 << 20;
constexpr size_t kBlockCache = 32 << 20;

rocksdb::ColumnFamilyOptions cf_options() {
  static std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(kBlockCache);
  rocksdb::ColumnFamilyOptions o;
  o.write_buffer_size = 16 << 20;
  o.max_write_buffer_number = 2;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  t.cache_index_and_filter_blocks = true;
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  o.compression = rocksdb::kLZ4Compression;
  return o;
}

std::vector<rocksdb::ColumnFamilyDescriptor> descriptors() {
  std::vector<rocksdb::ColumnFamilyDescriptor> out;
  for (size_t i = 0; i < static_cast<size_t>(Cf::kCount); ++i) {
    out.emplace_back(cf_name(static_cast<Cf>(i)), cf_options());
  }
  return out;
}
}  // namespace

std::unique_ptr<Store> Store::open(const std::string& dir, bool sync, std::string& err) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    err = "cannot create " + dir + ": " + ec.message();
    return nullptr;
  }
  rocksdb::DBOptions opts;
  opts.create_if_missing = true;
  opts.create_missing_column_families = true;
  opts.IncreaseParallelism(2);
  // One budget for every store of the process (a store per partition).
  static auto budget = std::make_shared<rocksdb::WriteBufferManager>(kMemtableBudget);
  opts.write_buffer_manager = budget;
  opts.max_total_wal_size = 2 * kMemtableBudget;
  opts.keep_log_file_num = 3;
  // After a crash the WAL is replayed into memtables and left there (it is still in the
  // WAL), instead of being flushed to new files before the router may start.
  opts.avoid_flush_during_recovery = true;
  // Families missing from the directory (a new state dir, or one from an older version)
  // are created in one call: RocksDB rewrites and re-verifies its OPTIONS file for every
  // family created, which made opening a fresh directory cost tens of milliseconds.
  std::vector<std::string> existing;
  if (!rocksdb::DB::ListColumnFamilies(opts, dir, &existing).ok()) existing = {"default"};
  std::vector<rocksdb::ColumnFamilyDescriptor> open_now;
  for (const auto& name : existing) open_now.emplace_back(name, cf_options());
  std::vector<std::string> missing;
  for (const auto& d : descriptors()) {
    if (std::find(existing.begin(), existing.end(), d.name) == existing.end())
      missing.push_back(d.name);
  }
  auto s = open_with(
      [&](auto& handles, rocksdb::DB** db) {
        auto st = rocksdb::DB::Open(opts, dir, open_now, &handles, db);
        if (!st.ok() || missing.empty()) return st;
        std::vector<rocksdb::ColumnFamilyHandle*> created;
        st = (*db)->CreateColumnFamilies(cf_options(), missing, &created);
        handles.insert(handles.end(), created.begin(), created.end());
        return st;
      },
      err);
  if (s) s->write_options_.sync = sync;
  return s;
}

std::unique_ptr<Store> Store::open_read_only(const std::string& dir, std::string& err) {
  rocksdb::DBOptions opts;
  std::vector<std::string> existing;
  auto st = rocksdb::DB::ListColumnFamilies(opts, dir, &existing);
  if (!st.ok()) {
    err = st.ToString();
    return nullptr;
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> open_now;
  for (const auto& name : existing) open_now.emplace_back(name, cf_options());
  return open_with(
      [&](auto& handles, rocksdb::DB** db) {
        return rocksdb::DB::OpenForReadOnly(opts, dir, open_now, &handles, db);
      },
      err, /*read_only=*/true);
}

std::unique_ptr<Store> Store::open_with(
    const std::function<rocksdb::Status(std::vector<rocksdb::ColumnFamilyHandle*>&, rocksdb::DB**)>&
        opener,
    std::string& err, bool read_only) {
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status st = opener(handles, &db);
  if (!st.ok()) {
    err = st.ToString();
    return nullptr;
  }
  std::unique_ptr<Store> s(new Store());
  s->db_.reset(db);
  // Handles by family name; families this version does not know stay open (RocksDB wants
  // every family opened) but unused.
  for (auto* h : handles) {
    bool known = false;
    for (size_t i = 0; i < static_cast<size_t>(Cf::kCount); ++i) {
      if (h->GetName() == cf_name(static_cast<Cf>(i))) {
        s->handles_[i] = h;
        known = true;
      }
    }
    if (!known) s->unknown_.push_back(h);
  }
  for (auto* h : s->handles_) {
    if (!h && !read_only) {  // read-only: a family an older router never made reads as empty
      err = "state directory is missing a column family";
      return nullptr;
    }
  }
  return s;
}

Store::~Store() {
  if (!db_) return;
  for (auto* h : handles_) {
    if (h) db_->DestroyColumnFamilyHandle(h);
  }
  for (auto* h : unknown_) db_->DestroyColumnFamilyHandle(h);
  db_->Close();
}

std::string Store::Batch::slot(Cf cf, std::string_view key) {
  std::string k;
  k.reserve(key.size() + 1);
  k.push_back(static_cast<char>(cf));
  k.append(key);
  return k;
}

bool Store::Batch::get(Cf cf, std::string_view key, std::string* value) {
  if (!writes_.empty()) {
    auto it = writes_.find(slot(cf, key));
    if (it != writes_.end()) {
      if (it->second.deleted) return false;
      *value = it->second.value;
      return true;
    }
  }
  return store_.get(cf, key, value);
}

void Store::Batch::get_sorted(Cf cf, const std::vector<std::string>& keys,
                              const std::function<void(size_t, std::string_view)>& fn) {
  if (writes_.empty()) return store_.get_sorted(cf, keys, fn);
  // The batch's own writes win; the rest come from the store, still in one pass.
  std::vector<std::string> rest;
  std::vector<size_t> where;
  std::vector<const Write*> mine(keys.size(), nullptr);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (auto it = writes_.find(slot(cf, keys[i])); it != writes_.end()) {
      mine[i] = &it->second;
    } else {
      rest.push_back(keys[i]);
      where.push_back(i);
    }
  }
  // Both sides come in key order: the batch's entries before each stored one go first.
  size_t next = 0;
  auto mine_before = [&](size_t end) {
    for (; next < end; ++next)
      if (mine[next] && !mine[next]->deleted) fn(next, mine[next]->value);
  };
  store_.get_sorted(cf, rest, [&](size_t j, std::string_view v) {
    mine_before(where[j]);
    fn(where[j], v);
    next = where[j] + 1;
  });
  mine_before(keys.size());
}

void Store::Batch::put(Cf cf, std::string_view key, std::string_view value) {
  auto& w = writes_[slot(cf, key)];
  w.value.assign(value.data(), value.size());
  w.deleted = false;
}

void Store::Batch::del(Cf cf, std::string_view key) {
  auto& w = writes_[slot(cf, key)];
  w.value.clear();
  w.deleted = true;
}

void Store::Batch::for_each_write(
    const std::function<void(std::string_view slot, const std::string* value)>& fn) const {
  std::vector<const std::pair<const std::string, Write>*> order;
  order.reserve(writes_.size());
  for (const auto& e : writes_) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->first < b->first; });
  for (const auto* e : order) fn(e->first, e->second.deleted ? nullptr : &e->second.value);
}

void Store::Batch::put_slot(std::string_view slot, std::string_view value) {
  auto& w = writes_[std::string(slot)];
  w.value.assign(value.data(), value.size());
  w.deleted = false;
}

void Store::Batch::del_slot(std::string_view slot) {
  auto& w = writes_[std::string(slot)];
  w.value.clear();
  w.deleted = true;
}

size_t Store::Batch::bytes_written() const {
  size_t n = 0;
  for (const auto& [k, w] : writes_) n += k.size() - 1 + w.value.size();
  return n;
}

std::optional<Store::CommitError> Store::try_commit(Batch& batch) {
  if (batch.writes_.empty()) return std::nullopt;
  // In key order: the memtable's skip list inserts a sorted run from where the previous
  // key went instead of searching from the top for each (a third of the commit's cost).
  rocksdb::WriteBatch wb;
  batch.for_each_write([&](std::string_view k, const std::string* value) {
    rocksdb::ColumnFamilyHandle* cf = h(static_cast<Cf>(static_cast<unsigned char>(k[0])));
    rocksdb::Slice key(k.data() + 1, k.size() - 1);
    if (!value)
      wb.Delete(cf, key);
    else
      wb.Put(cf, key, rocksdb::Slice(value->data(), value->size()));
  });
  rocksdb::Status st = db_->Write(write_options_, &wb);
  if (st.ok()) return std::nullopt;
  return CommitError{st.IsIOError() || st.IsBusy() || st.IsTryAgain() || st.IsIncomplete(),
                     st.ToString()};
}

bool Store::Replay::add(std::string_view slot, const std::string_view* value) {
  const auto family = state_family(slot);
  if (!family) return false;
  rocksdb::ColumnFamilyHandle* cf = store_.h(*family);
  const rocksdb::Slice key(slot.data() + 1, slot.size() - 1);
  if (value)
    wb_.Put(cf, key, rocksdb::Slice(value->data(), value->size()));
  else
    wb_.Delete(cf, key);
  ++count_;
  return true;
}

void Store::Replay::put(Cf cf, std::string_view key, std::string_view value) {
  wb_.Put(store_.h(cf), rocksdb::Slice(key.data(), key.size()),
          rocksdb::Slice(value.data(), value.size()));
  ++count_;
}

std::string Store::commit(Replay& replay, bool logged) {
  if (replay.count_ == 0) return {};
  rocksdb::WriteOptions o = write_options_;
  if (!logged) {
    o.disableWAL = true;
    o.sync = false;
  }
  rocksdb::Status st = db_->Write(o, &replay.wb_);
  if (!st.ok()) return st.ToString();
  replay.wb_.Clear();
  replay.count_ = 0;
  return {};
}

std::string Store::flush() {
  rocksdb::FlushOptions o;
  o.wait = true;
  o.allow_write_stall = true;
  std::vector<rocksdb::ColumnFamilyHandle*> all;
  for (auto* h : handles_)
    if (h) all.push_back(h);
  rocksdb::Status st = db_->Flush(o, all);
  return st.ok() ? std::string() : st.ToString();
}

bool Store::resume() {
  return db_->Resume().ok();
}

bool Store::get(Cf cf, std::string_view key, std::string* value) {
  if (!h(cf)) return false;
  return db_->Get(rocksdb::ReadOptions(), h(cf), rocksdb::Slice(key.data(), key.size()), value)
      .ok();
}

void Store::get_sorted(Cf cf, const std::vector<std::string>& keys,
                       const std::function<void(size_t, std::string_view)>& fn) {
  if (!h(cf) || keys.empty()) return;
  // One seek, then steps forward: a point lookup per key searches the memtable's skip list
  // and every level from the top each time (what a Welcome of many long conversations
  // spent its time on). A key far from the last one gets a seek of its own.
  constexpr int kStepsBeforeSeek = 16;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), h(cf)));
  it->Seek(rocksdb::Slice(keys[0].data(), keys[0].size()));
  for (size_t i = 0; i < keys.size(); ++i) {
    const rocksdb::Slice key(keys[i].data(), keys[i].size());
    for (int steps = 0; it->Valid() && it->key().compare(key) < 0; ++steps) {
      if (steps == kStepsBeforeSeek) {
        it->Seek(key);
        break;
      }
      it->Next();
    }
    if (!it->Valid()) return;  // past the last key (the keys are ascending), or an error
    if (it->key() == key) fn(i, std::string_view(it->value().data(), it->value().size()));
  }
}

void Store::scan(Cf cf, std::string_view prefix,
                 const std::function<bool(std::string_view, std::string_view)>& fn) {
  if (!h(cf)) return;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), h(cf)));
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    if (!k.starts_with(rocksdb::Slice(prefix.data(), prefix.size()))) break;
    if (!fn(std::string_view(k.data(), k.size()),
            std::string_view(it->value().data(), it->value().size())))
      break;
  }
}

uint64_t Store::approximate_size() {
  uint64_t total = 0;
  for (auto* hd : handles_) {
    uint64_t v = 0;
    if (db_->GetIntProperty(hd, "rocksdb.total-sst-files-size", &v)) total += v;
    if (db_->GetIntProperty(hd, "rocksdb.size-all-mem-tables", &v)) total += v;
  }
  return total;
}

}  // namespace omniroute::router
