#include "bench/decision.h"

#include <chrono>
#include <filesystem>
#include <random>
#include <vector>

#include <fmt/format.h>
#include <unistd.h>

#include "bench/stats.h"

namespace omniroute::bench {

std::string RoutingFixture::workspace_yaml(const std::string& workspace, int agents, int queues) {
  std::mt19937 rng(7);
  std::string yaml = fmt::format("  - id: {}\n    queues:\n", workspace);
  for (int q = 0; q < queues; ++q) yaml += fmt::format("      - {{id: q{}}}\n", q);
  yaml += "    inboxes:\n";
  for (int q = 0; q < queues; ++q)
    yaml += fmt::format(
        "      - {{id: i{}, channel: webhook, queue: q{}, settings: {{secret: s}}}}\n", q, q);
  yaml += "    agents:\n";
  for (int a = 0; a < agents; ++a) {
    std::string qs;
    for (int k = 0; k < 10; ++k) qs += fmt::format("{}q{}", k ? ", " : "", rng() % queues);
    yaml += fmt::format("      - {{id: a{}, queues: [{}], capacity: {{webhook: 1000}}}}\n", a, qs);
  }
  return yaml;
}

RoutingFixture::RoutingFixture(int agents, int queues, std::string workspace, size_t text_bytes)
    : dir_((std::filesystem::temp_directory_path() /
            fmt::format("omniroute-decisions-{}-{}", getpid(), static_cast<const void*>(this)))
               .string()),
      workspace_(std::move(workspace)),
      queues_(queues) {
  std::filesystem::remove_all(dir_);
  // Customer text like a chat line's, not one repeated byte (compression would flatter it).
  static constexpr std::string_view kWords[] = {"my ",  "order ", "has ", "not ",   "arrived ",
                                                "yet ", "could ", "you ", "check ", "please "};
  for (size_t i = 0; text_.size() < text_bytes; ++i) text_ += kWords[(i * 7 + i / 10) % 10];
  text_.resize(text_bytes);
  // Offers open for an hour: the restore bench restores them minutes after they were made,
  // and with the default timeout they would all expire at once after the load and be
  // re-routed while other partitions still restore (the engine's work, not the restore's).
  const std::string yaml = fmt::format(
      "log_level: warn\nstate: {{dir: \"{}\"}}\n"
      "router: {{agent_auth: none, insecure: true, offer_timeout_ms: 3600000}}\n"
      "workspaces:\n{}",
      dir_, workspace_yaml(workspace_, agents, queues));
  std::vector<std::string> errors;
  cfg_ = *config::parse(yaml, errors);
  std::string err;
  store_ = router::Store::open(dir_, false, err);
  engine_ = std::make_unique<router::Engine>(cfg_, *store_, clock_);
  engine_->load();
  auto b = store_->begin();
  for (int a = 0; a < agents; ++a) {
    v1::AgentFrame f;
    f.mutable_hello()->set_protocol_version(1);
    f.mutable_hello()->set_workspace_id(workspace_);
    f.mutable_hello()->set_agent_id(fmt::format("a{}", a));
    engine_->apply_desk(b, fmt::format("d{}", a), f.SerializeAsString());
  }
  (void)engine_->commit(b);
  setup_ = router::changelog_of(b);
  engine_->take_frames();
}

RoutingFixture::~RoutingFixture() {
  engine_.reset();
  store_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void RoutingFixture::new_conversation(router::Store::Batch& b) {
  rng_ = rng_ * 6364136223846793005ULL + 1442695040888963407ULL;
  v1::Envelope env;
  auto* m = env.mutable_message();
  m->set_workspace_id(workspace_);
  m->set_inbox_id(fmt::format("i{}", (rng_ >> 33) % static_cast<uint64_t>(queues_)));
  m->set_customer_handle(fmt::format("c{}", n_));
  m->set_external_message_id(fmt::format("e{}", n_));
  m->set_text_body(text_);
  ++n_;
  engine_->apply_record(b, "t", 0, static_cast<int64_t>(n_), workspace_, env.SerializeAsString());
}

DecisionFigures measure_decisions(int agents, int queues, int conversations) {
  DecisionFigures f;
  f.agents = agents;
  f.queues = queues;
  f.conversations = conversations;
  RoutingFixture fx(agents, queues);
  const auto before = fx.engine().counters();
  std::vector<double> steps;
  steps.reserve(static_cast<size_t>(conversations));
  auto b = fx.store().begin();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < conversations; ++i) {
    const auto s0 = std::chrono::steady_clock::now();
    fx.new_conversation(b);
    steps.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - s0).count());
    if ((i + 1) % 512 == 0 || i + 1 == conversations) {
      (void)fx.engine().commit(b);
      fx.engine().take_frames();
      fx.engine().take_outbox();
      b.clear();
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto& after = fx.engine().counters();
  const uint64_t n = after.decisions - before.decisions;
  f.decision_mean_us = n ? static_cast<double>(after.decision_ns - before.decision_ns) / 1000.0 /
                               static_cast<double>(n)
                         : 0;
  const Percentiles p = percentiles(steps);
  f.step_p50_us = p.p50;
  f.step_p99_us = p.p99;
  f.steps_per_s = conversations / secs;
  return f;
}

}  // namespace omniroute::bench
