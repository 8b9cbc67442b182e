// Analytics from omni.routing: a scripted day with hand-computed expectations (calendar
// and business time), the same numbers after a replay from the start and after a restart
// mid-stream (records and offsets commit together), and the whole loop through a router.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "analytics/model.h"
#include "analytics/report.h"
#include "analytics/service.h"
#include "config/config.h"
#include "kafka/kafka.h"
#include "tests/integration/harness.h"
#include "workspace/passwords.h"

namespace omniroute::testing {
namespace {

using analytics::Filter;
using analytics::Report;
using v1::RoutingEvent;

constexpr int64_t kMin = 60 * 1000, kHour = 60 * kMin;
// Monday 2026-11-30 00:00 UTC.
constexpr int64_t kMonday = 1795996800000;

const char* kYaml = R"(
kafka: {brokers: "BROKERS", partitions: 3, replication_factor: 1}
state: {dir: "DIR/state"}
router: {agent_auth: none, insecure: true}
analytics: {service_level_seconds: [60, 300]}
workspaces:
  - id: acme
    timezone: UTC
    business_hours: {hours: {weekdays: ["09:00-17:00"]}}
    queues: [{id: general}]
    inboxes:
      - {id: api, channel: webhook, queue: general, settings: {secret: s, callback_url: "http://127.0.0.1:1/"}}
    agents:
      - {id: alice, capacity: {webhook: 3, sms: 3}}
      - {id: bob, capacity: {webhook: 3, sms: 3}}
      - {id: botty, bot: true, capacity: {webhook: 10}}
)";

config::Config make_config(const std::string& brokers, const std::string& dir) {
  std::string y = kYaml;
  y.replace(y.find("BROKERS"), 7, brokers);
  y.replace(y.find("DIR"), 3, dir);
  std::vector<std::string> errors;
  auto cfg = config::parse(y, errors);
  EXPECT_TRUE(cfg) << (errors.empty() ? "" : errors.front());
  return cfg ? *cfg : config::Config{};
}

// One day of a small contact center, at known times (hh:mm on Monday).
std::vector<RoutingEvent> scripted_day() {
  std::vector<RoutingEvent> out;
  int seq = 0;
  auto ev = [&](int h, int m, RoutingEvent::Kind k, const std::string& conv,
                const std::string& agent = {}, bool bot = false,
                v1::Channel ch = v1::CHANNEL_WEBHOOK, const std::string& inbox = "api",
                const std::string& lang = "en") {
    RoutingEvent e;
    e.set_event_id(fmt::format("acme/{}/{}", conv, ++seq));
    e.set_workspace_id("acme");
    e.set_conversation_id(conv);
    e.set_kind(k);
    e.set_agent_id(agent);
    e.set_agent_bot(bot);
    e.set_queue_id("general");
    e.set_channel(ch);
    e.set_inbox_id(inbox);
    e.set_language(lang);
    e.set_at_ms(kMonday + h * kHour + m * kMin);
    out.push_back(e);
  };
  auto presence = [&](int h, int m, const std::string& agent, const std::string& p) {
    RoutingEvent e;
    e.set_event_id(fmt::format("acme/~{}/{}", agent, ++seq));
    e.set_workspace_id("acme");
    e.set_kind(RoutingEvent::KIND_PRESENCE);
    e.set_agent_id(agent);
    e.set_presence(p);
    e.set_at_ms(kMonday + h * kHour + m * kMin);
    out.push_back(e);
  };
  using K = RoutingEvent;
  presence(8, 0, "alice", "available");
  presence(8, 0, "bob", "available");
  // C1: before opening hours, answered, reopened late in the day.
  ev(8, 50, K::KIND_CUSTOMER_MESSAGE, "C1");
  ev(8, 50, K::KIND_OPENED, "C1");
  ev(8, 50, K::KIND_QUEUED, "C1");
  ev(8, 50, K::KIND_OFFERED, "C1", "alice");
  ev(9, 10, K::KIND_ACCEPTED, "C1", "alice");
  ev(9, 20, K::KIND_REPLIED, "C1", "alice");
  ev(9, 30, K::KIND_CUSTOMER_MESSAGE, "C1");
  ev(9, 35, K::KIND_REPLIED, "C1", "alice");
  ev(10, 0, K::KIND_RESOLVED, "C1", "alice");
  // C2 (SMS, Portuguese): rejected, expired, accepted, transferred, resolved.
  const auto sms = v1::CHANNEL_SMS;
  ev(11, 0, K::KIND_CUSTOMER_MESSAGE, "C2", "", false, sms, "sms1", "pt");
  ev(11, 0, K::KIND_OPENED, "C2", "", false, sms, "sms1", "pt");
  ev(11, 0, K::KIND_QUEUED, "C2", "", false, sms, "sms1", "pt");
  ev(11, 0, K::KIND_OFFERED, "C2", "alice", false, sms, "sms1", "pt");
  ev(11, 1, K::KIND_REJECTED, "C2", "alice", false, sms, "sms1", "pt");
  ev(11, 1, K::KIND_QUEUED, "C2", "", false, sms, "sms1", "pt");
  ev(11, 1, K::KIND_OFFERED, "C2", "bob", false, sms, "sms1", "pt");
  ev(11, 2, K::KIND_OFFER_EXPIRED, "C2", "bob", false, sms, "sms1", "pt");
  ev(11, 2, K::KIND_QUEUED, "C2", "", false, sms, "sms1", "pt");
  ev(11, 3, K::KIND_OFFERED, "C2", "alice", false, sms, "sms1", "pt");
  ev(11, 4, K::KIND_ACCEPTED, "C2", "alice", false, sms, "sms1", "pt");
  ev(11, 14, K::KIND_REPLIED, "C2", "alice", false, sms, "sms1", "pt");
  ev(11, 20, K::KIND_TRANSFERRED, "C2", "alice", false, sms, "sms1", "pt");
  ev(11, 20, K::KIND_QUEUED, "C2", "", false, sms, "sms1", "pt");
  ev(11, 20, K::KIND_OFFERED, "C2", "bob", false, sms, "sms1", "pt");
  ev(11, 22, K::KIND_ACCEPTED, "C2", "bob", false, sms, "sms1", "pt");
  ev(11, 30, K::KIND_RESOLVED, "C2", "bob", false, sms, "sms1", "pt");
  presence(12, 0, "bob", "away");
  // C3: nobody took it; the customer left.
  ev(12, 0, K::KIND_CUSTOMER_MESSAGE, "C3");
  ev(12, 0, K::KIND_OPENED, "C3");
  ev(12, 0, K::KIND_QUEUED, "C3");
  ev(12, 0, K::KIND_OFFERED, "C3", "alice");
  ev(12, 5, K::KIND_OFFER_EXPIRED, "C3", "alice");
  ev(12, 5, K::KIND_QUEUED, "C3");
  ev(12, 7, K::KIND_RESOLVED, "C3");
  // C4: the bot answers and resolves.
  ev(13, 0, K::KIND_CUSTOMER_MESSAGE, "C4");
  ev(13, 0, K::KIND_OPENED, "C4");
  ev(13, 0, K::KIND_QUEUED, "C4");
  ev(13, 0, K::KIND_OFFERED, "C4", "botty", true);
  ev(13, 0, K::KIND_ACCEPTED, "C4", "botty", true);
  ev(13, 1, K::KIND_REPLIED, "C4", "botty", true);
  ev(13, 2, K::KIND_RESOLVED, "C4", "botty", true);
  presence(16, 0, "bob", "available");
  // C1 reopened: first response stays; the reply is a next response.
  ev(16, 50, K::KIND_CUSTOMER_MESSAGE, "C1");
  ev(16, 50, K::KIND_REOPENED, "C1");
  ev(16, 50, K::KIND_QUEUED, "C1");
  ev(16, 50, K::KIND_OFFERED, "C1", "bob");
  ev(16, 55, K::KIND_ACCEPTED, "C1", "bob");
  ev(17, 10, K::KIND_REPLIED, "C1", "bob");
  ev(17, 15, K::KIND_RESOLVED, "C1", "bob");
  presence(18, 0, "bob", "offline");
  // C5: after hours; still open at the end of the day.
  ev(20, 0, K::KIND_CUSTOMER_MESSAGE, "C5");
  ev(20, 0, K::KIND_OPENED, "C5");
  ev(20, 0, K::KIND_QUEUED, "C5");
  ev(20, 0, K::KIND_OFFERED, "C5", "alice");
  ev(20, 1, K::KIND_ACCEPTED, "C5", "alice");
  ev(20, 30, K::KIND_REPLIED, "C5", "alice");
  presence(21, 0, "alice", "offline");
  return out;
}

Filter monday() {
  Filter f;
  f.workspace = "acme";
  f.from_ms = kMonday;
  f.to_ms = kMonday + 24 * kHour;
  return f;
}

void expect_durations(const analytics::Durations& d, size_t count, double median, double p90,
                      double mean, const char* what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(d.count, count);
  EXPECT_DOUBLE_EQ(d.median_s, median);
  EXPECT_DOUBLE_EQ(d.p90_s, p90);
  EXPECT_NEAR(d.mean_s, mean, 1e-9);
}

const Report::Agent* agent_row(const Report& r, const std::string& id) {
  for (const auto& a : r.agents)
    if (a.agent == id) return &a;
  return nullptr;
}

TEST(AnalyticsDay, ReportsEqualHandComputedFiguresInCalendarAndBusinessTime) {
  TempDir dir;
  const auto cfg = make_config("embedded", dir.path());
  std::string err;
  auto db = analytics::Db::open(dir.file("analytics"), err);
  ASSERT_TRUE(db) << err;
  analytics::Model model(cfg);
  for (const auto& e : scripted_day()) {
    auto b = db->begin();
    model.apply(b, e);
    ASSERT_EQ(db->commit(b), "");
  }
  Filter f = monday();
  f.now_ms = model.live().at("acme").last_event_ms;
  EXPECT_EQ(f.now_ms, kMonday + 21 * kHour);
  const Report r = analytics::compute(*db, cfg, f, cfg.analytics.service_level_s);

  EXPECT_EQ(r.entered, 5u);
  EXPECT_EQ(r.cohort, 5u);
  EXPECT_EQ(r.offered, 9u);
  EXPECT_EQ(r.accepted, 6u);
  EXPECT_EQ(r.rejected, 1u);
  EXPECT_EQ(r.expired, 2u);
  EXPECT_EQ(r.transferred, 1u);
  EXPECT_EQ(r.resolved, 5u);
  EXPECT_EQ(r.abandoned, 1u);
  EXPECT_EQ(r.bot_resolved, 1u);
  EXPECT_EQ(r.reopened, 1u);
  // First response by people: C1 30 min (20 in business hours: 09:00-09:20), C2 14 min,
  // C5 30 min (0: after hours). The reopen did not reset C1's. The bot's answer is apart.
  expect_durations(r.first_response, 3, 1800, 1800, 4440.0 / 3, "first response");
  expect_durations(r.first_response_business, 3, 840, 1200, 2040.0 / 3, "first response, business");
  expect_durations(r.bot_first_response, 1, 60, 60, 60, "bot first response");
  // Next responses (C1): 5 min; 20 min after the reopen (10 of them before 17:00).
  expect_durations(r.next_response, 2, 300, 1200, 750, "next response");
  expect_durations(r.next_response_business, 2, 300, 600, 450, "next response, business");
  // Resolution: C1 08:50 -> 17:15, C2 30 min, C3 7 min, C4 2 min.
  expect_durations(r.resolution, 4, 420, 30300, 32640.0 / 4, "resolution");
  expect_durations(r.resolution_business, 4, 420, 28800, 31140.0 / 4, "resolution, business");
  expect_durations(r.wait_to_accept, 3, 240, 1200, 1500.0 / 3, "wait to accept");
  // Service level: C1 20 min, C2 4 min, C5 1 min accepted by people; C3 abandoned; C4 (bot) apart.
  ASSERT_EQ(r.service_level.size(), 2u);
  EXPECT_EQ(r.service_level[0].threshold_s, 60);
  EXPECT_EQ(r.service_level[0].total, 4u);
  EXPECT_EQ(r.service_level[0].met, 1u);
  EXPECT_DOUBLE_EQ(r.service_level[0].percent, 25.0);
  EXPECT_EQ(r.service_level[1].met, 2u);
  EXPECT_DOUBLE_EQ(r.service_level[1].percent, 50.0);
  // Arrivals: Monday (weekday 1) at 08, 11, 12, 13 and 20 h.
  for (int h : {8, 11, 12, 13, 20}) EXPECT_EQ(r.arrivals[1][static_cast<size_t>(h)], 1u) << h;
  EXPECT_EQ(r.arrivals[1][9], 0u);

  const auto* alice = agent_row(r, "alice");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->handled, 2u);                       // C1 09:10-10:00, C2 11:04-11:20
  EXPECT_DOUBLE_EQ(alice->handle_time_mean_s, 1980);   // (3000 + 960) / 2
  EXPECT_DOUBLE_EQ(alice->online_s, 13 * 3600);        // 08:00-21:00
  EXPECT_DOUBLE_EQ(alice->busy_s, 3000 + 960 + 3540);  // and C5 from 20:01 to now (21:00)
  EXPECT_NEAR(alice->utilisation, 7500.0 / 46800, 1e-12);
  const auto* bob = agent_row(r, "bob");
  ASSERT_NE(bob, nullptr);
  EXPECT_EQ(bob->handled, 2u);
  EXPECT_DOUBLE_EQ(bob->handle_time_mean_s, 840);  // (480 + 1200) / 2
  EXPECT_DOUBLE_EQ(bob->online_s, 10 * 3600);      // 08:00-18:00 (away counts as online)
  EXPECT_DOUBLE_EQ(bob->busy_s, 1680);
  const auto* botty = agent_row(r, "botty");
  ASSERT_NE(botty, nullptr);
  EXPECT_TRUE(botty->bot);
  EXPECT_EQ(botty->handled, 1u);

