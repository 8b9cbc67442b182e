// The analytics consumer's own RocksDB (one family, keys by prefix; analytics/keys below).
// A Batch collects a poll's writes, with the consumed offsets, and commits them atomically:
// after a crash the consumer resumes exactly after the last committed batch, so every
// event is counted once and a replay from the start gives identical numbers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <rocksdb/db.h>

namespace omniroute::analytics {

class Db {
 public:
  // Reads see the batch's own writes.
  class Batch {
   public:
    bool get(std::string_view key, std::string* value) const;
    void put(std::string_view key, std::string_view value);
    void del(std::string_view key);
    size_t size() const { return writes_.size(); }

   private:
    friend class Db;
    explicit Batch(const Db& db) : db_(db) {}
    const Db& db_;
    std::map<std::string, std::optional<std::string>, std::less<>> writes_;
  };

  static std::unique_ptr<Db> open(const std::string& dir, std::string& err);
  Batch begin() const { return Batch(*this); }
  // "" or the error.
  std::string commit(Batch& b);
  bool get(std::string_view key, std::string* value) const;
  // Keys from `from` (inclusive) while they start with `prefix`; `fn` returns false to stop.
  void scan(std::string_view prefix, std::string_view from,
            const std::function<bool(std::string_view key, std::string_view value)>& fn) const;
  void scan(std::string_view prefix,
            const std::function<bool(std::string_view key, std::string_view value)>& fn) const {
    scan(prefix, prefix, fn);
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
};

// Keys. Times are 13-digit zero-padded Unix ms so that they sort.
namespace keys {
std::string ms(int64_t unix_ms);
std::string offset(int32_t partition);                                     // o/<p>
std::string conversation(std::string_view ws, std::string_view id);        // c/<ws>/<id>
std::string opened(std::string_view ws, int64_t at, std::string_view id);  // n/<ws>/<ms>/<id>
std::string agent(std::string_view ws, std::string_view id);               // a/<ws>/<agent>
// t/<ws>/<conversation>/<n:06>: its routing decisions in order (the drill-down).
std::string trail(std::string_view ws, std::string_view conversation, uint32_t n);
// s/<ws>/<end ms>/<agent>/<kind>/<start ms>/<conversation>: agent spans by end time; no
// span crosses a UTC day, so the spans overlapping [from, to) end in [from, to + 1 day).
std::string span(std::string_view ws, int64_t end, std::string_view agent, int kind, int64_t start,
                 std::string_view conversation);
// r/<ws>/<ms>/<conversation>: a conversation's satisfaction rating (CsatRow) by when it
// was given; a newer answer to the same survey replaces it.
std::string rating(std::string_view ws, int64_t at, std::string_view conversation);
// k/<ws>/<minute ms>/<kind>/<queue>/<channel>/<inbox>/<agent>/<language>/<bot>: events
// counted by the minute they happened in.
std::string count(std::string_view ws, int64_t minute, int kind, std::string_view queue,
                  int channel, std::string_view inbox, std::string_view agent,
                  std::string_view language, bool bot);
}  // namespace keys

}  // namespace omniroute::analytics
