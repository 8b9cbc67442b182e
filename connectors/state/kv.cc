#include "connectors/state/kv.h"

#include <filesystem>

#include <rocksdb/db.h>
#include <rocksdb/options.h>

namespace omniroute::connectors::state {

std::unique_ptr<Kv> Kv::open(const std::string& dir, std::string& err) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    err = "cannot create " + dir + ": " + ec.message();
    return nullptr;
  }
  rocksdb::Options o;
  o.create_if_missing = true;
  o.max_open_files = 64;
  o.keep_log_file_num = 2;
  rocksdb::DB* db = nullptr;
  auto st = rocksdb::DB::Open(o, dir, &db);
  if (!st.ok()) {
    err = "state " + dir + ": " + st.ToString();
    return nullptr;
  }
  std::unique_ptr<Kv> kv(new Kv());
  kv->db_.reset(db);
  return kv;
}

Kv::~Kv() {
  if (db_) db_->Close();
}

bool Kv::get(std::string_view key, std::string* value) const {
  return db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), value).ok();
}

std::string Kv::put(std::string_view key, std::string_view value) {
  rocksdb::WriteOptions w;
  auto st = db_->Put(w, rocksdb::Slice(key.data(), key.size()),
                     rocksdb::Slice(value.data(), value.size()));
  return st.ok() ? std::string() : st.ToString();
}

std::string Kv::del(std::string_view key) {
  auto st = db_->Delete(rocksdb::WriteOptions(), rocksdb::Slice(key.data(), key.size()));
  return st.ok() ? std::string() : st.ToString();
}

void Kv::scan(std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  const rocksdb::Slice p(prefix.data(), prefix.size());
  for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next()) {
    if (!fn(std::string_view(it->key().data(), it->key().size()),
            std::string_view(it->value().data(), it->value().size())))
      break;
  }
}

}  // namespace omniroute::connectors::state
