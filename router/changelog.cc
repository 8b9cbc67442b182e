#include "router/changelog.h"

#include <algorithm>

#include <fmt/format.h>

namespace omniroute::router {

namespace {
constexpr std::string_view kCommitKey = "changelog/commit/";

void put_u64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_u64(std::string_view in) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}
}  // namespace

std::string changelog_payload(const ChangelogRecord& r) {
  return r.value ? "v" + *r.value : std::string();
}

std::string changelog_payload(const ChangelogRecord& r, StepTag tag) {
  if (!r.value) return {};
  std::string out;
  out.reserve(17 + r.value->size());
  out.push_back('t');
  put_u64(out, tag.writer);
  put_u64(out, tag.seq);
  out += *r.value;
  return out;
}

std::optional<StepTag> changelog_tag(std::string_view payload) {
  if (payload.size() < 17 || payload[0] != 't') return std::nullopt;
  return StepTag{get_u64(payload.substr(1)), get_u64(payload.substr(9))};
}

ChangelogRecord changelog_record(std::string_view key, std::string_view payload) {
  ChangelogRecord r{std::string(key), std::nullopt};
  if (auto v = changelog_value(payload)) r.value = std::string(*v);
  return r;
}

std::vector<ChangelogRecord> changelog_of(const Store::Batch& b) {
  std::vector<ChangelogRecord> out;
  out.reserve(b.count());
  size_t deletes = 0;
  b.for_each_write([&](std::string_view slot, const std::string* value) {
    if (static_cast<Cf>(static_cast<unsigned char>(slot[0])) == Cf::kLocal) return;
    deletes += value ? 0 : 1;
    out.push_back({std::string(slot), value ? std::optional<std::string>(*value) : std::nullopt});
  });
  if (deletes > 0)
    std::stable_partition(out.begin(), out.end(),
                          [](const auto& r) { return r.value.has_value(); });
  return out;
}

ChangelogRecord commit_record(StepTag tag) {
  return {fmt::format("{}{}{:016x}", static_cast<char>(Cf::kMeta), kCommitKey, tag.writer),
          std::to_string(tag.seq)};
}

bool is_commit_slot(std::string_view slot) {
  return slot.size() > 1 && static_cast<Cf>(static_cast<unsigned char>(slot[0])) == Cf::kMeta &&
         slot.substr(1).starts_with(kCommitKey);
}

StepFrames::StepFrames(const std::vector<ChangelogRecord>& records, StepTag tag)
    : records_(records),
      tag_(tag),
      begin_(records.empty() || !records.front().value),
      commit_(commit_record(tag)) {}

std::pair<std::string_view, std::string> StepFrames::at(size_t i) const {
  const size_t first = begin_ ? 1 : 0;
  if ((begin_ && i == 0) || i == size() - 1) return {commit_.key, changelog_payload(commit_, tag_)};
  const ChangelogRecord& r = records_[i - first];
  return {r.key, changelog_payload(r, tag_)};
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
