// Group membership for the router: cooperative-sticky rebalancing handed to a Rebalance
// handler, watermarks asked of the broker, and the key -> partition function our
// producers use.
#include <chrono>

#include <fmt/format.h>

#include "common/log.h"
#include "kafka/kafka.h"

namespace omniroute::kafka {
namespace {

std::vector<PartitionOffset> to_vector(const rd_kafka_topic_partition_list_t* parts) {
  std::vector<PartitionOffset> out;
  for (int i = 0; parts && i < parts->cnt; ++i)
    out.push_back({parts->elems[i].topic, parts->elems[i].partition, parts->elems[i].offset});
  return out;
}

rd_kafka_topic_partition_list_t* to_list(const std::vector<PartitionOffset>& parts) {
  auto* list = rd_kafka_topic_partition_list_new(static_cast<int>(parts.size()));
  for (const auto& p : parts)
    rd_kafka_topic_partition_list_add(list, p.topic.c_str(), p.partition)->offset = p.offset;
  return list;
}

// Those of `parts` this consumer consumes now (librdkafka refuses an unassign list naming a
// partition that is not in the assignment, e.g. one still restoring). Caller destroys it.
rd_kafka_topic_partition_list_t* consumed_of(rd_kafka_t* rk,
                                             const std::vector<PartitionOffset>& parts) {
  auto* out = rd_kafka_topic_partition_list_new(static_cast<int>(parts.size()));
  rd_kafka_topic_partition_list_t* current = nullptr;
  if (rd_kafka_assignment(rk, &current) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
  for (const auto& p : parts)
    if (rd_kafka_topic_partition_list_find(current, p.topic.c_str(), p.partition))
      rd_kafka_topic_partition_list_add(out, p.topic.c_str(), p.partition);
  rd_kafka_topic_partition_list_destroy(current);
  return out;
}

}  // namespace

int32_t partition_for_key(std::string_view key, int32_t partitions) {
  if (partitions <= 0) return 0;
  return rd_kafka_msg_partitioner_consistent(nullptr, key.data(), key.size(), partitions, nullptr,
                                             nullptr);
}

// librdkafka calls this inside poll. Cooperative protocol: only the partitions that move,
// with incremental (un)assign; an eager strategy set by the operator gets whole
// assignments.
void Consumer::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t* parts, void* opaque) {
  auto* self = static_cast<Consumer*>(opaque);
  Rebalance* on = self->rebalance_.get();
  static log::Logger log = log::get("kafka");
  const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    self->assigned_once_ = true;
    std::vector<PartitionOffset> start =
        on->assigned ? on->assigned(to_vector(parts)) : to_vector(parts);
    rd_kafka_topic_partition_list_t* list = to_list(start);
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, list)) {
        log->error("incremental assign: {}", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(rk, list);
    }
    rd_kafka_topic_partition_list_destroy(list);
    return;
  }
  const bool lost = err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS || rd_kafka_assignment_lost(rk);
  if (on->revoked) on->revoked(to_vector(parts), lost);
  if (cooperative) {
    // Only what is consumed here: a partition the handler never started consuming (still
    // restoring) is not in the local assignment, and librdkafka refuses the whole list then.
    rd_kafka_topic_partition_list_t* consumed = consumed_of(rk, to_vector(parts));
    if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, consumed)) {
      log->error("incremental unassign: {}", rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(consumed);
  } else {
    rd_kafka_assign(rk, nullptr);
  }
}

// librdkafka 2.0.2 aborts (rdkafka_sticky_assignor.c: assertion `assignor_state') when a
// cooperative-sticky member is closed or destroyed before its first assignment (fixed in
// 2.2.0, librdkafka#4312). A member stopped that early waits a little for it; if it still
// has none, its handle is left to the process's exit (it owned nothing; the group drops it
// after session.timeout.ms). True when the normal close may go on.
bool Consumer::before_first_assignment() {
  static log::Logger log = log::get("kafka");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!assigned_once_ && std::chrono::steady_clock::now() < deadline) {
    for (auto& m : poll(100, 100)) (void)m;
  }
  if (assigned_once_) return true;
  log->warn(
      "leaving the group before a first assignment: the handle is left to the exit "
      "(librdkafka 2.0.2 cannot close it yet)");
  closed_ = true;
  if (queue_) {
    rd_kafka_queue_io_event_enable(queue_, -1, nullptr, 0);
    queue_ = nullptr;
  }
  (void)rk_.release();  // intentionally not destroyed: see above
  return false;
}

bool Consumer::remove_assignment(const std::vector<PartitionOffset>& parts, std::string& err) {
  if (!cooperative()) {
    err = "the group's protocol is eager: partitions are removed only by a rebalance";
    return false;
  }
  rd_kafka_topic_partition_list_t* list = consumed_of(rk_.get(), parts);
  rd_kafka_error_t* e = list->cnt > 0 ? rd_kafka_incremental_unassign(rk_.get(), list) : nullptr;
  rd_kafka_topic_partition_list_destroy(list);
  if (!e) return true;
  err = rd_kafka_error_string(e);
  rd_kafka_error_destroy(e);
  return false;
}

bool Consumer::cooperative() {
  return std::string_view(rd_kafka_rebalance_protocol(rk_.get())) == "COOPERATIVE";
}

bool Consumer::add_assignment(const std::vector<PartitionOffset>& parts, std::string& err) {
  rd_kafka_topic_partition_list_t* list = to_list(parts);
  rd_kafka_error_t* e = rd_kafka_incremental_assign(rk_.get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  if (!e) return true;
  err = rd_kafka_error_string(e);
  rd_kafka_error_destroy(e);
  return false;
}

bool Consumer::query_watermarks(const std::string& topic, int32_t partition, int64_t& low,
                                int64_t& high, int timeout_ms) {
  return rd_kafka_query_watermark_offsets(rk_.get(), topic.c_str(), partition, &low, &high,
                                          timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

}  // namespace omniroute::kafka
