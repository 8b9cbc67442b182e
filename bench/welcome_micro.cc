// What one Welcome costs the router's event loop: an agent holding `conversations` open
// conversations of `messages` customer messages each says Hello on a new connection (a
// desk that reconnected, or followed a redirect to a new owner). Counters: the Welcome's
// bytes and the store reads it took.
#include <filesystem>
#include <stdexcept>

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <unistd.h>

#include "router/engine.h"
#include "router/store.h"

namespace omniroute {
namespace {

class StepClock : public router::Clock {
 public:
  int64_t now_ms() override { return t; }
  int64_t t = 1'700'000'000'000;
};

class WelcomeFixture {
 public:
  WelcomeFixture(int conversations, int messages)
      : dir_((std::filesystem::temp_directory_path() /
              fmt::format("omniroute-welcome-{}-{}-{}", getpid(), conversations, messages))
                 .string()) {
    std::filesystem::remove_all(dir_);
    const std::string yaml = fmt::format(
        "log_level: warn\nstate: {{dir: \"{}\"}}\n"
        "router: {{agent_auth: none, insecure: true, offer_timeout_ms: 3600000,"
        " heartbeat_timeout_ms: 600000, max_welcomes_per_10s: 1000}}\n"
        "workspaces:\n  - id: w\n    queues: [{{id: q}}]\n"
        "    inboxes: [{{id: i, channel: webhook, queue: q, settings: {{secret: s}}}}]\n"
        "    agents: [{{id: a, capacity: {{webhook: 1000}}}}]\n",
        dir_);
    std::vector<std::string> errors;
    auto cfg = config::parse(yaml, errors);
    if (!cfg) throw std::runtime_error("config: " + errors.front());
    cfg_ = *cfg;
    std::string err;
    store_ = router::Store::open(dir_, false, err);
    if (!store_) throw std::runtime_error("store: " + err);
    engine_ = std::make_unique<router::Engine>(cfg_, *store_, clock_);
    engine_->load();
    hello("d0");
    for (int c = 0; c < conversations; ++c) {
      auto b = store_->begin();
      customer_message(b, c);
      (void)engine_->commit(b);
      for (auto& f : engine_->take_frames()) {
        if (!f.frame.has_offer()) continue;
        v1::AgentFrame a;
        a.mutable_accept()->set_offer_id(f.frame.offer().offer_id());
        auto b2 = store_->begin();
        engine_->apply_desk(b2, "d0", a.SerializeAsString());
        (void)engine_->commit(b2);
      }
      engine_->take_frames();
      engine_->take_outbox();
    }
    for (int m = 1; m < messages; ++m) {
      auto b = store_->begin();
      for (int c = 0; c < conversations; ++c) customer_message(b, c);
      (void)engine_->commit(b);
      engine_->take_frames();
      engine_->take_outbox();
    }
  }
  ~WelcomeFixture() {
    engine_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Hello on connection `rid`; the Welcome's bytes.
  size_t hello(const std::string& rid) {
    clock_.t += 100;
    v1::AgentFrame f;
    f.mutable_hello()->set_protocol_version(1);
    f.mutable_hello()->set_workspace_id("w");
    f.mutable_hello()->set_agent_id("a");
    auto b = store_->begin();
    engine_->apply_desk(b, rid, f.SerializeAsString());
    (void)engine_->commit(b);
    size_t bytes = 0;
    for (auto& out : engine_->take_frames())
      if (out.frame.has_welcome()) bytes = out.frame.ByteSizeLong();
    engine_->take_outbox();
    return bytes;
  }

 private:
  void customer_message(router::Store::Batch& b, int c) {
    v1::Envelope env;
    auto* m = env.mutable_message();
    m->set_workspace_id("w");
    m->set_inbox_id("i");
    m->set_customer_handle(fmt::format("c{}", c));
    m->set_external_message_id(fmt::format("e{}", n_));
    m->set_text_body("my order has not arrived yet, could you check please? order 5531");
    engine_->apply_record(b, "t", 0, n_++, "w", env.SerializeAsString());
  }

  std::string dir_;
  config::Config cfg_;
  StepClock clock_;
  std::unique_ptr<router::Store> store_;
  std::unique_ptr<router::Engine> engine_;
  int64_t n_ = 1;
};

// Args: open conversations, messages each.
void BM_Welcome(benchmark::State& state) {
  WelcomeFixture fx(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  size_t bytes = 0;
  int i = 0;
  for (auto _ : state) bytes = fx.hello(fmt::format("r{}", ++i));
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Welcome)
    ->Args({10, 20})
    ->Args({250, 50})
    ->Args({250, 100})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace omniroute
