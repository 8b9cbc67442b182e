// `omniroute analytics` beside the router during `omniroute bench`: is the analytics
// consumer keeping up with the router at full speed? Samples its /metrics (lag, events
// applied) while the load runs, then how long it takes to catch up and its CPU per event.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/child_process.h"

namespace omniroute::bench {

class AnalyticsProbe {
 public:
  // Starts the analytics process on `config_path` with its /metrics on a free port.
  AnalyticsProbe(const std::string& binary, const std::string& config_path);
  ~AnalyticsProbe();
  // From now on, the highest lag seen is recorded.
  void begin_phase();
  // The load of `messages` stopped: waits (up to `timeout_s`) until its lag is 0 and it
  // applies nothing more; its figures for the phase.
  nlohmann::json end_phase(int64_t messages, double timeout_s);

 private:
  struct Sample {
    double lag = 0, events = 0;
  };
  Sample scrape() const;
  int port_;  // before process_: its arguments name it
  ChildProcess process_;
  std::atomic<bool> stop_{false};
  std::atomic<double> max_lag_{0};
  std::thread sampler_;
  double cpu0_ = 0, events0_ = 0;
};

}  // namespace omniroute::bench
