// `omniroute bench --board`: how soon the supervisors' wallboard shows a routing decision
// at scale. The real stack (embedded Kafka, router, analytics consumer, workspace) with
// `queues` queues; `agents` agents and `conversations` conversations preloaded as routing
// events; one supervisor tab on /agent/board (a WebSocket client). Then one decision at a
// time is produced to omni.routing and timed until a pushed picture shows it.
#pragma once

#include <string>

namespace omniroute::bench {

struct BoardOptions {
  int agents = 10000;
  int queues = 1000;
  int conversations = 20000;  // a quarter of them held by agents, the rest waiting
  int decisions = 40;         // timed, one at a time
  std::string out_dir = "bench/results";
};

int run_board(const BoardOptions& o);

}  // namespace omniroute::bench
