// `omniroute bench --instances 1,2,3`: the same load through 1, 2 and 3 router processes in
// one consumer group (each its own state dir and agent endpoint, the changelog on), on a
// fresh embedded cluster each time: end-to-end messages per second, the routers' CPU time
// per message (all instances together), their peak RSS, and which partitions each owned.
#pragma once

#include <string>
#include <vector>

namespace omniroute::bench {

struct ScaleOptions {
  std::vector<int> instances{1, 2, 3};
  int messages = 30000;
  int workspaces = 12;  // spread over the 6 partitions of omni.inbound
  int conversations = 6000;
  int agents = 10;  // per workspace
  std::string out_dir = "bench/results";
  std::string binary;
};

int run_scale(const ScaleOptions& o);

}  // namespace omniroute::bench
