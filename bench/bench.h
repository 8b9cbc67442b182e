// `omniroute bench`: end-to-end routing measured against the raw speed of its parts
// (librdkafka, RocksDB, ZeroMQ) in the same run, plus memory, state size and restart.
#pragma once

#include <string>

namespace omniroute::bench {

struct Options {
  int messages = 200000;  // end-to-end messages at full speed
  int workspaces = 4;
  int conversations = 20000;
  int agents = 25;             // per workspace
  std::string brokers;         // empty = embedded cluster
  double rate_fraction = 0.2;  // fixed-rate phase, as a fraction of the measured maximum
  int fixed_rate_seconds = 10;
  int state_conversations = 1000000;  // for the RSS-with-state and restart figures (0 = skip)
  // Routing decisions at scale (in-process engine, real RocksDB): agents, queues, new
  // conversations (0 = skip).
  int decision_agents = 10000, decision_queues = 1000, decision_conversations = 20000;
  std::string out_dir = "bench/results";
  std::string binary;  // the omniroute binary to run the router from
};

int run(const Options& o);

}  // namespace omniroute::bench
