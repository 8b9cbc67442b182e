// `omniroute bench --workspace`: the agent workspace under load. Signed-in agents each with
// a tab (a WebSocket client timing every event) work a stream of webhook messages through
// the real stack (embedded Kafka, router, gateway); meanwhile tabs are dropped and
// reconnect. Reports event -> tab latency, events lost or duplicated across the drops,
// resyncs, and the size of the page's script.
#pragma once

#include <string>

namespace omniroute::bench {

struct WorkspaceOptions {
  int agents = 40;      // signed in, one tab each (a second tab for every fourth)
  int customers = 400;  // conversations, written to round-robin
  int rate = 200;       // customer messages per second
  int seconds = 20;     // of load
  int drops = 100;      // forced WebSocket drops spread over the load
  std::string out_dir = "bench/results";
};

int run_workspace(const WorkspaceOptions& o);

// Signs in at the workspace on 127.0.0.1:`port`: the session cookie ("name=value"), or ""
// when refused.
std::string sign_in(int port, const std::string& login, const std::string& password);

}  // namespace omniroute::bench
