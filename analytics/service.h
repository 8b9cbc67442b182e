// The analytics consumer: reads omni.routing from the offsets stored in its own RocksDB,
// applies each poll's events through the Model, and commits the records with the next
// offsets in one batch (the router's model: a crash resumes exactly after the last batch).
// It runs in `omniroute up` and alone as `omniroute analytics`.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "analytics/db.h"
#include "analytics/model.h"
#include "analytics/report.h"
#include "config/config.h"
#include "kafka/kafka.h"

namespace omniroute::analytics {

class Service {
 public:
  Service(const config::Config& cfg, kafka::ClientConfig kafka_cfg);
  ~Service();
  // Opens the store, assigns every partition of omni.routing at its stored offset, and
  // starts the consumer thread. "" or an error.
  std::string start();
  void stop();

  // Thread-safe. The report for `f` (now = the latest event of the workspace).
  Report report(Filter f) const;
  // The wallboard: per queue, channel and inbox what waits now and for how long, pending
  // offers, SLA risk and breaches; agents by presence with what they hold. `now_ms` is the
  // wall clock the waits are measured to; agents listed: the first 300 whose id contains
  // `find`.
  nlohmann::json live(const std::string& workspace, int64_t now_ms,
                      const std::string& find = {}) const;
  // One conversation for the drill-down: its facts and decision trail (who it was offered
  // to, who could not take it and why); null when unknown.
  nlohmann::json conversation(const std::string& workspace, const std::string& id) const;
  // Events applied since start; workspaces changed by the latest batch go to `on_change`.
  uint64_t applied() const { return applied_.load(); }
  void on_change(std::function<void(const std::set<std::string>&)> fn);

 private:
  void run();
  // Applies one poll's events and commits them with the next offsets.
  void apply_batch(const std::vector<kafka::Message>& msgs);
  const config::Config& cfg_;
  kafka::ClientConfig kafka_cfg_;
  std::unique_ptr<Db> db_;
  std::unique_ptr<kafka::Consumer> consumer_;
  mutable std::mutex mu_;  // model_ and listeners_
  std::unique_ptr<Model> model_;
  std::vector<std::function<void(const std::set<std::string>&)>> listeners_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> applied_{0};
  std::map<int32_t, int64_t> next_;  // partition -> next offset (consumer thread only)
  std::thread thread_;
};

}  // namespace omniroute::analytics
