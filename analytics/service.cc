#include "analytics/service.h"

#include <chrono>

#include "common/log.h"
#include "omniroute/v1/routing.pb.h"
#include "ops/health.h"
#include "ops/metrics.h"

namespace omniroute::analytics {

Service::Service(const config::Config& cfg, kafka::ClientConfig kafka_cfg)
    : cfg_(cfg), kafka_cfg_(std::move(kafka_cfg)) {}

Service::~Service() {
  stop();
}

std::string Service::start() {
  std::string err;
  ops::set_ready("analytics", false, "opening its store");
  const std::string dir =
      cfg_.analytics.dir.empty() ? cfg_.state.dir + "-analytics" : cfg_.analytics.dir;
  db_ = Db::open(dir, err);
  if (!db_) return "analytics store " + dir + ": " + err;
  model_ = std::make_unique<Model>(cfg_);
  model_->load(*db_);
  consumer_ = kafka::Consumer::create(kafka_cfg_, "omniroute-analytics", err);
  if (!consumer_) return "analytics consumer: " + err;
  const std::string& topic = cfg_.kafka.topics.routing;
  int partitions = -1;
  for (int attempt = 0; attempt < 60 && partitions <= 0; ++attempt) {
    partitions = consumer_->partition_count(topic, 1000);
    if (partitions <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (partitions <= 0) return "analytics: topic " + topic + " not found";
  std::vector<kafka::PartitionOffset> assignment;
  for (int32_t p = 0; p < partitions; ++p) {
    std::string v;
    const int64_t next = db_->get(keys::offset(p), &v) ? std::stoll(v) : RD_KAFKA_OFFSET_BEGINNING;
    assignment.push_back({topic, p, next});
    next_[p] = std::max<int64_t>(next, 0);
  }
  if (!consumer_->assign(assignment, err)) return "analytics assign: " + err;
  ops::set_ready("analytics", true);
  thread_ = std::thread([this] { run(); });
  return {};
}

void Service::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (consumer_) consumer_->close();
  consumer_.reset();
}

void Service::on_change(std::function<void(const std::set<std::string>&)> fn) {
  std::lock_guard lock(mu_);
  listeners_.push_back(std::move(fn));
}

void Service::apply_batch(const std::vector<kafka::Message>& msgs) {
  std::set<std::string> changed;
  std::vector<std::function<void(const std::set<std::string>&)>> listeners;
  {
    std::lock_guard lock(mu_);
    Db::Batch b = db_->begin();
    uint64_t n = 0;
    for (const auto& m : msgs) {
      if (m.is_error()) continue;
      v1::RoutingEvent e;
      if (e.ParseFromArray(m.value().data(), static_cast<int>(m.value().size()))) {
        model_->apply(b, e);
        changed.insert(e.workspace_id());
        ++n;
      } else {
        log::get("analytics")
            ->warn("undecodable routing event at {}@{}; skipped", m.partition(), m.offset());
      }
      b.put(keys::offset(m.partition()), std::to_string(m.offset() + 1));
      next_[m.partition()] = m.offset() + 1;
    }
    if (std::string err = db_->commit(b); !err.empty()) {
      // The records and offsets go together or not at all: exit, a restart re-reads.
      log::get("analytics")
          ->critical("analytics commit failed: {}; exiting so a restart resumes", err);
      std::_Exit(3);
    }
    applied_ += n;
    ops::metrics().analytics_events.Increment(static_cast<double>(n));
    listeners = listeners_;
  }
  for (const auto& fn : listeners) fn(changed);
}

void Service::run() {
  auto last_lag = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  while (!stop_) {
    auto msgs = consumer_->poll(1000, 100);
    if (!msgs.empty()) apply_batch(msgs);
    if (std::chrono::steady_clock::now() - last_lag >= std::chrono::seconds(1)) {
      last_lag = std::chrono::steady_clock::now();
      int64_t lag = 0;
      for (const auto& hw : consumer_->high_watermarks()) {
        const auto it = next_.find(hw.partition);
        lag += std::max<int64_t>(0, hw.offset - (it == next_.end() ? 0 : it->second));
      }
      ops::metrics().analytics_lag.Set(static_cast<double>(lag));
    }
  }
}

Report Service::report(Filter f) const {
  std::lock_guard lock(mu_);
  if (const auto it = model_->live().find(f.workspace); it != model_->live().end())
    f.now_ms = it->second.last_event_ms;
  return compute(*db_, cfg_, f, cfg_.analytics.service_level_s);
}

nlohmann::json Service::conversation(const std::string& ws, const std::string& id) const {
  std::string v;
  v1::analytics::ConversationFacts c;
  if (!db_->get(keys::conversation(ws, id), &v) || !c.ParseFromString(v)) return nullptr;
  nlohmann::json j = {{"conversation_id", c.conversation_id()},
                      {"queue", c.queue_id()},
                      {"inbox", c.inbox_id()},
                      {"channel", v1::Channel_Name(c.channel())},
                      {"language", c.language()},
                      {"state", v1::analytics::ConversationFacts::State_Name(c.state())},
                      {"agent", c.agent_id()},
                      {"opened_at_ms", c.opened_at_ms()},
                      {"first_response_at_ms", c.first_response_at_ms()},
                      {"resolved_at_ms", c.resolved_at_ms()},
                      {"offers", c.offers()},
                      {"rejections", c.rejections()},
                      {"expiries", c.expiries()},
                      {"transfers", c.transfers()},
                      {"reopens", c.reopens()}};
  nlohmann::json trail = nlohmann::json::array();
  const std::string prefix = "t/" + ws + "/" + id + "/";
  db_->scan(prefix, [&](std::string_view, std::string_view ev) {
    v1::RoutingEvent e;
    if (!e.ParseFromArray(ev.data(), static_cast<int>(ev.size()))) return true;
    nlohmann::json considered = nlohmann::json::array();
    for (const auto& cand : e.considered())
      considered.push_back(
          {{"agent", cand.agent_id()}, {"eligible", cand.eligible()}, {"reason", cand.reason()}});
    trail.push_back({{"at_ms", e.at_ms()},
                     {"kind", v1::RoutingEvent::Kind_Name(e.kind()).substr(5)},
                     {"agent", e.agent_id()},
                     {"queue", e.queue_id()},
                     {"reason", e.reason()},
                     {"considered", considered}});
    return true;
  });
  j["trail"] = trail;
  return j;
}

nlohmann::json Service::live(const std::string& ws, int64_t now_ms, const std::string& find) const {
  std::lock_guard lock(mu_);
  const auto it = model_->live().find(ws);
  static const Live kEmpty;
  std::vector<std::string> queues;
  if (const config::Workspace* w = cfg_.workspace(ws))
    for (const auto& q : w->queues) queues.push_back(q.id);
  return picture(it == model_->live().end() ? kEmpty : it->second, ws, now_ms, queues, find);
}

}  // namespace omniroute::analytics
