// Satisfaction in reports: surveys sent and ratings given over a range, the latest answer
// of a conversation counting once, 3- and 5-point scales on one basis, by agent, queue and
// channel, filtered like every other figure, in the JSON and the CSV.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "analytics/model.h"
#include "analytics/report.h"
#include "config/config.h"
#include "tests/support/support.h"

namespace omniroute::testing {
namespace {

using v1::RoutingEvent;

constexpr int64_t kHour = 3600 * 1000;
constexpr int64_t kMonday = 1795996800000;  // 2026-11-30 00:00 UTC

config::Config csat_config() {
  std::vector<std::string> errors;
  auto cfg = config::parse(R"(
kafka: {brokers: embedded}
router: {agent_auth: none, insecure: true}
workspaces:
  - id: acme
    queues: [{id: general}, {id: vip}]
    inboxes:
      - {id: api, channel: webhook, queue: general, settings: {secret: s, callback_url: "http://127.0.0.1:1/"}}
    agents: [{id: alice}, {id: bob}]
)",
                           errors);
  EXPECT_TRUE(cfg) << (errors.empty() ? "" : errors.front());
  return cfg ? *cfg : config::Config{};
}

RoutingEvent event(int64_t at, RoutingEvent::Kind kind, const std::string& conv,
                   const std::string& agent, v1::Channel ch, const std::string& queue,
                   uint32_t scale, uint32_t rating = 0) {
  static int seq = 0;
  RoutingEvent e;
  e.set_event_id(fmt::format("acme/{}/{}", conv, ++seq));
  e.set_workspace_id("acme");
  e.set_conversation_id(conv);
  e.set_kind(kind);
  e.set_agent_id(agent);
  e.set_queue_id(queue);
  e.set_channel(ch);
  e.set_inbox_id("api");
  e.set_language("en");
  e.set_csat_scale(scale);
  e.set_csat_rating(rating);
  e.set_at_ms(at);
  return e;
}

std::vector<RoutingEvent> week() {
  using K = RoutingEvent;
  const auto web = v1::CHANNEL_WEBHOOK, sms = v1::CHANNEL_SMS;
  return {
      // C1 (alice): rated 5, then changed to 2: the latest counts.
      event(kMonday + 9 * kHour, K::KIND_SURVEY_SENT, "C1", "alice", web, "general", 5),
      event(kMonday + 10 * kHour, K::KIND_CSAT, "C1", "alice", web, "general", 5, 5),
      event(kMonday + 10 * kHour + 300000, K::KIND_CSAT, "C1", "alice", web, "general", 5, 2),
      // C2 (bob, SMS, 3-point scale): 3 of 3 counts as 5 of 5, satisfied.
      event(kMonday + 10 * kHour, K::KIND_SURVEY_SENT, "C2", "bob", sms, "vip", 3),
      event(kMonday + 11 * kHour, K::KIND_CSAT, "C2", "bob", sms, "vip", 3, 3),
      // C3 (alice): never answered.
      event(kMonday + 12 * kHour, K::KIND_SURVEY_SENT, "C3", "alice", web, "general", 5),
      // C4 (bob, SMS): sent Monday, answered Tuesday.
      event(kMonday + 20 * kHour, K::KIND_SURVEY_SENT, "C4", "bob", sms, "vip", 5),
      event(kMonday + 30 * kHour, K::KIND_CSAT, "C4", "bob", sms, "vip", 5, 4),
  };
}

analytics::Filter range(int64_t from, int64_t to) {
  analytics::Filter f;
  f.workspace = "acme";
  f.from_ms = from;
  f.to_ms = to;
  f.now_ms = to;
  return f;
}

nlohmann::json group(const nlohmann::json& list, const std::string& name) {
  for (const auto& g : list)
    if (g["name"] == name) return g;
  ADD_FAILURE() << "no group " << name << " in " << list.dump();
  return {};
}

class CsatReport : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    db_ = analytics::Db::open(dir_.file("analytics"), err);
    ASSERT_TRUE(db_) << err;
    analytics::Model model(cfg_);
    for (const auto& e : week()) {
      auto b = db_->begin();
      model.apply(b, e);
      ASSERT_EQ(db_->commit(b), "");
    }
  }
  nlohmann::json csat(const analytics::Filter& f) {
    return analytics::to_json(analytics::compute(*db_, cfg_, f, {}))["csat"];
  }
  TempDir dir_;
  config::Config cfg_ = csat_config();
  std::unique_ptr<analytics::Db> db_;
};

TEST_F(CsatReport, MondayInTotalAndByAgentQueueAndChannel) {
  const auto c = csat(range(kMonday, kMonday + 24 * kHour));
  EXPECT_EQ(c["sent"], 4);
  EXPECT_EQ(c["answered"], 2) << "C1 once (its latest answer), C2";
  EXPECT_EQ(c["response_rate_percent"], 50.0);
  EXPECT_EQ(c["mean_of_5"], 3.5) << "(2 + 5) / 2: 3 of 3 is 5 of 5";
  EXPECT_EQ(c["satisfied_percent"], 50.0);
  EXPECT_EQ(c["distribution"], nlohmann::json({0, 1, 0, 0, 1}));
  const auto alice = group(c["by_agent"], "alice"), bob = group(c["by_agent"], "bob");
  EXPECT_EQ(alice["sent"], 2);
  EXPECT_EQ(alice["answered"], 1);
  EXPECT_EQ(alice["mean_of_5"], 2.0);
  EXPECT_EQ(alice["satisfied_percent"], 0.0);
  EXPECT_EQ(bob["sent"], 2);
  EXPECT_EQ(bob["mean_of_5"], 5.0);
  EXPECT_EQ(bob["satisfied_percent"], 100.0);
  EXPECT_EQ(group(c["by_queue"], "vip")["answered"], 1);
  EXPECT_EQ(group(c["by_channel"], "sms")["sent"], 2);
  EXPECT_EQ(group(c["by_channel"], "webhook")["mean_of_5"], 2.0);
}

TEST_F(CsatReport, RangesFiltersAndTheCsv) {
  // Tuesday: C4's answer, no survey sent that day.
  const auto tue = csat(range(kMonday + 24 * kHour, kMonday + 48 * kHour));
  EXPECT_EQ(tue["sent"], 0);
  EXPECT_EQ(tue["answered"], 1);
  EXPECT_EQ(tue["mean_of_5"], 4.0);
  EXPECT_EQ(tue["response_rate_percent"], 0.0) << "nothing sent in the range";
  // C1's first answer (10:00) was replaced by its 10:05 one: 10:00-10:01 holds no rating.
  const auto early = csat(range(kMonday + 10 * kHour, kMonday + 10 * kHour + 60000));
  EXPECT_EQ(early["answered"], 0);
  // Filters: agent, channel.
  auto f = range(kMonday, kMonday + 48 * kHour);
  f.agent = "bob";
  EXPECT_EQ(csat(f)["answered"], 2);
  f.agent.clear();
  f.channel = v1::CHANNEL_WEBHOOK;
  EXPECT_EQ(csat(f)["sent"], 2);
  EXPECT_EQ(csat(f)["answered"], 1);
  const std::string csv =
      analytics::to_csv(analytics::compute(*db_, cfg_, range(kMonday, kMonday + 24 * kHour), {}));
  EXPECT_NE(csv.find("csat,answered,2\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("agent,bob,2,1,5.0,100.0\n"), std::string::npos) << csv;
}

}  // namespace
}  // namespace omniroute::testing
