// The router's changelog, as records: every write of a committed step (column family byte
// + key; the new value, or none for a delete), and a store rebuilt from them. Groundwork
// for failover (issue 16: a new owner restores a partition from a compacted Kafka topic
// before it serves); nothing produces these to Kafka yet.
#pragma once

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

// On the changelog topic the key is the record's key and the payload "v" + the value, or
// null for a delete (a tombstone, which compaction removes): an empty value stays a value.
std::string changelog_payload(const ChangelogRecord& r);  // "" = send a null payload
ChangelogRecord changelog_record(std::string_view key, std::string_view payload);
// The value a payload carries, as a view into it; nullopt for a tombstone.
inline std::optional<std::string_view> changelog_value(std::string_view payload) {
  if (payload.empty()) return std::nullopt;
  return payload.substr(1);
}

// The records of a step's batch, in key order (the local-only family left out).
std::vector<ChangelogRecord> changelog_of(const Store::Batch& b);

// Applies `records` in order to `b` (the latest write of a key wins, as compaction keeps
// it). "" or why a record cannot be one of ours (an unknown column family, an empty key);
// nothing of the records is applied then.
std::string restore_into(Store::Batch& b, const std::vector<ChangelogRecord>& records);

}  // namespace omniroute::router
