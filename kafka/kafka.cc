#include "kafka/kafka.h"
#include "kafka/conf.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "common/log.h"

namespace omniroute::kafka {
namespace {

std::atomic<uint64_t> g_records_lost{0};

log::Logger logger() {
  static log::Logger l = log::get("kafka");
  return l;
}

}  // namespace

ScopedProperty scoped_property(std::string_view key) {
  for (const auto& [prefix, scope] :
       {std::pair{std::string_view("consumer."), PropertyScope::kConsumer},
        std::pair{std::string_view("producer."), PropertyScope::kProducer}}) {
    if (key.size() > prefix.size() && key.substr(0, prefix.size()) == prefix)
      return {scope, key.substr(prefix.size())};
  }
  return {PropertyScope::kAll, key};
}

// Builds a librdkafka conf: defaults < user properties < overrides. Returns null on error.
rd_kafka_conf_t* make_conf(const ClientConfig& cfg, bool consumer,
                           const std::map<std::string, std::string>& defaults,
                           const std::map<std::string, std::string>& overrides, std::string& err) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  auto set = [&](const std::string& k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      // Never echo the value: it may be a password.
      err = fmt::format("kafka property {}: {}", k, errstr);
      return false;
    }
    return true;
  };
  bool ok = set("bootstrap.servers", cfg.brokers);
  for (const auto& [k, v] : defaults) ok = ok && set(k, v);
  for (const auto& [k, v] : cfg.properties) {
    const auto [scope, name] = scoped_property(k);
    if (scope == PropertyScope::kAll || (scope == PropertyScope::kConsumer) == consumer)
      ok = ok && set(std::string(name), v);
  }
  for (const auto& [k, v] : overrides) ok = ok && set(k, v);
  if (!ok) {
    rd_kafka_conf_destroy(conf);
    return nullptr;
  }
  rd_kafka_conf_set_log_cb(
      conf, [](const rd_kafka_t*, int level, const char* fac, const char* buf) {
        if (std::string_view(fac) == "OFFSET" &&
            std::string_view(buf).find("Offset out of range") != std::string_view::npos) {
          // The broker no longer holds records this consumer had not
          // read yet (retention, or the embedded broker's bounded log).
          g_records_lost.fetch_add(1, std::memory_order_relaxed);
          logger()->error(
              "records lost: the broker dropped records before they were "
              "consumed (retention too short or consumer too far behind): "
              "{}",
              buf);
        } else if (level <= 3)
          logger()->error("{}: {}", fac, buf);
        else if (level <= 4)
          logger()->warn("{}: {}", fac, buf);
        else
          logger()->debug("{}: {}", fac, buf);
      });
  return conf;
}

uint64_t offset_out_of_range_resets() {
  return g_records_lost.load(std::memory_order_relaxed);
}

void HandleDeleter::operator()(rd_kafka_t* rk) const {
  rd_kafka_destroy(rk);
}

// ---------------------------------------------------------------- Producer

std::unique_ptr<Producer> Producer::create(const ClientConfig& cfg, std::string& err,
                                           const std::map<std::string, std::string>& overrides) {
  // Not idempotent, on purpose: with librdkafka 2.0.2 (Debian bookworm) the idempotent
  // producer reported success for whole batches whose Produce request had failed with a
  // retriable error, and those records never reached the log (the fault harness lost 13 of
  // 30,000 replies that way; librdkafka reworked this in 2.3.0). Plain retries with one
  // request in flight per broker lose nothing and keep order; a retry that duplicates a
  // record is absorbed downstream (the router dedups inbound by external id, outbound ids
  // are idempotency keys). kafka.properties can turn idempotence back on.
  static const std::map<std::string, std::string> kDefaults{
      {"enable.idempotence", "false"},
      {"max.in.flight.requests.per.connection", "1"},
      {"acks", "all"},
      {"linger.ms", "1"},
      {"message.timeout.ms", "30000"},
      {"compression.type", "lz4"},
      // Stated, not left to the default: the router finds a workspace's partition with the
      // same function (partition_for_key).
      {"partitioner", "consistent_random"},
  };
  rd_kafka_conf_t* conf = make_conf(cfg, /*consumer=*/false, kDefaults, overrides, err);
  if (!conf) return nullptr;
  rd_kafka_conf_set_dr_msg_cb(conf, &Producer::on_delivery);
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    err = errstr;
    return nullptr;
  }
  std::unique_ptr<Producer> p(new Producer());
  p->rk_.reset(rk);
  Producer* raw = p.get();
  // Delivery callbacks fire only inside rd_kafka_poll(): one thread does that.
  p->poller_ = std::thread([raw] {
    while (!raw->stop_.load(std::memory_order_relaxed)) rd_kafka_poll(raw->rk_.get(), 50);
  });
  return p;
}

