#include "bench/analytics_probe.h"

#include <signal.h>

#include <chrono>

#include <fmt/format.h>

#include "bench/stats.h"
#include "common/free_port.h"
#include "connectors/http/client.h"

namespace omniroute::bench {
namespace {

double value_of(const std::string& text, const std::string& name) {
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

}  // namespace

AnalyticsProbe::AnalyticsProbe(const std::string& binary, const std::string& config_path)
    : process_(binary, {"analytics", "--config", config_path, "--log-level", "warn", "--ops-listen",
                        fmt::format("127.0.0.1:{}", port_ = free_tcp_port())}) {
  process_.start();
  sampler_ = std::thread([this] {
    while (!stop_) {
      const Sample s = scrape();
      if (s.lag > max_lag_.load()) max_lag_ = s.lag;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  });
}

AnalyticsProbe::~AnalyticsProbe() {
  stop_ = true;
  if (sampler_.joinable()) sampler_.join();
  process_.stop(SIGTERM);
}

AnalyticsProbe::Sample AnalyticsProbe::scrape() const {
  connectors::http::ClientRequest r;
  r.method = "GET";
  r.url = fmt::format("http://127.0.0.1:{}/metrics", port_);
  r.timeout_ms = 2000;
  r.max_response_bytes = 1 << 20;
  const auto res = connectors::http::send(r);
  if (res.status != 200) return {-1, -1};
  return {value_of(res.body, "omniroute_analytics_lag_records"),
          value_of(res.body, "omniroute_analytics_events_total")};
}

void AnalyticsProbe::begin_phase() {
  max_lag_ = 0;
  cpu0_ = proc_cpu_seconds(process_.pid());
  events0_ = std::max(0.0, scrape().events);
}

nlohmann::json AnalyticsProbe::end_phase(int64_t messages, double timeout_s) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  double caught_up_s = -1, last_events = -1;
  while (std::chrono::duration<double>(Clock::now() - t0).count() < timeout_s) {
    const Sample s = scrape();
    if (s.lag == 0 && s.events >= 0 && s.events == last_events) {
      caught_up_s = std::chrono::duration<double>(Clock::now() - t0).count();
      break;
    }
    last_events = s.events;
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // lag is refreshed each second
  }
  const double cpu = proc_cpu_seconds(process_.pid()) - cpu0_;
  const double events = std::max(0.0, scrape().events - events0_);
  return {{"max_lag_records", max_lag_.load()},
          {"caught_up_after_load_s", caught_up_s},
          {"events_applied", events},
          {"events_per_message", messages > 0 ? events / static_cast<double>(messages) : 0},
          {"cpu_seconds", cpu},
          {"cpu_us_per_event", events > 0 ? cpu * 1e6 / events : 0}};
}

}  // namespace omniroute::bench
