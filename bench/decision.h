// Routing decisions at scale: one workspace with `agents` agents, each serving 10 of
// `queues` queues, all connected; new conversations arrive in random queues. Used by
// `omniroute bench` (the figure in its table) and by the Google Benchmark micro target.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "router/changelog.h"
#include "router/engine.h"
#include "router/store.h"

namespace omniroute::bench {

class RoutingFixture {
 public:
  // `workspace`: its id (the restore bench makes one per partition); `text_bytes`: the
  // customer's first message.
  RoutingFixture(int agents, int queues, std::string workspace = "w", size_t text_bytes = 5);
  // The workspace as a `workspaces:` list item (queues q0.., inboxes i0.., agents a0..),
  // the same for the same arguments: a router configured with it can load the state.
  static std::string workspace_yaml(const std::string& workspace, int agents, int queues);
  ~RoutingFixture();
  // Applies one new conversation in a random queue (identity, threading, classification,
  // queueing, SLA timers, the decision and its trail) into `b`.
  void new_conversation(router::Store::Batch& b);
  router::Store& store() { return *store_; }
  // The changelog of the setup (the agents' sessions), written before any conversation.
  const std::vector<router::ChangelogRecord>& setup_changelog() const { return setup_; }
  router::Engine& engine() { return *engine_; }

 private:
  std::string dir_, workspace_, text_;
  int queues_;
  config::Config cfg_;
  router::SystemClock clock_;
  std::unique_ptr<router::Store> store_;
  std::unique_ptr<router::Engine> engine_;
  uint64_t n_ = 0, rng_ = 11;
  std::vector<router::ChangelogRecord> setup_;
};

struct DecisionFigures {
  int agents = 0, queues = 0, conversations = 0;
  double decision_mean_us = 0;              // choosing the agent (engine's own measure)
  double step_p50_us = 0, step_p99_us = 0;  // whole new-conversation step, store writes batched
  double steps_per_s = 0;                   // including the RocksDB commits (512 per batch)
};

DecisionFigures measure_decisions(int agents, int queues, int conversations);

}  // namespace omniroute::bench