Producer::~Producer() {
  if (!rk_) return;
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  rd_kafka_flush(rk_.get(), 5000);
  // Whatever is left gets a purge report, so every completion runs exactly once.
  rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(rk_.get(), 0);
  for (int i = 0; i < 100 && rd_kafka_outq_len(rk_.get()) > 0; ++i) rd_kafka_poll(rk_.get(), 10);
  for (auto& [name, rkt] : topics_) rd_kafka_topic_destroy(rkt);
}

rd_kafka_topic_t* Producer::topic_handle(const std::string& topic) {
  std::lock_guard lock(topics_mu_);
  auto it = topics_.find(topic);
  if (it != topics_.end()) return it->second;
  // rd_kafka_topic_new asks for the topic's leaders at once; a record produced by name to a
  // topic this producer has not seen waits for librdkafka's next 1 s scan instead (measured:
  // a new router's first answer on a channel came 1 s after its reply).
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_.get(), topic.c_str(), nullptr);
  if (rkt) topics_.emplace(topic, rkt);
  return rkt;
}

void Producer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void*) {
  std::unique_ptr<Completion> done(static_cast<Completion*>(msg->_private));
  if (!done || !*done) return;
  DeliveryReport r;
  r.err = msg->err;
  if (msg->err) r.error = rd_kafka_err2str(msg->err);
  r.partition = msg->partition;
  r.offset = msg->offset;
  (*done)(r);
}

bool Producer::produce(const std::string& topic, std::string_view key, std::string_view value,
                       Completion done, std::string* err, rd_kafka_resp_err_t* code) {
  return produce_to(topic, RD_KAFKA_PARTITION_UA, key, &value, std::move(done), err, code);
}

bool Producer::produce_to(const std::string& topic, int32_t partition, std::string_view key,
                          const std::string_view* value, Completion done, std::string* err,
                          rd_kafka_resp_err_t* code) {
  rd_kafka_topic_t* rkt = topic_handle(topic);
  if (!rkt) {
    const rd_kafka_resp_err_t e = rd_kafka_last_error();
    if (err) *err = rd_kafka_err2str(e);
    if (code) *code = e;
    return false;
  }
  auto* opaque = new Completion(std::move(done));
  rd_kafka_resp_err_t e = rd_kafka_producev(
      rk_.get(), RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
      RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
      RD_KAFKA_V_VALUE(value ? const_cast<char*>(value->data()) : nullptr,
                       value ? value->size() : 0),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    delete opaque;
    if (err) *err = rd_kafka_err2str(e);
    if (code) *code = e;
    return false;
  }
  return true;
}

bool permanent_produce_error(rd_kafka_resp_err_t e) {
  switch (e) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
      return true;
    default:
      return false;
  }
}