  // Filters.
  Filter by_sms = f;
  by_sms.channel = v1::CHANNEL_SMS;
  const Report s = analytics::compute(*db, cfg, by_sms, {60});
  EXPECT_EQ(s.entered, 1u);
  EXPECT_EQ(s.offered, 4u);
  expect_durations(s.first_response, 1, 840, 840, 840, "sms first response");
  Filter pt = f;
  pt.language = "pt";
  EXPECT_EQ(analytics::compute(*db, cfg, pt, {}).cohort, 1u);
  Filter by_alice = f;
  by_alice.agent = "alice";
  const Report a = analytics::compute(*db, cfg, by_alice, {});
  EXPECT_EQ(a.accepted, 3u);
  EXPECT_EQ(a.cohort, 3u);  // first accepted by alice: C1, C2, C5
  ASSERT_EQ(a.agents.size(), 1u);
  // A range of the afternoon only: C5 opened in it; C1's reopen counts as an event in it.
  Filter afternoon = f;
  afternoon.from_ms = kMonday + 14 * kHour;
  const Report pm = analytics::compute(*db, cfg, afternoon, {});
  EXPECT_EQ(pm.entered, 1u);
  EXPECT_EQ(pm.reopened, 1u);
  EXPECT_EQ(pm.resolved, 1u);

