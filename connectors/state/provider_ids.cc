#include "connectors/state/provider_ids.h"

#include <cstdlib>
#include <vector>

#include <fmt/format.h>

namespace omniroute::connectors::state {

std::string ProviderIds::remember(const std::string& provider_id, const std::string& outbound_id,
                                  const std::string& conversation_id, int64_t now_ms) {
  if (provider_id.empty()) return {};
  return kv_.put(prefix_ + provider_id,
                 fmt::format("{} {} {}", now_ms, outbound_id, conversation_id));
}

std::optional<ProviderIds::Ours> ProviderIds::find(const std::string& provider_id) const {
  std::string v;
  if (provider_id.empty() || !kv_.get(prefix_ + provider_id, &v)) return std::nullopt;
  const auto a = v.find(' ');
  if (a == std::string::npos) return std::nullopt;
  const auto b = v.find(' ', a + 1);
  Ours o;
  o.outbound_id = v.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
  o.conversation_id = b == std::string::npos ? "" : v.substr(b + 1);
  return o;
}

size_t ProviderIds::prune(int64_t now_ms) {
  const int64_t cutoff = now_ms - ttl_ms_;
  std::vector<std::string> old;
  kv_.scan(prefix_, [&](std::string_view k, std::string_view v) {
    if (std::atoll(std::string(v.substr(0, v.find(' '))).c_str()) < cutoff) old.emplace_back(k);
    return true;
  });
  size_t n = 0;
  for (const auto& k : old) n += kv_.del(k).empty() ? 1 : 0;
  return n;
}

}  // namespace omniroute::connectors::state
