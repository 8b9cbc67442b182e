#include "analytics/db.h"

#include <filesystem>

#include <fmt/format.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

namespace omniroute::analytics {

bool Db::Batch::get(std::string_view key, std::string* value) const {
  if (auto it = writes_.find(key); it != writes_.end()) {
    if (!it->second) return false;
    *value = *it->second;
    return true;
  }
  return db_.get(key, value);
}

void Db::Batch::put(std::string_view key, std::string_view value) {
  writes_.insert_or_assign(std::string(key), std::string(value));
}

void Db::Batch::del(std::string_view key) {
  writes_.insert_or_assign(std::string(key), std::nullopt);
}

std::unique_ptr<Db> Db::open(const std::string& dir, std::string& err) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    err = "cannot create " + dir + ": " + ec.message();
    return nullptr;
  }
  rocksdb::Options o;
  o.create_if_missing = true;
  o.IncreaseParallelism(2);
  o.keep_log_file_num = 3;
  rocksdb::DB* raw = nullptr;
  auto st = rocksdb::DB::Open(o, dir, &raw);
  if (!st.ok()) {
    err = st.ToString();
    return nullptr;
  }
  auto db = std::unique_ptr<Db>(new Db());
  db->db_.reset(raw);
  return db;
}

std::string Db::commit(Batch& b) {
  rocksdb::WriteBatch wb;
  for (const auto& [k, v] : b.writes_) {
    if (v)
      wb.Put(k, *v);
    else
      wb.Delete(k);
  }
  auto st = db_->Write(rocksdb::WriteOptions(), &wb);
  if (!st.ok()) return st.ToString();
  b.writes_.clear();
  return {};
}

bool Db::get(std::string_view key, std::string* value) const {
  return db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), value).ok();
}

void Db::scan(std::string_view prefix, std::string_view from,
              const std::function<bool(std::string_view, std::string_view)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(rocksdb::Slice(from.data(), from.size())); it->Valid(); it->Next()) {
    const auto k = it->key();
    if (!k.starts_with(rocksdb::Slice(prefix.data(), prefix.size()))) break;
    if (!fn(std::string_view(k.data(), k.size()),
            std::string_view(it->value().data(), it->value().size())))
      break;
  }
}

namespace keys {

std::string ms(int64_t unix_ms) {
  return fmt::format("{:013}", unix_ms < 0 ? 0 : unix_ms);
}
std::string offset(int32_t partition) {
  return fmt::format("o/{}", partition);
}
std::string conversation(std::string_view ws, std::string_view id) {
  return fmt::format("c/{}/{}", ws, id);
}
std::string opened(std::string_view ws, int64_t at, std::string_view id) {
  return fmt::format("n/{}/{}/{}", ws, ms(at), id);
}
std::string agent(std::string_view ws, std::string_view id) {
  return fmt::format("a/{}/{}", ws, id);
}
std::string rating(std::string_view ws, int64_t at, std::string_view conversation) {
  return fmt::format("r/{}/{}/{}", ws, ms(at), conversation);
}
std::string trail(std::string_view ws, std::string_view conversation, uint32_t n) {
  return fmt::format("t/{}/{}/{:06}", ws, conversation, n);
}
std::string span(std::string_view ws, int64_t end, std::string_view agent, int kind, int64_t start,
                 std::string_view conversation) {
  return fmt::format("s/{}/{}/{}/{}/{}/{}", ws, ms(end), agent, kind, ms(start), conversation);
}
std::string count(std::string_view ws, int64_t minute, int kind, std::string_view queue,
                  int channel, std::string_view inbox, std::string_view agent,
                  std::string_view language, bool bot) {
  return fmt::format("k/{}/{}/{}/{}/{}/{}/{}/{}/{}", ws, ms(minute), kind, queue, channel, inbox,
                     agent, language, bot ? 1 : 0);
}

}  // namespace keys
}  // namespace omniroute::analytics
