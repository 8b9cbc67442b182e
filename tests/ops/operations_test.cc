// /metrics, /livez and /readyz as an operator's scraper and load balancer see them: on the
// front door of a running stack and on `omniroute router`'s own listener; the exposition
// passes `promtool check metrics`; labels never carry agent or customer ids.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <regex>

#include <fmt/format.h>

#include "common/child_process.h"
#include "connectors/http/client.h"
#include "ops/health.h"
#include "tests/integration/harness.h"

namespace omniroute::testing {
namespace {

connectors::http::ClientResponse get(const std::string& url, std::vector<std::string> headers = {},
                                     const std::string& method = "GET") {
  return http_get(url, std::move(headers), method);
}
double sample(const std::string& text, const std::string& series) {
  return metric_sample(text, series);
}

// promtool's verdict on an exposition: "" when it passes, else what it said.
std::string promtool_check(const std::string& text, const std::string& dir) {
  const std::string in = dir + "/scrape.txt", out = dir + "/promtool.txt";
  std::ofstream(in) << text;
  const int rc = std::system(fmt::format("promtool check metrics < {} > {} 2>&1", in, out).c_str());
  std::ifstream f(out);
  std::string said((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return rc == 0 ? "" : fmt::format("exit {}: {}", rc, said);
}

class Operations : public StackFixture {};

TEST_F(Operations, TheFrontDoorServesMetricsAndHealthThatPromtoolAccepts) {
  ASSERT_EQ(stack_->serve_operations(), "");
  RecordingDesk alice(*stack_->router(), "acme", "alice", {});
  ASSERT_TRUE(wait_until([&] { return alice.desk().connected(); }));

  auto live = get(base_ + "/livez");
  EXPECT_EQ(live.status, 200) << live.body;
  EXPECT_NE(live.body.find("\"live\""), std::string::npos);
  auto ready = get(base_ + "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(get(base_ + "/readyz", {}, "POST").status, 405);
  EXPECT_EQ(get(base_ + "/metrics/other").status, 404);

  // A customer's message through the whole loop, and one with a forged signature.
  ASSERT_EQ(post("ext-1", "jane@example.com", "Where is my parcel?"), 202);
  ASSERT_TRUE(wait_until([&] { return receiver_->received().size() == 1; }));
  EXPECT_EQ(connectors::webhook::post_signed(url(), "not-the-secret", R"({"text_body":"x"})",
                                             nullptr, 5000),
            403);

  // Gauges are refreshed about once a second.
  std::string text;
  ASSERT_TRUE(wait_until([&] {
    auto m = get(base_ + "/metrics");
    text = m.body;
    return m.status == 200 &&
           sample(text, R"(omniroute_reply_to_outbound_seconds_count{channel="webhook"})") >= 1 &&
           sample(text, R"(omniroute_agents{presence="available",workspace="acme"})") >= 1;
  })) << text;
  EXPECT_GE(sample(text, R"(omniroute_http_requests_total{code="202",route="/v1/webhook/"})"), 1);
  EXPECT_GE(sample(text, R"(omniroute_http_requests_total{code="403",route="/v1/webhook/"})"), 1);
  EXPECT_GE(
      sample(text, R"(omniroute_auth_rejected_total{reason="bad_signature",surface="webhook"})"),
      1);
  EXPECT_GE(sample(text, R"(omniroute_publish_to_offer_seconds_count{channel="webhook"})"), 1);
  EXPECT_GE(sample(text, R"(omniroute_deliveries_total{channel="webhook",outcome="delivered"})"),
            1);
  EXPECT_GE(
      sample(text, R"(omniroute_inbound_published_total{channel="webhook",outcome="published"})"),
      1);
  EXPECT_GE(sample(text, R"(omniroute_routing_events_total{kind="accepted",workspace="acme"})"), 1);
  EXPECT_EQ(sample(text, R"(omniroute_conversations_waiting{queue="general",workspace="acme"})"),
            0);
  EXPECT_GE(sample(text, "omniroute_router_step_seconds_count"), 1);
  EXPECT_GE(sample(text, "omniroute_router_commit_writes_count"), 1);
  EXPECT_GE(sample(text, R"(omniroute_consumer_lag_records{partition="0",topic="omni.inbound"})"),
            0);
  EXPECT_GE(sample(text, "omniroute_outbox_records"), 0);
  // Bounded labels: no agent, customer or message ever names a series.
  for (const char* id : {"alice", "jane@example.com", "ext-1", "parcel"})
    EXPECT_EQ(text.find(id), std::string::npos) << id << " appears in /metrics";
  EXPECT_EQ(promtool_check(text, dir_.path()), "");
}

TEST(OperationsUnit, ReadinessNamesWhatIsMissingAndDrainingIsNotReady) {
  // Other tests of this process may have left checks; these look at their own entries.
  auto failing = [](const std::string& entry) {
    const auto r = ops::readiness();
    for (const auto& f : r.failing)
      if (f.rfind(entry, 0) == 0) return !r.ok;
    return false;
  };
  ops::set_ready("unit-store", false, "opening");
  EXPECT_TRUE(failing("unit-store: opening"));
  ops::set_ready("unit-store", true);
  EXPECT_FALSE(failing("unit-store"));
  ops::set_draining(true);
  EXPECT_TRUE(failing("draining"));
  ops::set_draining(false);
  EXPECT_FALSE(failing("draining"));
  ops::forget_check("unit-store");
  ops::loop_turned("unit-loop", std::chrono::milliseconds(50));
  EXPECT_TRUE(ops::liveness().ok);
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  const auto stuck = ops::liveness();
  EXPECT_FALSE(stuck.ok) << "a loop that stopped turning is not live";
  ASSERT_EQ(stuck.failing.size(), 1u);
  EXPECT_EQ(stuck.failing[0].rfind("unit-loop: has not turned for", 0), 0u) << stuck.failing[0];
  ops::forget_loop("unit-loop");
  EXPECT_TRUE(ops::liveness().ok);
}

// `omniroute router` has no front door: operations.listen gives it one, with a token on
// /metrics, and SIGTERM turns /readyz to 503 for operations.drain_seconds before it stops.
TEST(RouterOperations, OwnListenerTokenAndDrainAfterSigterm) {
  TempDir dir;
  std::string err;
  auto cluster = kafka::EmbeddedCluster::start(1, err);
  ASSERT_TRUE(cluster) << err;
  const int ops_port = free_port();
  ConfigParams p;
  p.brokers = cluster->bootstraps();
  p.state_dir = dir.path() + "/state";
  p.agent_endpoint = fmt::format("tcp://127.0.0.1:{}", free_port());
  std::string yaml = config_yaml(p) + fmt::format(
                                          "operations: {{listen: \"127.0.0.1:{}\", metrics_token: "
                                          "\"scrape-me\", drain_seconds: 3}}\n",
                                          ops_port);
  std::vector<std::string> errors;
  auto cfg = config::parse(yaml, errors);
  ASSERT_TRUE(cfg) << errors.front();
  for (const auto& t : cfg->all_topics())
    ASSERT_TRUE(cluster->create_topic(t, p.partitions, 1, err)) << err;
  const std::string cfg_path = dir.file("omniroute.yaml");
  std::ofstream(cfg_path) << yaml;
  ChildProcess router(omniroute_binary(), {"router", "--config", cfg_path, "--log-level", "warn"});
  router.start();
  const std::string base = fmt::format("http://127.0.0.1:{}", ops_port);
  ASSERT_TRUE(wait_until([&] { return get(base + "/readyz").status == 200; }))
      << get(base + "/readyz").body;
  EXPECT_EQ(get(base + "/livez").status, 200);
  auto refused = get(base + "/metrics");
  EXPECT_EQ(refused.status, 401);
  auto wrong = get(base + "/metrics", {"Authorization: Bearer nope"});
  EXPECT_EQ(wrong.status, 401);
  auto m = get(base + "/metrics", {"Authorization: Bearer scrape-me"});
  ASSERT_EQ(m.status, 200);
  EXPECT_GE(
      sample(m.body, R"(omniroute_auth_rejected_total{reason="bad_token",surface="metrics"})"), 2);
  EXPECT_GE(sample(m.body, "omniroute_process_start_time_seconds"), 1e9);
  EXPECT_EQ(promtool_check(m.body, dir.path()), "");

  kill(router.pid(), SIGTERM);
  ASSERT_TRUE(
      wait_until([&] { return get(base + "/readyz").status == 503; }, std::chrono::seconds(3)));
  auto draining = get(base + "/readyz");
  EXPECT_NE(draining.body.find("draining"), std::string::npos) << draining.body;
  EXPECT_EQ(get(base + "/livez").status, 200) << "draining is not dead";
  const int status = router.stop(SIGTERM, std::chrono::seconds(30));
  EXPECT_FALSE(router.forced());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace omniroute::testing
