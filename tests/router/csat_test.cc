// Satisfaction surveys in the router: sent once on resolve when the inbox asks and a person
// wrote, in the customer's language; the answer stored on the conversation (the latest in
// the window counts), in the history, sent to the agent it rates and to omni.routing;
// answers from someone else, out of scale, late or repeated are never stored.
#include "ops/metrics.h"
#include "tests/router/engine_fixture.h"

namespace omniroute::router {
namespace {

class Csat : public EngineFixture {
  std::string yaml() override {
    std::string y = testing::config_yaml(params());
    const std::string at = "        queue: general\n        settings:\n          secret:";
    const size_t pos = y.find(at);
    EXPECT_NE(pos, std::string::npos);
    y.insert(pos + std::string("        queue: general\n").size(),
             "        csat:\n"
             "          question: {en: \"How did we do?\", pt: \"Como foi o atendimento?\"}\n"
             "          thanks: {en: \"Thank you!\"}\n"
             "          window_hours: 2\n");
    return y;
  }

 protected:
  // alice holds C1 of customer `who`, who wrote in `lang`; then resolves it.
  void resolved(const std::string& who = "cust", const std::string& lang = "en") {
    hello("d1", "alice");
    message_with("m1", who, "", "acme", "api",
                 [&](v1::InboundMessage& m) { m.set_language(lang); });
    accept("d1", "C1/1");
    reply("d1", "C1", "r1");
    resolve("d1", "C1");
  }
  std::vector<v1::OutboundMessage> surveys() {
    std::vector<v1::OutboundMessage> out;
    for (auto& m : outbound())
      if (m.has_survey()) out.push_back(m);
    return out;
  }
  std::vector<v1::RoutingEvent> events(v1::RoutingEvent::Kind kind) {
    std::vector<v1::RoutingEvent> out;
    for (const auto& o : outbox_) {
      v1::RoutingEvent e;
      if (o.entry.topic() == "omni.routing" && e.ParseFromString(o.entry.value()) &&
          e.kind() == kind)
        out.push_back(e);
    }
    return out;
  }
  void answer(const std::string& survey, uint32_t rating, const std::string& ext,
              const std::string& who = "cust", const std::string& comment = "") {
    v1::Envelope env;
    auto* a = env.mutable_csat();
    a->set_event_id("ev-" + ext);
    a->set_workspace_id("acme");
    a->set_inbox_id("api");
    a->set_channel(v1::CHANNEL_WEBHOOK);
    a->set_customer_handle(who);
    a->set_survey_id(survey);
    a->set_rating(rating);
    a->set_comment(comment);
    a->set_external_id(ext);
    auto b = store_->begin();
    engine_->apply_record(b, "omni.inbound", 0, offset_++, "acme", env.SerializeAsString());
    commit(b);
  }
};

TEST_F(Csat, ResolveSendsOneSurveyInTheCustomersLanguage) {
  resolved("cust", "pt-BR");
  auto s = surveys();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].survey().question(), "Como foi o atendimento?");
  EXPECT_EQ(s[0].text_body(), "Como foi o atendimento?");
  EXPECT_EQ(s[0].survey().scale(), 5u);
  EXPECT_EQ(s[0].survey().expires_at_ms(), clock_.t + 2 * 3600 * 1000);
  EXPECT_TRUE(s[0].automatic());
  EXPECT_EQ(s[0].customer_handle(), "cust");
  auto sent = events(v1::RoutingEvent::KIND_SURVEY_SENT);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].agent_id(), "alice");
  EXPECT_EQ(sent[0].csat_scale(), 5u);
  // The customer writes again: reopened, answered, resolved again: no second survey.
  message("m2", "cust");
  take("d1", K::kCustomerMessage);
  resolve("d1", "C1");
  EXPECT_EQ(surveys().size(), 1u) << "once per conversation";
  EXPECT_EQ(conversation("C1").csat_survey_id(), s[0].survey().survey_id());
}

