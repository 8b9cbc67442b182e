#include "router/changelog.h"

#include <fmt/format.h>

namespace omniroute::router {

std::string changelog_payload(const ChangelogRecord& r) {
  return r.value ? "v" + *r.value : std::string();
}

ChangelogRecord changelog_record(std::string_view key, std::string_view payload) {
  ChangelogRecord r{std::string(key), std::nullopt};
  if (!payload.empty()) r.value = std::string(payload.substr(1));
  return r;
}

std::vector<ChangelogRecord> changelog_of(const Store::Batch& b) {
  std::vector<ChangelogRecord> out;
  out.reserve(b.count());
  b.for_each_write([&](std::string_view slot, const std::string* value) {
    if (static_cast<Cf>(static_cast<unsigned char>(slot[0])) == Cf::kLocal) return;
    out.push_back({std::string(slot), value ? std::optional<std::string>(*value) : std::nullopt});
  });
  return out;
}

std::string restore_into(Store::Batch& b, const std::vector<ChangelogRecord>& records) {
  for (size_t i = 0; i < records.size(); ++i) {
    const std::string& k = records[i].key;
    if (k.size() < 2 || static_cast<unsigned char>(k[0]) >= static_cast<size_t>(Cf::kLocal))
      return fmt::format("changelog record {} is not a router state key", i);
  }
  for (const auto& r : records) {
    if (r.value)
      b.put_slot(r.key, *r.value);
    else
      b.del_slot(r.key);
  }
  return {};
}

}  // namespace omniroute::router
