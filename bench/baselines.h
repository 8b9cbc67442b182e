// What `omniroute bench` measures besides the router: the raw baselines (librdkafka,
// RocksDB at the router's write shape, ZeroMQ), the synthetic traffic and the router config
// of a run, and the small helpers the phases share.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench.h"
#include "bench/stats.h"
#include "kafka/kafka.h"
#include "omniroute/v1/events.pb.h"

namespace omniroute::bench {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

inline double secs(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}
inline double us(int64_t ns) {
  return static_cast<double>(ns) / 1000.0;
}
inline int64_t ns_now() {
  return Clock::now().time_since_epoch().count();
}

inline std::string shell_line(const std::string& cmd) {
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[512];
    if (fgets(buf, sizeof buf, p)) out = buf;
    pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// What every result file starts with: the machine (cores, CPU, memory, kernel) and the commit.
inline json run_header() {
  return {{"machine",
           {{"cores", std::thread::hardware_concurrency()},
            {"cpu", shell_line("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'")},
            {"memory", shell_line("grep MemTotal /proc/meminfo | awk '{print $2\" kB\"}'")},
            {"kernel", shell_line("uname -r")}}},
          {"commit", shell_line("git rev-parse --short HEAD 2>/dev/null")}};
}

inline json percentiles_json(std::vector<double>& v) {
  auto p = percentiles(v);
  return {{"count", p.count},
          {"p50_us", p.p50},
          {"p99_us", p.p99},
          {"p999_us", p.p999},
          {"max_us", p.max}};
}

// Traffic like a contact center's: chat ~200 B, SMS ~160 B, email ~4 KB; 10% with
// attachment metadata. Message `i` of `conversation`.
v1::Envelope make_message(int64_t i, int conversation, int workspaces);
// The router config of a run.
std::string bench_config(const Options& o, const std::string& brokers, const std::string& state_dir,
                         const std::string& endpoint, int capacity,
                         const std::string& inbound = "omni.inbound");
// Produces, waiting while the local queue is full; false after ~20 s of a full queue.
bool produce_blocking(
    kafka::Producer& p, const std::string& topic, const std::string& key, const std::string& value,
    kafka::Completion done = [](const kafka::DeliveryReport&) {});

json kafka_baseline(const Options& o, const kafka::ClientConfig& kc, const std::string& topic,
                    int partitions);
// What the router writes per message (keys and bytes), measured on a small run.
struct WriteShape {
  double writes_per_message = 0;
  double bytes_per_message = 0;
};
WriteShape measure_write_shape(const Options& o, const std::string& dir);
json rocksdb_baseline(const Options& o, const std::string& dir, const WriteShape& shape,
                      int batch_messages);
json zeromq_baseline(const Options& o);

}  // namespace omniroute::bench