  // The live picture at the end of the day: C5 open with alice, alice offline.
  const auto& live = model.live().at("acme");
  ASSERT_EQ(live.conversations.size(), 1u);
  EXPECT_EQ(live.conversations.begin()->first, "C5");
  EXPECT_EQ(live.agents.at("alice").presence, "offline");
  EXPECT_EQ(live.agents.at("alice").holding, 1);

  // CSV carries the same figures.
  const std::string csv = analytics::to_csv(r);
  EXPECT_NE(csv.find("counts,entered,5\n"), std::string::npos);
  EXPECT_NE(csv.find("service_level_percent,within_300s,50\n"), std::string::npos);
  EXPECT_NE(csv.find("alice,0,2,1980,"), std::string::npos) << csv;
}

// The scripted day through Kafka: a consumer that stops halfway and resumes, and one that
// reads everything from the start into an empty store, report the same numbers.
TEST(AnalyticsReplay, ARestartMidStreamAndAReplayFromTheStartGiveIdenticalReports) {
  TempDir dir;
  std::string err;
  auto cluster = kafka::EmbeddedCluster::start(1, err);
  ASSERT_TRUE(cluster) << err;
  auto cfg = make_config(cluster->bootstraps(), dir.path());
  for (const auto& t : cfg.all_topics()) ASSERT_TRUE(cluster->create_topic(t, 3, 1, err)) << err;
  kafka::ClientConfig kc;
  kc.brokers = cluster->bootstraps();
  auto producer = kafka::Producer::create(kc, err);
  ASSERT_TRUE(producer) << err;
  const auto events = scripted_day();
  const size_t half = events.size() / 2;
  auto produce = [&](size_t from, size_t to) {
    for (size_t i = from; i < to; ++i)
      ASSERT_TRUE(producer->produce(cfg.kafka.topics.routing, "acme", events[i].SerializeAsString(),
                                    nullptr, &err))
          << err;
    producer->flush(10000);
  };

  produce(0, half);
  auto first = std::make_unique<analytics::Service>(cfg, kc);
  ASSERT_EQ(first->start(), "");
  ASSERT_TRUE(wait_until([&] { return first->applied() == half; })) << first->applied();
  first->stop();
  first.reset();
  produce(half, events.size());
  analytics::Service resumed(cfg, kc);
  ASSERT_EQ(resumed.start(), "");
  ASSERT_TRUE(wait_until([&] { return resumed.applied() == events.size() - half; }))
      << resumed.applied() << " applied after the restart: a record was counted twice or lost";

  auto fresh_cfg = cfg;
  fresh_cfg.analytics.dir = dir.file("replayed");
  analytics::Service replayed(fresh_cfg, kc);
  ASSERT_EQ(replayed.start(), "");
  ASSERT_TRUE(wait_until([&] { return replayed.applied() == events.size(); }));

  const auto a = analytics::to_json(resumed.report(monday()));
  const auto b = analytics::to_json(replayed.report(monday()));
  EXPECT_EQ(a.dump(), b.dump());
  EXPECT_EQ(a["counts"]["entered"], 5);
  EXPECT_EQ(a["service_level"][1]["percent"], 50.0);
  resumed.stop();
  replayed.stop();
}

