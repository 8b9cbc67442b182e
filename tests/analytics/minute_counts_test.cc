// Report counts over ranges that are not whole hours: a shift from 10:30 to 11:00 counts
// exactly what happened in it.
#include <gtest/gtest.h>

#include "analytics/model.h"
#include "analytics/report.h"
#include "config/config.h"
#include "tests/support/support.h"

namespace omniroute::testing {
namespace {

TEST(ReportCounts, ARangeCountsToTheMinute) {
  std::vector<std::string> errors;
  auto cfg = config::parse(R"(
kafka: {brokers: embedded}
router: {agent_auth: none, insecure: true}
workspaces:
  - id: acme
    queues: [{id: general}]
    inboxes:
      - {id: api, channel: webhook, queue: general, settings: {secret: s, callback_url: "http://127.0.0.1:1/"}}
    agents: [{id: alice}]
)",
                           errors);
  ASSERT_TRUE(cfg) << errors.front();
  TempDir dir;
  std::string err;
  auto db = analytics::Db::open(dir.file("analytics"), err);
  ASSERT_TRUE(db) << err;
  analytics::Model model(*cfg);
  constexpr int64_t kMin = 60 * 1000, kTen = 1795996800000 + 10 * 60 * kMin;  // Monday 10:00
  int n = 0;
  for (int64_t minute : {20, 29, 30, 45, 59, 60, 70}) {
    v1::RoutingEvent e;
    e.set_event_id("acme/C" + std::to_string(++n));
    e.set_workspace_id("acme");
    e.set_conversation_id("C" + std::to_string(n));
    e.set_kind(v1::RoutingEvent::KIND_OPENED);
    e.set_queue_id("general");
    e.set_channel(v1::CHANNEL_WEBHOOK);
    e.set_at_ms(kTen + minute * kMin + 1234);
    auto b = db->begin();
    model.apply(b, e);
    ASSERT_EQ(db->commit(b), "");
  }
  analytics::Filter f;
  f.workspace = "acme";
  f.from_ms = kTen + 30 * kMin;
  f.to_ms = kTen + 60 * kMin;
  f.now_ms = f.to_ms;
  EXPECT_EQ(analytics::compute(*db, *cfg, f, {}).entered, 3u) << "10:30, 10:45, 10:59";
  f.from_ms = kTen;
  f.to_ms = kTen + 30 * kMin;
  EXPECT_EQ(analytics::compute(*db, *cfg, f, {}).entered, 2u) << "10:20, 10:29";
}

}  // namespace
}  // namespace omniroute::testing
