// What happens to outbox records Kafka will never take.
#include "router/engine.h"

namespace omniroute::router {

void Engine::outbox_refused(Store::Batch& b, const OutboxRecord& r, const std::string& reason) {
  b.del(Cf::kOutbox, r.key);
  const std::string& topic = r.entry.topic();
  log_->error("outbox record {} for {} refused by Kafka: {}; sent to the DLQ", r.key, topic,
              reason);
  if (topic != cfg_->kafka.topics.dlq) {
    dead_letter(b, topic, -1, -1, r.entry.key(), r.entry.value(),
                "Kafka refused the record: " + reason);
  }
  if (topic.rfind(cfg_->kafka.topics.outbound_prefix, 0) != 0) return;
  v1::OutboundMessage out;
  if (!out.ParseFromString(r.entry.value()) || out.outbound_id().empty()) return;
  v1::DeliveryStatus s;
  s.set_workspace_id(out.workspace_id());
  s.set_inbox_id(out.inbox_id());
  s.set_channel(out.channel());
  s.set_outbound_id(out.outbound_id());
  s.set_conversation_id(out.conversation_id());
  s.set_state(v1::DeliveryStatus::STATE_FAILED);
  s.set_detail("not sent: Kafka refused the message (" + reason + ")");
  s.set_at_ms(clock_.now_ms());
  on_delivery_status(b, s);
}

}  // namespace omniroute::router
