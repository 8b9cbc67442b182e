// The connector claim, end to end: a channel built only from this folder registers (the
// line below), and a signed POST reaches a desk through Kafka and the router, and the
// agent's reply comes back out through the channel.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "cli/stack.h"
#include "common/crypto.h"
#include "connectors/http/client.h"
#include "tests/connectors/echo/echo.h"
#include "tests/integration/harness.h"

namespace omniroute::testing {
namespace {

TEST(EchoChannel, SignedPostReachesADeskAndTheReplyIsDelivered) {
  ASSERT_EQ(sdk::builtin_registry().add(echo::factory()), "");  // the registration line

  TempDir dir;
  const std::string yaml = fmt::format(R"(log_level: warn
kafka: {{brokers: embedded, partitions: 2, replication_factor: 1, embedded_brokers: 1}}
state: {{dir: "{}/state"}}
router:
  agent_endpoint: "tcp://127.0.0.1:*"
  agent_auth: curve
  curve_secret_key: "{}"
  heartbeat_interval_ms: 200
  heartbeat_timeout_ms: 800
connectors:
  echo: {{listen: "127.0.0.1:0"}}
workspaces:
  - id: acme
    queues: [{{id: general}}]
    inboxes: [{{id: shop, channel: custom, queue: general, settings: {{secret: "s3cret"}}}}]
    agents:
      - id: alice
        capacity: {{custom: 2}}
        curve_public_key: "{}"
)",
                                       dir.path(), test_router_keys().secret_key,
                                       test_agent_keys("acme", "alice").public_key);
  auto running = start_stack(yaml, {"echo"});
  ASSERT_TRUE(running.stack);
  cli::Stack& stack = *running.stack;
  RecordingDesk& desk = *running.alice;

  const std::string url = stack.connectors().at(0)->endpoints().at(0);
  const std::string post_url = url.substr(0, url.find("{workspace}")) + "acme/shop";
  const std::string body = R"({"id":"e-1","from":"cust-1","text":"hello echo"})";
  connectors::http::ClientRequest unsigned_req;
  unsigned_req.url = post_url;
  unsigned_req.body = body;
  EXPECT_EQ(connectors::http::send(unsigned_req).status, 401);
  connectors::http::ClientRequest req = unsigned_req;
  req.headers = {"X-Echo-Signature: " + crypto::hmac_sha256_hex("s3cret", body)};
  EXPECT_EQ(connectors::http::send(req).status, 202);

  ASSERT_TRUE(wait_until([&] { return !desk.acks().empty(); }, std::chrono::seconds(20)));
  ASSERT_EQ(desk.assignments().size(), 1u);
  EXPECT_EQ(desk.assignments()[0].conversation().channel(), v1::CHANNEL_CUSTOM);
  EXPECT_EQ(desk.assignments()[0].history(0).text_body(), "hello echo");
  ASSERT_TRUE(wait_until([] { return !echo::delivered().empty(); }, std::chrono::seconds(20)));
  const auto out = echo::delivered();
  EXPECT_EQ(out[0].to, "cust-1");
  EXPECT_EQ(out[0].text, "Hi from alice");
  EXPECT_EQ(out[0].outbound_id, desk.acks()[0].outbound_id());
  stack.stop();
}

}  // namespace
}  // namespace omniroute::testing