// The whole loop: a message through the webhook, a desk that accepts and answers, the
// agent resolves; analytics (started by the stack, as in `omniroute up`) reports it.
class AnalyticsLoop : public StackFixture {};

TEST_F(AnalyticsLoop, ARoutedConversationShowsInTheReportAndTheLiveBoard) {
  ASSERT_EQ(stack_->start_analytics(), "");
  RecordingDesk alice(*stack_->router(), "acme", "alice", {});
  ASSERT_TRUE(wait_until([&] { return alice.desk().connected(); }));
  ASSERT_EQ(post("ext-1", "jane@example.com", "Where is my parcel?"), 202);
  ASSERT_TRUE(wait_until([&] { return receiver_->received().size() == 1; }));
  ASSERT_EQ(alice.assignments().size(), 1u);
  const std::string conv = alice.assignments()[0].conversation().conversation_id();
  auto* svc = stack_->analytics();
  ASSERT_TRUE(wait_until([&] {
    const auto j = svc->live("acme", 0);
    return j["total"]["assigned"] == 1 && j["agents_by_presence"]["busy"] == 1;
  })) << svc->live("acme", 0).dump();
  alice.desk().resolve(conv);
  Filter f;
  f.workspace = "acme";
  f.from_ms = 0;
  f.to_ms = INT64_MAX / 2;
  ASSERT_TRUE(wait_until([&] { return svc->report(f).resolved == 1; }));
  const Report r = svc->report(f);
  EXPECT_EQ(r.entered, 1u);
  EXPECT_EQ(r.offered, 1u);
  EXPECT_EQ(r.accepted, 1u);
  EXPECT_EQ(r.abandoned, 0u);
  EXPECT_EQ(r.first_response.count, 1u);
  EXPECT_EQ(r.customer_messages, 1u);
  const auto* row = agent_row(r, "alice");
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(row->handled, 1u);
  EXPECT_GT(row->online_s, 0);
  EXPECT_EQ(svc->live("acme", 0)["total"]["assigned"], 0);
}

}  // namespace
}  // namespace omniroute::testing

