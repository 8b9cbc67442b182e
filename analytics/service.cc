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

void Service::run() {
  auto log = log::get("analytics");
  std::map<int32_t, int64_t> next;  // partition -> next offset, as committed
  int64_t last_lag_ms = 0;
  while (!stop_) {
    auto msgs = consumer_->poll(1000, 100);
    if (msgs.empty()) continue;
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
          log->warn("undecodable routing event at {}@{}; skipped", m.partition(), m.offset());
        }
        b.put(keys::offset(m.partition()), std::to_string(m.offset() + 1));
        next[m.partition()] = m.offset() + 1;
      }
      if (std::string err = db_->commit(b); !err.empty()) {
        // The records and offsets go together or not at all: exit, a restart re-reads.
        log->critical("analytics commit failed: {}; exiting so a restart resumes", err);
        std::_Exit(3);
      }
      applied_ += n;
      listeners = listeners_;
    }
    for (const auto& fn : listeners) fn(changed);
    const auto now =
        std::chrono::steady_clock::now().time_since_epoch() / std::chrono::milliseconds(1);
    if (now - last_lag_ms >= 1000) {
      last_lag_ms = now;
      int64_t lag = 0;
      for (const auto& hw : consumer_->high_watermarks()) {
        const auto it = next.find(hw.partition);
        lag += std::max<int64_t>(0, hw.offset - (it == next.end() ? 0 : it->second));
      }
      lag_ = lag;
    }
  }
}

Report Service::report(Filter f) const {
  std::lock_guard lock(mu_);
  if (const auto it = model_->live().find(f.workspace); it != model_->live().end())
    f.now_ms = it->second.last_event_ms;
  return compute(*db_, cfg_, f, cfg_.analytics.service_level_s);
}

nlohmann::json Service::live(const std::string& ws, int64_t now_ms) const {
  std::lock_guard lock(mu_);
  nlohmann::json j = {{"workspace", ws}, {"at_ms", now_ms}};
  struct Row {
    uint64_t waiting = 0, offered = 0, assigned = 0, sla_risk = 0, sla_breached = 0;
    int64_t oldest_ms = 0;
  };
  std::map<std::string, Row> queues, channels, inboxes;
  Row total;
  std::map<std::string, uint64_t> presence{
      {"available", 0}, {"busy", 0}, {"away", 0}, {"offline", 0}};
  nlohmann::json agents = nlohmann::json::array();
  const auto it = model_->live().find(ws);
  if (it != model_->live().end()) {
    for (const auto& [id, c] : it->second.conversations) {
      for (Row* r :
           {&queues[c.queue], &channels[v1::Channel_Name(c.channel)], &inboxes[c.inbox], &total}) {
        if (c.state == v1::analytics::ConversationFacts::STATE_QUEUED) {
          ++r->waiting;
          if (c.queued_since_ms > 0 && (r->oldest_ms == 0 || c.queued_since_ms < r->oldest_ms))
            r->oldest_ms = c.queued_since_ms;
          if (c.offered) ++r->offered;
        } else {
          ++r->assigned;
        }
        if (c.sla_risk) ++r->sla_risk;
        if (c.sla_breached) ++r->sla_breached;
      }
    }
    for (const auto& [id, a] : it->second.agents) {
      const std::string state = a.presence == "available" && a.holding > 0 ? "busy" : a.presence;
      ++presence[state];
      agents.push_back({{"agent", id},
                        {"presence", a.presence},
                        {"since_ms", a.since_ms},
                        {"holding", a.holding},
                        {"bot", a.bot}});
    }
  }
  auto rows = [&](const std::map<std::string, Row>& m) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [k, r] : m) {
      out.push_back(
          {{"id", k},
           {"waiting", r.waiting},
           {"longest_wait_s", r.oldest_ms ? std::max<int64_t>(0, now_ms - r.oldest_ms) / 1000 : 0},
           {"offered", r.offered},
           {"assigned", r.assigned},
           {"sla_risk", r.sla_risk},
           {"sla_breached", r.sla_breached}});
    }
    return out;
  };
  j["total"] = rows({{"all", total}})[0];
  j["queues"] = rows(queues);
  j["channels"] = rows(channels);
  j["inboxes"] = rows(inboxes);
  j["agents_by_presence"] = presence;
  j["agents"] = agents;
  return j;
}

}  // namespace omniroute::analytics
