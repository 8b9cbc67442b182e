// Durable key-value state of a connector (RocksDB in the connector's state_dir): SMS
// opt-outs, WhatsApp service windows, chat sessions and transcripts. Small records,
// written synchronously to the WAL (a crash keeps what was acknowledged to a customer).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace rocksdb {
class DB;
}

namespace omniroute::connectors::state {

class Kv {
 public:
  // Opens or creates `dir`. nullptr and `err` when it cannot (e.g. another process has it).
  static std::unique_ptr<Kv> open(const std::string& dir, std::string& err);
  ~Kv();

  bool get(std::string_view key, std::string* value) const;
  // "" or the error text (a customer-facing promise may depend on it: check it).
  [[nodiscard]] std::string put(std::string_view key, std::string_view value);
  [[nodiscard]] std::string del(std::string_view key);
  // fn(key, value) for keys starting with `prefix`, in order, until fn returns false.
  void scan(std::string_view prefix,
            const std::function<bool(std::string_view, std::string_view)>& fn) const;

 private:
  Kv() = default;
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace omniroute::connectors::state
