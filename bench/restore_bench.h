// `omniroute bench --restore N`: a new owner with no local copy restores N conversations
// from the changelog before it serves (issue 16's "no standby" takeover). The changelog is
// written as the router writes it (each conversation opened, classified, queued, offered:
// every record of the step, by the real engine), spread over one workspace per partition;
// then a real `omniroute router` process starts on an empty state dir and the bench times
// it from start to every partition announced, reads each partition's restore time from its
// announcement, and counts the conversations in its stores afterwards. Then that router is
// killed (SIGKILL) and a second one with no local copy is started at once: the bench times
// the kill to every partition served by the second (the group's detection of the dead
// member, the second's start and join, its restore of everything) and counts again.
#pragma once

#include <string>

namespace omniroute::bench {

struct RestoreOptions {
  int conversations = 1000000;
  // The embedded broker keeps ~5 MB per partition: the changelog must fit in
  // partitions × 5 MB (the bench says when it did not).
  int partitions = 64;
  int agents = 10, queues = 10;  // per workspace
  int text_bytes = 200;          // the customer's first message
  // Both routers' router.session_timeout_ms: how soon the group notices the killed one.
  // 3 s is the embedded broker's floor (as in the failover bench); its first join also
  // waits 3 s, so on a heavily loaded machine a longer session forms the group more surely.
  int session_timeout_ms = 3000;
  std::string out_dir = "bench/results";
  std::string binary;
};

int run_restore(const RestoreOptions& o);

}  // namespace omniroute::bench