bool Producer::flush(int timeout_ms) {
  return rd_kafka_flush(rk_.get(), timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

int Producer::outstanding() const {
  return rd_kafka_outq_len(rk_.get());
}

// ---------------------------------------------------------------- Consumer

std::unique_ptr<Consumer> Consumer::create(const ClientConfig& cfg, const std::string& group_id,
                                           std::string& err,
                                           const std::map<std::string, std::string>& overrides) {
  return create_member(cfg, group_id, Rebalance{}, err, overrides);
}

std::unique_ptr<Consumer> Consumer::create_member(
    const ClientConfig& cfg, const std::string& group_id, Rebalance on, std::string& err,
    const std::map<std::string, std::string>& overrides) {
  static const std::map<std::string, std::string> kDefaults{
      {"enable.auto.commit", "false"},   {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"}, {"fetch.wait.max.ms", "20"},
      {"enable.partition.eof", "false"}, {"session.timeout.ms", "6000"},
      {"heartbeat.interval.ms", "500"},
  };
  std::map<std::string, std::string> ov = overrides;
  ov.emplace("group.id", group_id);
  const bool member = on.assigned || on.revoked;
  if (member) ov.emplace("partition.assignment.strategy", "cooperative-sticky");
  rd_kafka_conf_t* conf = make_conf(cfg, /*consumer=*/true, kDefaults, ov, err);
  if (!conf) return nullptr;
  std::unique_ptr<Consumer> c(new Consumer());
  if (member) {
    c->rebalance_ = std::make_unique<Rebalance>(std::move(on));
    rd_kafka_conf_set_opaque(conf, c.get());
    rd_kafka_conf_set_rebalance_cb(conf, &Consumer::on_rebalance);
  }
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    err = errstr;
    return nullptr;
  }
  c->rk_.reset(rk);
  rd_kafka_poll_set_consumer(rk);
  c->queue_ = rd_kafka_queue_get_consumer(rk);
  return c;
}

Consumer::~Consumer() {
  close();
}

void Consumer::close() {
  if (closed_ || !rk_) return;
  if (rebalance_ && !assigned_once_ && !before_first_assignment()) return;
  closed_ = true;
  if (queue_) {
    rd_kafka_queue_io_event_enable(queue_, -1, nullptr, 0);
  }
  rd_kafka_consumer_close(rk_.get());
  if (queue_) rd_kafka_queue_destroy(queue_);
  queue_ = nullptr;
  // librdkafka 2.0.2 race (confluentinc/librdkafka#3608, seen once in CI as
  // "rd_kafka_broker_destroy_final: Assertion thrd_is_current" after a router stopped):
  // ending the group clears the coordinator's node name, and the coordinator's thread then
  // starts a "broker down" metadata refresh that borrows another broker. When
  // rd_kafka_destroy follows at once, that broker can be decommissioned while borrowed and
  // its last reference dropped on the wrong thread, which aborts the process. Giving the
  // coordinator's thread a moment to finish first closes the window in practice.
  if (settle_on_close_) std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

bool Consumer::assign(const std::vector<PartitionOffset>& parts, std::string& err) {
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(parts.size()));
  for (const auto& p : parts) {
    rd_kafka_topic_partition_list_add(list, p.topic.c_str(), p.partition)->offset = p.offset;
  }
  rd_kafka_resp_err_t e = rd_kafka_assign(rk_.get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  if (e) err = rd_kafka_err2str(e);
  return e == RD_KAFKA_RESP_ERR_NO_ERROR;
}

bool Consumer::subscribe(const std::vector<std::string>& topics, std::string& err) {
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(topics.size()));
  for (const auto& t : topics)
    rd_kafka_topic_partition_list_add(list, t.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_.get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  if (e) err = rd_kafka_err2str(e);
  return e == RD_KAFKA_RESP_ERR_NO_ERROR;
}

std::vector<Message> Consumer::poll(size_t max, int timeout_ms) {
  std::vector<Message> out;
  if (max == 0 || closed_) return out;
  std::vector<rd_kafka_message_t*> buf(max);
  ssize_t n = rd_kafka_consume_batch_queue(queue_, timeout_ms, buf.data(), max);
  if (n <= 0) return out;
  out.reserve(static_cast<size_t>(n));
  for (ssize_t i = 0; i < n; ++i) out.emplace_back(buf[static_cast<size_t>(i)]);
  return out;
}

void Consumer::enable_wakeup_fd(int fd) {
  static const char kByte = 1;
  rd_kafka_queue_io_event_enable(queue_, fd, &kByte, 1);
}

bool Consumer::commit(const std::vector<PartitionOffset>& next, std::string& err) {
  if (next.empty()) return true;
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(next.size()));
  for (const auto& p : next)
    rd_kafka_topic_partition_list_add(list, p.topic.c_str(), p.partition)->offset = p.offset;
  rd_kafka_resp_err_t e = rd_kafka_commit(rk_.get(), list, 0);
  rd_kafka_topic_partition_list_destroy(list);
  if (e) err = rd_kafka_err2str(e);
  return e == RD_KAFKA_RESP_ERR_NO_ERROR;
}

std::vector<PartitionOffset> Consumer::high_watermarks() {
  std::vector<PartitionOffset> out;
  rd_kafka_topic_partition_list_t* list = nullptr;
  if (rd_kafka_assignment(rk_.get(), &list) != RD_KAFKA_RESP_ERR_NO_ERROR || !list) return out;
  for (int i = 0; i < list->cnt; ++i) {
    const auto& tp = list->elems[i];
    int64_t low = -1, high = -1;
    if (rd_kafka_get_watermark_offsets(rk_.get(), tp.topic, tp.partition, &low, &high) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        high >= 0)
      out.push_back({tp.topic, tp.partition, high});
  }
  rd_kafka_topic_partition_list_destroy(list);
  return out;
}

int Consumer::partition_count(const std::string& topic, int timeout_ms) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_.get(), topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  int count = -1;
  if (rd_kafka_metadata(rk_.get(), 0, rkt, &md, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      count = md->topics[0].partition_cnt;
    }
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_topic_destroy(rkt);
  return count;
}

// ---------------------------------------------------------------- Admin

bool ensure_topics(const ClientConfig& cfg, const std::vector<std::string>& topics, int partitions,
                   int replication_factor, std::string& err) {
  rd_kafka_conf_t* conf = make_conf(cfg, /*consumer=*/false, {}, {}, err);
  if (!conf) return false;
  char errstr[512];
  HandlePtr rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr));
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    err = errstr;
    return false;
  }
  // Only create what is missing: topics provisioned by an operator need no admin rights.
  std::vector<std::string> missing;
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk.get(), 1, nullptr, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    err = "cannot read cluster metadata from " + cfg.brokers;
    return false;
  }
  for (const auto& t : topics) {
    bool found = false;
    for (int i = 0; i < md->topic_cnt && !found; ++i) {
      found = t == md->topics[i].topic && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    if (!found) missing.push_back(t);
  }
  rd_kafka_metadata_destroy(md);
  if (missing.empty()) return true;
  std::vector<rd_kafka_NewTopic_t*> nts;
  for (const auto& t : missing) {
    nts.push_back(
        rd_kafka_NewTopic_new(t.c_str(), partitions, replication_factor, errstr, sizeof errstr));
  }
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk.get());
  rd_kafka_AdminOptions_t* opts =
      rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(opts, 10000, errstr, sizeof errstr);
  rd_kafka_CreateTopics(rk.get(), nts.data(), nts.size(), opts, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 15000);
  bool ok = true;
  if (!ev) {
    err = "timed out creating topics";
    ok = false;
  } else if (rd_kafka_event_error(ev)) {
    err = rd_kafka_event_error_string(ev);
    ok = false;
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n; ++i) {
      auto e = rd_kafka_topic_result_error(res[i]);
      if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        err = fmt::format("topic {}: {}", rd_kafka_topic_result_name(res[i]),
                          rd_kafka_topic_result_error_string(res[i]));
        ok = false;
      }
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_NewTopic_destroy_array(nts.data(), nts.size());
  rd_kafka_queue_destroy(q);
  return ok;
}

}  // namespace omniroute::kafka
