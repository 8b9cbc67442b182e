// Micro-benchmarks of the hot pieces (Google Benchmark): normalizing a channel payload,
// one routing decision among 10,000 agents and 1,000 queues, and the store's
// read-modify-write of a conversation per message, and one /metrics scrape at 1,000 queues
// (and one Welcome: welcome_micro.cc).
#include <filesystem>
#include <random>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "analytics/model.h"
#include "bench/decision.h"
#include "connectors/webhook/webhook.h"
#include "ops/metrics.h"
#include "router/changelog.h"
#include "router/engine.h"
#include "router/store.h"

namespace omniroute {
namespace {

std::string temp_dir(const char* name) {
  auto p =
      std::filesystem::temp_directory_path() / fmt::format("omniroute-micro-{}-{}", name, getpid());
  std::filesystem::remove_all(p);
  return p.string();
}

void BM_NormalizeWebhook(benchmark::State& state) {
  const size_t body = static_cast<size_t>(state.range(0));
  const std::string json = fmt::format(
      R"({{"external_message_id":"msg-123456","customer_handle":"+4915112345678","customer_display_name":"Jana",)"
      R"("subject":"Order 5531","text_body":"{}","thread":{{"thread_id":"t-99"}}}})",
      std::string(body, 'x'));
  connectors::webhook::Limits limits;
  for (auto _ : state) {
    v1::InboundMessage m;
    auto err = connectors::webhook::parse_inbound(json, limits, m);
    benchmark::DoNotOptimize(err);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(json.size()));
}
BENCHMARK(BM_NormalizeWebhook)->Arg(200)->Arg(4000);

// One workspace, 10,000 agents each serving 10 of 1,000 queues, all connected.
void BM_RoutingDecision10kAgents1kQueues(benchmark::State& state) {
  static bench::RoutingFixture fx(10000, 1000);
  auto b = fx.store().begin();
  int in_batch = 0;
  for (auto _ : state) {
    // A new conversation in a random queue: identity, threading, queueing and the offer.
    fx.new_conversation(b);
    if (++in_batch == 512) {
      state.PauseTiming();
      (void)fx.engine().commit(b);
      fx.engine().take_frames();
      fx.engine().take_outbox();
      b.clear();
      in_batch = 0;
      state.ResumeTiming();
    }
  }
  (void)fx.engine().commit(b);
  fx.engine().take_frames();
  fx.engine().take_outbox();
  const auto& c = fx.engine().counters();
  state.counters["decision_us"] =
      c.decisions ? static_cast<double>(c.decision_ns) / 1000.0 / static_cast<double>(c.decisions)
                  : 0;
}
BENCHMARK(BM_RoutingDecision10kAgents1kQueues)->Unit(benchmark::kMicrosecond);

void BM_StoreReadModifyWrite(benchmark::State& state) {
  const std::string dir = temp_dir("rmw");
  std::string err;
  auto store = router::Store::open(dir, false, err);
  v1::store::Conversation c;
  c.mutable_summary()->set_conversation_id("C1");
  c.mutable_summary()->set_customer_handle("+4915112345678");
  c.mutable_summary()->set_subject("Order 5531");
  {
    auto b = store->begin();
    for (int i = 0; i < 10000; ++i)
      b.put(router::Cf::kConversations, fmt::format("w/C{}", i), c.SerializeAsString());
    (void)store->commit(b);
  }
  int64_t i = 0;
  auto b = store->begin();
  for (auto _ : state) {
    const std::string key = fmt::format("w/C{}", i++ % 10000);
    std::string v;
    b.get(router::Cf::kConversations, key, &v);
    v1::store::Conversation conv;
    conv.ParseFromString(v);
    conv.set_message_count(conv.message_count() + 1);
    b.put(router::Cf::kConversations, key, conv.SerializeAsString());
    if (i % 512 == 0) {
      (void)store->commit(b);  // the router commits once per step
      b.clear();
    }
  }
  store.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_StoreReadModifyWrite);

// Restore speed (issue 16 groundwork): the changelog of 10,000 new conversations (each
// opened, classified, queued and offered: every record a step wrote) replayed into an
// empty store, 10,000 records per commit. Items = conversations restored.
void BM_RestoreFromChangelog(benchmark::State& state) {
  static std::vector<router::ChangelogRecord> records = [] {
    bench::RoutingFixture fx(1000, 100);
    std::vector<router::ChangelogRecord> out;
    auto b = fx.store().begin();
    for (int i = 1; i <= 10000; ++i) {
      fx.new_conversation(b);
      if (i % 512 == 0 || i == 10000) {
        (void)fx.engine().commit(b);
        for (auto& r : router::changelog_of(b)) out.push_back(std::move(r));
        fx.engine().take_frames();
        fx.engine().take_outbox();
        b.clear();
      }
    }
    return out;
  }();
  for (auto _ : state) {
    state.PauseTiming();
    const std::string dir = temp_dir("restore");
    std::string err;
    auto store = router::Store::open(dir, false, err);
    state.ResumeTiming();
    for (size_t i = 0; i < records.size(); i += 10000) {
      auto b = store->begin();
      const std::vector<router::ChangelogRecord> part(
          records.begin() + static_cast<std::ptrdiff_t>(i),
          records.begin() + static_cast<std::ptrdiff_t>(std::min(records.size(), i + 10000)));
      (void)router::restore_into(b, part);
      (void)store->commit(b);
    }
    state.PauseTiming();
    store.reset();
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * 10000);
  state.counters["records"] = static_cast<double>(records.size());
}
BENCHMARK(BM_RestoreFromChangelog)->Unit(benchmark::kMillisecond)->Iterations(3);

// One /metrics scrape with the series a router of 1,000 queues in 10 workspaces has: a
// waiting gauge per queue, presence gauges, routing event counters, latency histograms.
void BM_MetricsScrape1kQueues(benchmark::State& state) {
  auto& m = ops::metrics();
  for (int w = 0; w < 10; ++w) {
    const std::string ws = fmt::format("ws{}", w);
    for (int q = 0; q < 100; ++q)
      m.waiting.Add({{"workspace", ws}, {"queue", fmt::format("q{}", q)}}).Set(q);
    for (const char* p : {"available", "busy", "away", "offline"})
      m.agents.Add({{"workspace", ws}, {"presence", p}}).Set(250);
    for (int k = 1; k <= 22; ++k)
      m.routing_events.Add({{"workspace", ws}, {"kind", ops::routing_kind_label(k)}}).Increment();
  }
  for (int c = 1; c <= 10; ++c) {
    ops::by_channel(m.publish_to_offer, c).Observe(0.2);
    ops::by_channel(m.reply_to_outbound, c).Observe(0.05);
  }
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = ops::scrape();
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_MetricsScrape1kQueues)->Unit(benchmark::kMillisecond);

// The wallboard's picture of a workspace with 10,000 agents, 1,000 queues and 20,000 open
// conversations (a quarter of them waiting), as JSON text: what each push to a supervisor's
// board costs the analytics process.
void BM_LiveBoard10kAgents1kQueues(benchmark::State& state) {
  const std::string find = state.range(0) ? "agent99" : "";
  analytics::Live live;
  std::vector<std::string> queues;
  for (int q = 0; q < 1000; ++q) queues.push_back(fmt::format("q{}", q));
  for (int a = 0; a < 10000; ++a) {
    auto& x = live.agents[fmt::format("agent{}", a)];
    x.presence = a % 4 == 0 ? "away" : "available";
    x.holding = a % 3;
    x.since_ms = 1000 + a;
  }
  for (int c = 0; c < 20000; ++c) {
    auto& x = live.conversations[fmt::format("C{}", c)];
    x.queue = queues[static_cast<size_t>(c % 1000)];
    x.inbox = fmt::format("inbox{}", c % 50);
    x.channel = static_cast<v1::Channel>(1 + c % 8);
    x.state = c % 4 == 0 ? v1::analytics::ConversationFacts::STATE_QUEUED
                         : v1::analytics::ConversationFacts::STATE_ASSIGNED;
    x.queued_since_ms = x.state == v1::analytics::ConversationFacts::STATE_QUEUED ? 5000 + c : 0;
  }
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = analytics::picture(live, "acme", 1'000'000, queues, find).dump();
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
// Arg 0: the default view (the 300 agents holding most); 1: a search ("agent99").
BENCHMARK(BM_LiveBoard10kAgents1kQueues)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace omniroute

int main(int argc, char** argv) {
  omniroute::log::set_level("warn");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