TEST_F(Csat, NeverToAMachine) {
  hello("d1", "alice");
  message_with("m1", "noreply", "", "acme", "api",
               [](v1::InboundMessage& m) { m.set_auto_generated(v1::AUTO_GENERATED_AUTO_REPLY); });
  accept("d1", "C1/1");
  resolve("d1", "C1");
  EXPECT_TRUE(surveys().empty()) << "only machines wrote";
}

TEST_F(Csat, TheAnswerIsStoredShownToTheAgentAndCounted) {
  resolved();
  const std::string id = surveys().at(0).survey().survey_id();
  take("d1", K::kCustomerMessage);
  answer(id, 4, "a1", "cust", "quick and kind");
  auto c = conversation("C1");
  EXPECT_EQ(c.csat_rating(), 4u);
  EXPECT_EQ(c.csat_comment(), "quick and kind");
  EXPECT_EQ(c.state(), v1::store::CONVERSATION_STATE_RESOLVED) << "a rating reopens nothing";
  auto shown = take("d1", K::kCustomerMessage);
  ASSERT_EQ(shown.size(), 1u);
  EXPECT_EQ(shown[0].customer_message().message().csat().rating(), 4u);
  EXPECT_EQ(shown[0].customer_message().message().text_body(), "quick and kind");
  auto rated = events(v1::RoutingEvent::KIND_CSAT);
  ASSERT_EQ(rated.size(), 1u);
  EXPECT_EQ(rated[0].csat_rating(), 4u);
  EXPECT_EQ(rated[0].agent_id(), "alice");
  // A thank-you goes out once, as a message (a webhook has no live widget to show it).
  auto thanks = [&] {
    int n = 0;
    for (auto& m : outbound()) n += m.text_body() == "Thank you!";
    return n;
  };
  EXPECT_EQ(thanks(), 1);
  // The same answer again (a provider's retry) is dropped; a changed rating replaces it.
  answer(id, 4, "a1");
  EXPECT_EQ(events(v1::RoutingEvent::KIND_CSAT).size(), 1u);
  answer(id, 2, "a2");
  EXPECT_EQ(conversation("C1").csat_rating(), 2u);
  EXPECT_EQ(conversation("C1").csat_comment(), "quick and kind") << "the comment stays";
  EXPECT_EQ(events(v1::RoutingEvent::KIND_CSAT).size(), 2u);
  EXPECT_EQ(thanks(), 1) << "thanked once";
  // It survives a restart.
  restart();
  EXPECT_EQ(conversation("C1").csat_rating(), 2u);
}

TEST_F(Csat, AnswersThatDoNotBelongAreRefused) {
  resolved();
  const std::string id = surveys().at(0).survey().survey_id();
  answer(id, 5, "x1", "someone-else");                          // not the customer asked
  answer(id, 6, "x2");                                          // out of the scale
  answer(id, 0, "x3");                                          // no rating
  answer("acme/C1/1", 5, "x4");                                 // not the survey
  answer("other/C1/" + id.substr(id.rfind('/') + 1), 5, "x5");  // another workspace
  EXPECT_EQ(conversation("C1").csat_rating(), 0u);
  EXPECT_TRUE(events(v1::RoutingEvent::KIND_CSAT).empty());
  tick(2 * 3600 * 1000 + 1);  // the window closed
  answer(id, 5, "late");
  EXPECT_EQ(conversation("C1").csat_rating(), 0u) << "too late";
  // Operators see the refusals by reason (omniroute_csat_refused_total).
  auto refused = [](const char* reason) {
    return ops::metrics().csat_refused.Add({{"workspace", "acme"}, {"reason", reason}}).Value();
  };
  EXPECT_GE(refused("not_the_customer"), 1);
  EXPECT_GE(refused("off_scale"), 2);
  EXPECT_GE(refused("unknown_survey"), 1);
  EXPECT_GE(refused("expired"), 1);
  EXPECT_EQ(ops::scrape().find("reason=\"other\""), std::string::npos);
}

}  // namespace
}  // namespace omniroute::router
