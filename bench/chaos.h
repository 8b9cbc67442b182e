// The fault harness: a stream of customer messages through real processes (two routers in
// one consumer group and the webhook connector as child processes, the embedded Kafka
// cluster, desks over ZeroMQ following redirects)
// while faults are injected, then checks that nothing was lost or duplicated.
#pragma once

#include <string>
#include <vector>

namespace omniroute::bench {

struct ChaosOptions {
  int messages = 100000;
  int customers = 2000;
  int agents = 8;
  int router_kills = 20;  // SIGKILLs of the router instance that owns the workspace
  // broker down/up, request errors, latency, desk kills, connector restarts, rebalances (the
  // owner stopped with SIGTERM, handing over, then started again)
  int other_faults = 20;
  // Which other faults, by name ("broker-down", "produce-errors", "latency", "desk-kill",
  // "connector-kill", "rebalance"); empty = all of them in turn. To aim a run at one suspect.
  std::vector<std::string> fault_kinds;
  unsigned seed = 1;
  // Customers stop sending while this many messages are unanswered (people wait for
  // answers). Keeps the connector's backlog within what the embedded broker retains.
  int max_unanswered = 5000;
  std::string binary;   // omniroute binary for the child processes
  std::string out_dir;  // where chaos-latest.json goes ("" = nowhere)
  int timeout_s = 1800;
};

struct ChaosResult {
  bool ok = false;
  std::vector<std::string> violations;
  // Each fault with the wall-clock time it began ("2026-11-22T20:33:51Z router SIGKILL"), to
  // line a violation up with what happened around it.
  std::vector<std::string> fault_log;
  int posted = 0;
  int post_retries = 0;
  int router_kills = 0;
  int faults = 0;
  size_t replies_received = 0;
  size_t duplicate_deliveries = 0;  // same X-Omniroute-Delivery-Id seen again (harmless)
  double seconds = 0;
  std::string summary() const;
};

ChaosResult run_chaos(const ChaosOptions& o);

}  // namespace omniroute::bench
