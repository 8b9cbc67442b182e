// Store::Load: a restore into an empty store as RocksDB's bulk load (sorted files written
// beside the store and ingested), instead of a memtable per family filled, flushed and
// compacted. The restore of a partition is most of the work of a take-over without a
// standby copy; the memtable path spent most of it inserting into skip lists and faulting
// in fresh memtable pages.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <numeric>

#include <fmt/format.h>
#include <rocksdb/sst_file_writer.h>

#include "router/store.h"

namespace omniroute::router {

namespace {
constexpr size_t kBlock = 1 << 20;
std::mutex spare_mu;
std::vector<std::unique_ptr<char[]>> spare;  // blocks of finished loads
}  // namespace

Store::Load::~Load() {
  clear();
}

void Store::Load::release_spare_memory() {
  std::vector<std::unique_ptr<char[]>> drop;
  std::lock_guard lock(spare_mu);
  drop.swap(spare);
}

char* Store::Load::room(size_t n) {
  if (n > kBlock) {  // a record larger than a block: memory of its own, not reused
    large_.push_back(std::make_unique<char[]>(n));
    return large_.back().get();
  }
  if (blocks_.empty() || used_ + n > kBlock) {
    std::unique_ptr<char[]> b;
    {
      std::lock_guard lock(spare_mu);
      if (!spare.empty()) {
        b = std::move(spare.back());
        spare.pop_back();
      }
    }
    if (!b) b.reset(new char[kBlock]);  // not zeroed: every byte used is written first
    blocks_.push_back(std::move(b));
    used_ = 0;
  }
  char* at = blocks_.back().get() + used_;
  used_ += n;
  return at;
}

void Store::Load::clear() {
  for (auto& e : entries_) e.clear();
  count_ = bytes_ = 0;
  used_ = 0;
  large_.clear();
  std::lock_guard lock(spare_mu);
  for (auto& b : blocks_)
    if (b) spare.push_back(std::move(b));
  blocks_.clear();
}

bool Store::Load::add(std::string_view slot, const std::string_view* value) {
  const auto family = state_family(slot);
  if (!family) return false;
  const auto cf = static_cast<size_t>(*family);
  const std::string_view key = slot.substr(1);
  const std::string_view v = value ? *value : std::string_view();
  char* at = room(key.size() + v.size());
  std::memcpy(at, key.data(), key.size());
  if (!v.empty()) std::memcpy(at + key.size(), v.data(), v.size());
  entries_[cf].push_back(
      {at, static_cast<uint32_t>(key.size()), static_cast<uint32_t>(v.size()), value == nullptr});
  ++count_;
  bytes_ += key.size() + v.size() + sizeof(Entry);
  return true;
}

std::string Store::ingest(Load& load) {
  if (load.count_ == 0) return {};
  static std::atomic<uint64_t> files{0};
  std::vector<rocksdb::IngestExternalFileArg> args;
  std::vector<std::string> written;
  auto cleanup = [&] {
    std::error_code ec;
    for (const auto& f : written) std::filesystem::remove(f, ec);
  };
  for (size_t cf = 0; cf < Load::kFamilies; ++cf) {
    auto& entries = load.entries_[cf];
    if (entries.empty()) continue;
    auto key = [](const Load::Entry& e) { return std::string_view(e.key, e.key_size); };
    // In key order; for equal keys in the order written, so the last one is the latest.
    std::vector<uint32_t> order(entries.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return key(entries[a]) < key(entries[b]); });
    rocksdb::ColumnFamilyHandle* handle = h(static_cast<Cf>(cf));
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), db_->GetOptions(handle), handle);
    const std::string path =
        fmt::format("{}/load-{}-{}.sst", db_->GetName(), files.fetch_add(1), cf);
    rocksdb::Status st = writer.Open(path);
    if (!st.ok()) {
      cleanup();
      return st.ToString();
    }
    written.push_back(path);
    size_t kept = 0;
    for (size_t i = 0; i < order.size(); ++i) {
      if (i + 1 < order.size() && key(entries[order[i + 1]]) == key(entries[order[i]]))
        continue;  // a later write of the same key follows
      const Load::Entry& e = entries[order[i]];
      const rocksdb::Slice k(e.key, e.key_size);
      if (e.deleted) {
        // Into a store nothing was ingested into yet (empty): nothing to delete.
        if (!load.ingested_) continue;
        st = writer.Delete(k);
      } else {
        st = writer.Put(k, rocksdb::Slice(e.key + e.key_size, e.value_size));
      }
      if (!st.ok()) break;
      ++kept;
    }
    if (st.ok() && kept == 0) {
      // Only deletes of keys it never had: no file (RocksDB refuses an empty one).
      written.pop_back();
      std::error_code ec;
      std::filesystem::remove(path, ec);
      continue;
    }
    if (st.ok()) st = writer.Finish();
    if (!st.ok()) {
      cleanup();
      return st.ToString();
    }
    rocksdb::IngestExternalFileArg arg;
    arg.column_family = handle;
    arg.external_files = {path};
    arg.options.move_files = true;  // a hard link, not a copy
    args.push_back(std::move(arg));
  }
  if (!args.empty()) {
    rocksdb::Status st = db_->IngestExternalFiles(args);
    if (!st.ok()) {
      cleanup();
      return st.ToString();
    }
  }
  cleanup();  // the links beside the store's own
  load.clear();
  load.ingested_ = true;
  return {};
}

}  // namespace omniroute::router
