// `omniroute bench --failover`: how long a workspace goes unserved when the router instance
// that owns it dies. Two routers in one group on the embedded cluster, an answering desk
// that starts at the first one (and follows redirects), customers writing at a steady rate;
// the owner is SIGKILLed `kills` times. Measured from outside: for the first message sent
// after each kill, the time until its answer is on omni.outbound.webhook (the group noticing
// the death, the restore, the desk finding the new owner, offer, accept, reply), with
// warm standby copies and without.
#pragma once

#include <string>

namespace omniroute::bench {

struct FailoverOptions {
  int rate = 100;           // customer messages per second
  int kills = 3;            // owner SIGKILLs per mode
  int seconds_between = 8;  // steady stream between kills
  int session_timeout_ms = 3000;
  std::string binary;
  std::string out_dir = "bench/results";
};

int run_failover(const FailoverOptions& o);

}  // namespace omniroute::bench
