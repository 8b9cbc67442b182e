// Which of our outbound messages a channel's own message id is (Twilio's SID, Meta's
// wamid/mid, Telegram's message_id), so the channel's receipts and status callbacks become
// DeliveryStatus for the right reply. Kept in the connector's Kv under
// "<prefix><provider id>" -> "<ms> <outbound id> <conversation id>" and pruned after a TTL
// (receipts come within days).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "connectors/state/kv.h"

namespace omniroute::connectors::state {

class ProviderIds {
 public:
  ProviderIds(Kv& kv, std::string prefix, int64_t ttl_ms)
      : kv_(kv), prefix_(std::move(prefix)), ttl_ms_(ttl_ms) {}

  struct Ours {
    std::string outbound_id, conversation_id;
  };
  // "" or the store's error.
  [[nodiscard]] std::string remember(const std::string& provider_id, const std::string& outbound_id,
                                     const std::string& conversation_id, int64_t now_ms);
  std::optional<Ours> find(const std::string& provider_id) const;
  // Forgets ids older than the TTL; how many.
  size_t prune(int64_t now_ms);

 private:
  Kv& kv_;
  std::string prefix_;
  int64_t ttl_ms_;
};

}  // namespace omniroute::connectors::state