namespace omniroute::testing {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

struct Answer {
  int status = 0;
  std::string body, set_cookie, content_type;
};

Answer call(const std::string& port, bhttp::verb method, const std::string& target,
            const std::string& body = {}, const std::string& cookie = {}) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  stream.connect(resolver.resolve("127.0.0.1", port));
  bhttp::request<bhttp::string_body> req{method, target, 11};
  req.set(bhttp::field::host, "127.0.0.1:" + port);
  if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
  if (!cookie.empty()) req.set(bhttp::field::cookie, cookie);
  req.body() = body;
  req.prepare_payload();
  bhttp::write(stream, req);
  beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(stream, buf, res);
  return {static_cast<int>(res.result_int()), res.body(),
          std::string(res[bhttp::field::set_cookie]), std::string(res[bhttp::field::content_type])};
}

// The reports behind the workspace's sign-in: supervisors of the workspace only, their own
// workspace only, every wrong parameter a 400.
TEST(AnalyticsApi, SupervisorsGetTheirWorkspacesReportsAsJsonAndCsvAgentsDoNot) {
  TempDir dir;
  std::string y = kYaml;
  y.replace(y.find("BROKERS"), 7, "embedded");
  y.replace(y.find("DIR"), 3, dir.path());
  y += fmt::format(R"(
  - id: globex
    queues: [{{id: general}}]
    agents: [{{id: gina, capacity: {{webhook: 1}}}}]
agent_workspace:
  listen: "127.0.0.1:0"
  accounts:
    - {{login: sue, workspace: acme, agent: alice, role: supervisor, password_hash: "{}"}}
    - {{login: bob, workspace: acme, agent: bob, password_hash: "{}"}}
)",
                   workspace::hash_password("sue's secret").value(),
                   workspace::hash_password("bob's secret").value());
  y.replace(y.find("      - {id: alice, capacity"), 28,
            "      - {id: alice, supervisor: true, capacity");
  y += "connectors: {webhook: {listen: \"127.0.0.1:0\"}}\n";
  std::vector<std::string> errors;
  auto cfg = config::parse(y, errors);
  ASSERT_TRUE(cfg) << errors.front();
  cli::Stack stack(std::move(*cfg));
  ASSERT_EQ(stack.start_all(), "");
  // The scripted day of acme, and one conversation of another workspace.
  kafka::ClientConfig kc;
  kc.brokers = stack.config().kafka.brokers;
  std::string err;
  auto producer = kafka::Producer::create(kc, err);
  ASSERT_TRUE(producer) << err;
  auto events = scripted_day();
  RoutingEvent other = events[3];  // C1 opened, in another workspace
  ASSERT_EQ(other.kind(), RoutingEvent::KIND_OPENED);
  other.set_workspace_id("globex");
  events.push_back(other);
  for (const auto& e : events)
    ASSERT_TRUE(
        producer->produce("omni.routing", e.workspace_id(), e.SerializeAsString(), nullptr));
  producer->flush(10000);
  ASSERT_TRUE(wait_until([&] { return stack.analytics()->applied() >= events.size(); }));

  const std::string url = stack.workspace()->url();
  const auto colon = url.rfind(':');
  const std::string port = url.substr(colon + 1, url.find('/', colon) - colon - 1);
  auto login = [&](const std::string& who, const std::string& password) {
    const Answer a = call(port, bhttp::verb::post, "/agent/api/login",
                          nlohmann::json{{"login", who}, {"password", password}}.dump());
    EXPECT_EQ(a.status, 200) << a.body;
    return a.set_cookie.substr(0, a.set_cookie.find(';'));
  };
  const std::string day = "/agent/api/reports?from=2026-11-30&to=2026-12-01";
  EXPECT_EQ(call(port, bhttp::verb::get, day).status, 401);
  const std::string agent = login("bob", "bob's secret");
  EXPECT_EQ(call(port, bhttp::verb::get, day, {}, agent).status, 403);
  EXPECT_EQ(call(port, bhttp::verb::get, "/agent/api/live", {}, agent).status, 403);

  const std::string sup = login("sue", "sue's secret");
  const Answer json_report = call(port, bhttp::verb::get, day, {}, sup);
  ASSERT_EQ(json_report.status, 200) << json_report.body;
  const auto j = nlohmann::json::parse(json_report.body);
  EXPECT_EQ(j["filters"]["workspace"], "acme");
  EXPECT_EQ(j["counts"]["entered"], 5) << "another workspace's conversation was counted";
  EXPECT_EQ(j["opened_in_range"], 5);
  EXPECT_EQ(j["first_response"]["business"]["median_s"], 840.0);
  const Answer sms = call(port, bhttp::verb::get, day + "&channel=sms&language=pt", {}, sup);
  EXPECT_EQ(nlohmann::json::parse(sms.body)["counts"]["entered"], 1);
  const Answer csv = call(port, bhttp::verb::get, day + "&format=csv", {}, sup);
  EXPECT_EQ(csv.status, 200);
  EXPECT_EQ(csv.content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(csv.body.rfind("section,name,value\n", 0), 0u);
  EXPECT_NE(csv.body.find("counts,entered,5\n"), std::string::npos);
  const Answer live = call(port, bhttp::verb::get, "/agent/api/live", {}, sup);
  ASSERT_EQ(live.status, 200);
  EXPECT_EQ(nlohmann::json::parse(live.body)["total"]["assigned"], 1);  // C5 with alice

  for (const char* bad : {"from=yesterday", "from=2026-12-01&to=2026-11-30", "channel=fax",
                          "workspace=globex", "format=xml", "from=0&to=99999999999999"}) {
    const Answer a =
        call(port, bhttp::verb::get, std::string("/agent/api/reports?") + bad, {}, sup);
    EXPECT_EQ(a.status, 400) << bad << ": " << a.body;
  }
  stack.stop();
}

}  // namespace
}  // namespace omniroute::testing
