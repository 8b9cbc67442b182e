// The outbox: every Kafka record a step produces (outbound messages, routing events, dead
// letters) is written to the outbox family in the step's batch and sent by the runtime
// only after the commit; Kafka's acknowledgement deletes it. Also the id counters (kept in
// memory, written once per step) and the decision trail `inspect` shows, bounded by
// router.max_trail per conversation. Owned by the engine's thread.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "omniroute/v1/events.pb.h"
#include "omniroute/v1/routing.pb.h"
#include "omniroute/v1/store.pb.h"
#include "router/store.h"

namespace prometheus {
class Counter;
}

namespace omniroute::router {

struct AgentRt;

struct Parts;

// A Kafka record to produce, already written to the outbox family under `key`.
struct OutboxRecord {
  std::string key;  // outbox key; delete it once Kafka acknowledged
  v1::store::OutboxEntry entry;
};

class Outbox {
 public:
  explicit Outbox(Parts& p) : p_(p) {}

  // The next value of the counter `name` ("conversation", "outbox", "routing", ...).
  uint64_t next_seq(Store::Batch& b, const std::string& name);
  // Writes the counters changed in this step into `b` (once per step, before the commit).
  void flush_seqs(Store::Batch& b);

  void produce(Store::Batch& b, const std::string& topic, const std::string& key,
               const std::string& value);
  // A decision (or, at debug, a per-message event) on omni.routing; decisions also go to
  // the conversation's trail.
  void routing_event(Store::Batch& b, const v1::store::Conversation& c, v1::RoutingEvent::Kind kind,
                     const std::string& agent, const std::string& reason,
                     const std::vector<v1::RoutingEvent::Candidate>& considered = {},
                     const std::string& customer_id = {});
  // An agent's presence as the router now sees it (KIND_PRESENCE on omni.routing), after
  // every change: analytics counts online and handling time from these.
  void presence_event(Store::Batch& b, const AgentRt& a);
  void dead_letter(Store::Batch& b, const std::string& topic, int32_t partition, int64_t offset,
                   std::string_view key, std::string_view value, const std::string& reason);

  // An OutboundMessage to the customer of `c`, addressed and stamped; the caller adds the
  // content. Its id is "<ws>/<conversation>/<seq>" for a history message.
  v1::OutboundMessage outbound(const v1::store::Conversation& c, const std::string& outbound_id);
  // Puts `out` on its channel's topic; with `seq` (a history message), also indexes it so
  // delivery statuses and email replies find the conversation.
  void send_outbound(Store::Batch& b, const v1::OutboundMessage& out, uint64_t seq);

  // A live notice for a web chat visitor (typing, agent joined, queue position, resolved):
  // an OutboundMessage with `notice`, no history, no status. Other channels get none.
  void notice(Store::Batch& b, const v1::store::Conversation& c, const v1::ChannelNotice& n,
              const config::Agent* from);

  // Kafka refused a record for good: it leaves the outbox for omni.dlq with the reason,
  // and a reply's desk sees it FAILED.
  void refused(Store::Batch& b, const OutboxRecord& r, const std::string& reason);
  std::vector<OutboxRecord> pending();
  std::vector<OutboxRecord> take() { return std::move(records_); }

 private:
  void trail(Store::Batch& b, const v1::store::Conversation& c, uint64_t seq,
             const std::string& value);
  Parts& p_;
  std::map<std::string, uint64_t> seqs_;  // cached id counters
  std::set<std::string> dirty_seqs_;      // counters changed in this step
  std::vector<OutboxRecord> records_;
  uint64_t notice_seq_ = 0;
  // omniroute_routing_events_total (and _sla_events_) by workspace and kind, looked up once.
  std::map<std::pair<std::string, int>, std::vector<prometheus::Counter*>> event_counters_;
};

}  // namespace omniroute::router
