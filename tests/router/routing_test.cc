// Routing model scenarios with a controllable clock: classification, skills, languages,
// capacity, priority and SLA order, shifts, sticky agents, strategies, offers, SLA
// warnings and breaches, overflow, presence grace, business hours, the decision trail.
#include <optional>
#include <regex>

#include <fmt/format.h>

#include "tests/router/engine_fixture.h"

namespace omniroute::router {
namespace {

struct Parts {
  std::string router = "offer_timeouts_ms: {chat: 10000}, presence_grace_ms: 60000";
  std::string hours = "";  // business_hours value, "" = always open
  std::string general = "{id: general}";
  std::string billing =
      "{id: billing, skills: {billing: 3}, overflow: [{after_s: 60, queues: [general]}, "
      "{after_s: 120, relax_skills: 1}]}";
  std::string alice_cap = "{webhook: 3, chat: 2, email: 2}";
  std::string alice_extra = "";
  std::string bob_extra = "";
  std::string carol_extra = "";
  std::string mail_extra = "";
};

std::string routing_yaml(const std::string& dir, const Parts& p) {
  return fmt::format(R"(log_level: off
state: {{dir: "{}"}}
router: {{agent_auth: none, insecure: true, heartbeat_interval_ms: 1000, heartbeat_timeout_ms: 3000, offer_timeout_ms: 30000, {}}}
workspaces:
  - id: acme
    timezone: Europe/Berlin
    {}
    closed_replies:
      en: "We are closed. We will answer from {{opens_at}}. Reference {{reference}}."
      de: "Wir haben geschlossen. Wir antworten ab {{opens_at}}. Referenz {{reference}}."
    queues:
      - {}
      - {}
      - {{id: vip, priority: 5}}
    inboxes:
      - {{id: api, channel: webhook, queue: general}}
      - {{id: chat, channel: chat, queue: general}}
      - {{id: mail, channel: email, queue: general{}}}
      - {{id: sms, channel: sms, queue: general}}
    rules:
      - {{name: invoices, match: {{keywords: [invoice, refund]}}, set: {{queue: billing}}}}
      - {{name: vip customers, match: {{customer: {{vip: "true"}}}}, set: {{priority: 5}}}}
      - {{name: urgent subject, match: {{regex: "^(urgent|asap)\\b"}}, set: {{priority: 7}}}}
    sla:
      - {{name: chat, channel: [chat], first_response_s: 60, warning_percent: 50}}
      - {{name: mail, channel: [email], first_response_s: 7200}}
    agents:
      - {{id: alice, languages: [en], skills: {{billing: 2}}, capacity: {}{}}}
      - {{id: bob, languages: [en, de], skills: {{billing: 4}}, capacity: {{webhook: 3, chat: 2, email: 2, sms: 2}}{}}}
      - {{id: carol, queues: [vip], capacity: {{webhook: 3}}{}}}
)",
                     dir, p.router, p.hours.empty() ? "" : "business_hours: " + p.hours, p.general,
                     p.billing, p.mail_extra, p.alice_cap, p.alice_extra, p.bob_extra,
                     p.carol_extra);
}

class RoutingTest : public EngineFixture {
 protected:
  std::string yaml() override { return routing_yaml(dir_.path() + "/state", parts()); }
  virtual Parts parts() { return {}; }

  // A message on an inbox with a subject, text, language and customer attributes.
  void msg(const std::string& id, const std::string& customer, const std::string& inbox,
           const std::string& text, const std::string& lang = "",
           std::map<std::string, std::string> attrs = {}, const std::string& subject = "") {
    message_with(id, customer, "", "acme", inbox, [&](v1::InboundMessage& m) {
      m.set_text_body(text);
      m.set_language(lang);
      m.set_subject(subject);
      for (const auto& [k, v] : attrs) (*m.mutable_customer_attributes())[k] = v;
    });
  }

  // Offers sent to `rid`, as conversation ids.
  std::vector<std::string> offers(const std::string& rid) {
    std::vector<std::string> out;
    for (const auto& f : take(rid, K::kOffer))
      out.push_back(f.offer().conversation().conversation_id());
    return out;
  }

  std::vector<v1::RoutingEvent> trail(const std::string& conv) {
    std::vector<v1::RoutingEvent> out;
    store_->scan(Cf::kTrail, "acme/" + conv + "/", [&](std::string_view, std::string_view v) {
      v1::RoutingEvent e;
      e.ParseFromArray(v.data(), static_cast<int>(v.size()));
      out.push_back(e);
      return true;
    });
    return out;
  }

  static std::optional<v1::RoutingEvent> last_of(const std::vector<v1::RoutingEvent>& t,
                                                 v1::RoutingEvent::Kind k) {
    std::optional<v1::RoutingEvent> hit;
    for (const auto& e : t)
      if (e.kind() == k) hit = e;
    return hit;
  }

  // Lets `ms` pass in 1 s ticks while the named desks keep their heartbeats.
  void wait(int64_t ms, const std::vector<std::string>& rids = {"da", "db", "dc"}) {
    while (ms > 0) {
      const int64_t step = std::min<int64_t>(ms, 1000);
      for (const auto& rid : rids) heartbeat(rid);
      tick(step);
      ms -= step;
    }
  }

  void accept_all(const std::string& rid) {
    for (const auto& f : take(rid, K::kOffer)) accept(rid, f.offer().offer_id());
  }
};

TEST_F(RoutingTest, KeywordRuleSendsToSkilledAgentAndTheTrailSaysWhyTheOtherWasNot) {
  hello("da", "alice");
  hello("db", "bob");
  clock_.t += 1000;  // bob idles longer... but alice's billing level is too low anyway
  msg("m1", "c1", "api", "Where is my invoice for October?");
  EXPECT_TRUE(offers("da").empty());
  ASSERT_EQ(offers("db"), std::vector<std::string>{"C1"});
  auto c = conversation("C1");
  EXPECT_EQ(c.summary().queue_id(), "billing");
  EXPECT_EQ(c.rule(), "invoices");
  EXPECT_EQ(c.skills().at("billing"), 3);
  const auto t = trail("C1");
  const auto offered = last_of(t, v1::RoutingEvent::KIND_OFFERED);
  ASSERT_TRUE(offered);
  EXPECT_EQ(offered->agent_id(), "bob");
  bool alice_explained = false;
  for (const auto& cand : offered->considered()) {
    if (cand.agent_id() == "alice") {
      EXPECT_FALSE(cand.eligible());
      EXPECT_NE(cand.reason().find("billing >= 3 (has 2)"), std::string::npos) << cand.reason();
      alice_explained = true;
    }
  }
  EXPECT_TRUE(alice_explained);
  ASSERT_TRUE(last_of(t, v1::RoutingEvent::KIND_CLASSIFIED));
  EXPECT_NE(last_of(t, v1::RoutingEvent::KIND_CLASSIFIED)->reason().find("rule 'invoices'"),
            std::string::npos);
}

TEST_F(RoutingTest, LanguageFromTheMessageOrDetectedGoesToAnAgentWhoSpeaksIt) {
  hello("da", "alice");
  hello("db", "bob");
  msg("m1", "c1", "api", "hello", "de-AT");
  EXPECT_EQ(offers("db"), std::vector<std::string>{"C1"});
  EXPECT_EQ(conversation("C1").language(), "de");
  EXPECT_EQ(conversation("C1").language_source(), "message");
  // No language given: CLD2 reads it from the text.
  msg("m2", "c2", "api",
      "Guten Tag, ich habe gestern eine Bestellung aufgegeben und bis heute keine "
      "Bestätigung erhalten. Können Sie mir bitte helfen?");
  EXPECT_EQ(conversation("C2").language(), "de");
  EXPECT_EQ(conversation("C2").language_source(), "detected");
  EXPECT_EQ(offers("db"), std::vector<std::string>{"C2"});
  EXPECT_TRUE(offers("da").empty());
}

TEST_F(RoutingTest, CapacityPerChannelAndTotalIsNeverExceededAndFreedCapacityDrainsAtOnce) {
  hello("da", "alice");
  for (int i = 1; i <= 3; ++i) msg(fmt::format("m{}", i), fmt::format("c{}", i), "chat", "hi");
  EXPECT_EQ(offers("da"), (std::vector<std::string>{"C1", "C2"}));  // chat capacity 2
  accept("da", "C1/1");
  accept("da", "C2/1");
  // The third waits; nothing is offered beyond capacity however long it waits.
  for (int i = 0; i < 5; ++i) {
    heartbeat("da");
    tick(1000);
  }
  EXPECT_TRUE(offers("da").empty());
  EXPECT_EQ(conversation("C3").state(), v1::store::CONVERSATION_STATE_QUEUED);
  resolve("da", "C1");
  EXPECT_EQ(offers("da"), std::vector<std::string>{"C3"});  // at once, no sweep
}

class TotalCapacity : public RoutingTest {
  Parts parts() override {
    Parts p;
    p.alice_cap = "{webhook: 3, chat: 2, email: 2, total: 3}";
    return p;
  }
};

TEST_F(TotalCapacity, TotalLimitHoldsAcrossChannels) {
  hello("da", "alice");
  msg("m1", "c1", "chat", "hi");
  msg("m2", "c2", "chat", "hi");
  msg("m3", "c3", "mail", "hello");
  msg("m4", "c4", "mail", "hello");  // email has room (1/2) but the total (3) is reached
  EXPECT_EQ(offers("da"), (std::vector<std::string>{"C1", "C2", "C3"}));
  const auto offered = last_of(trail("C4"), v1::RoutingEvent::KIND_OFFERED);
  EXPECT_FALSE(offered);
  v1::AgentFrame rej;
  rej.mutable_reject()->set_offer_id("C1/1");
  desk("da", rej);
  EXPECT_EQ(offers("da"), std::vector<std::string>{"C4"});
}

TEST_F(RoutingTest, PriorityThenSlaDueThenArrival) {
  // Nobody online: three conversations wait.
  msg("m1", "c1", "mail", "an email");  // SLA 2 h
  clock_.t += 1000;
  msg("m2", "c2", "chat", "a chat");  // SLA 1 min: due earlier
  clock_.t += 1000;
  msg("m3", "c3", "api", "no SLA");                           // no policy: after those with one
  msg("m4", "c4", "api", "plain", "", {{"vip", "true"}});     // priority 5 first of all
  msg("m5", "c5", "api", "", "", {}, "URGENT: server down");  // regex rule: priority 7
  EXPECT_EQ(conversation("C4").priority(), 5);
  EXPECT_EQ(conversation("C5").priority(), 7);
  // One agent who takes one at a time on each channel: offers come in queue order.
  hello("db", "bob");
  std::vector<std::string> order;
  for (int round = 0; round < 5; ++round) {
    auto got = take("db", K::kOffer);
    for (const auto& f : got) order.push_back(f.offer().conversation().conversation_id());
    if (got.empty()) break;
  }
  // bob has room for several at once: all are offered in one go, in queue order.
  EXPECT_EQ(order, (std::vector<std::string>{"C5", "C4", "C2", "C1", "C3"}));
}

class Shifts : public RoutingTest {
  Parts parts() override {
    Parts p;
    // The clock starts Tuesday 2023-11-14 23:13 in Berlin; bob works from 06:00.
    p.bob_extra = ", shift: {hours: {daily: [\"06:00-14:00\"]}}";
    return p;
  }
};

TEST_F(Shifts, OffShiftAgentsAreNeverOfferedAndGetWorkTheMomentTheShiftStarts) {
  hello("db", "bob");
  msg("m1", "c1", "api", "hello", "de");  // only bob speaks German
  EXPECT_TRUE(offers("db").empty());
  const auto t = trail("C1");
  wait(6 * 3600 * 1000 + 46 * 60 * 1000 + 40 * 1000 - 1, {"db"});  // 05:59:59.999
  EXPECT_TRUE(offers("db").empty());
  wait(1, {"db"});  // 06:00:00 Berlin
  EXPECT_EQ(offers("db"), std::vector<std::string>{"C1"});
}

class Sticky : public RoutingTest {
  Parts parts() override {
    Parts p;
    p.general = "{id: general, sticky_window_s: 86400, sticky_wait_s: 300}";
    return p;
  }
};

TEST_F(Sticky, ReturningCustomerGoesToTheLastAgentAndIsWaitedForWithinTheLimit) {
  hello("da", "alice");
  hello("db", "bob");
  msg("m1", "c1", "api", "first");
  ASSERT_EQ(offers("da"), std::vector<std::string>{"C1"});  // ties by id
  // alice rejects: bob serves the customer.
  v1::AgentFrame rej;
  rej.mutable_reject()->set_offer_id("C1/1");
  desk("da", rej);
  ASSERT_EQ(offers("db"), std::vector<std::string>{"C1"});
  accept("db", "C1/2");
  resolve("db", "C1");
  clock_.t += 60'000;  // bob just finished; alice idled longer, but the customer knows bob
  msg("m2", "c1", "api", "me again");
  EXPECT_EQ(offers("db"), std::vector<std::string>{"C2"});
  EXPECT_TRUE(offers("da").empty());
  accept("db", "C2/1");
  resolve("db", "C2");
  // bob goes away: the customer's next conversation waits for him up to 300 s, then alice.
  v1::AgentFrame away;
  away.mutable_presence()->set_presence(v1::PRESENCE_AWAY);
  desk("db", away);
  msg("m3", "c1", "api", "third time");
  EXPECT_TRUE(offers("da").empty());
  wait(299'000);
  EXPECT_TRUE(offers("da").empty());
  wait(1'000);
  EXPECT_EQ(offers("da"), std::vector<std::string>{"C3"});
}

class Strategies : public RoutingTest {
  Parts parts() override {
    Parts p;
    p.general = "{id: general, strategy: least_busy}";
    p.alice_cap = "{webhook: 6}";
    p.billing = "{id: billing, strategy: round_robin}";
    return p;
  }
};

TEST_F(Strategies, LeastBusyAndRoundRobin) {
  hello("da", "alice");
  hello("db", "bob");
  msg("m1", "c1", "api", "one");
  ASSERT_EQ(offers("da"), std::vector<std::string>{"C1"});
  accept("da", "C1/1");
  clock_.t += 10;
  msg("m2", "c2", "api", "two");  // alice has 1 open, bob 0
  EXPECT_EQ(offers("db"), std::vector<std::string>{"C2"});
  accept("db", "C2/1");
  clock_.t += 10;
  msg("m3", "c3", "api", "three");  // 1 each: the longer idle one (alice)
  EXPECT_EQ(offers("da"), std::vector<std::string>{"C3"});
  // Round robin in billing (no skills required there now): alice, bob, alice...
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) {
    msg(fmt::format("r{}", i), fmt::format("rc{}", i), "api", "refund please");
    for (const auto& rid : {"da", "db"})
      for (const auto& f : take(rid, K::kOffer))
        got.push_back(f.offer().conversation().conversation_id() + "@" + rid);
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].substr(got[0].find('@')), "@da");
  EXPECT_EQ(got[1].substr(got[1].find('@')), "@db");
  EXPECT_EQ(got[2].substr(got[2].find('@')), "@da");
}

TEST_F(RoutingTest, OfferTimeoutIsPerChannelAndTheNextAgentGetsIt) {
  hello("da", "alice");
  hello("db", "bob");
  msg("m1", "c1", "chat", "hi");
  ASSERT_EQ(offers("da"), std::vector<std::string>{"C1"});
  for (int i = 0; i < 9; ++i) {
    heartbeat("da");
    heartbeat("db");
    tick(1000);
  }
  EXPECT_TRUE(offers("db").empty());
  heartbeat("da");
  heartbeat("db");
  tick(1000);  // chat offers expire after 10 s, not the default 30 s
  EXPECT_EQ(offers("db"), std::vector<std::string>{"C1"});
  EXPECT_EQ(take("da", K::kOfferWithdrawn).size(), 1u);
}

TEST_F(RoutingTest, SlaWarningRaisesPriorityAndBreachIsReportedEvenAcrossARestart) {
  msg("m1", "c1", "chat", "anyone?");  // nobody online; chat SLA 60 s, warning at 50%
  EXPECT_EQ(conversation("C1").priority(), 0);
  restart();
  tick(30'000);
  EXPECT_EQ(conversation("C1").priority(), 1);
  EXPECT_TRUE(last_of(trail("C1"), v1::RoutingEvent::KIND_SLA_WARNING));
  restart();
  tick(30'000);
  const auto breach = last_of(trail("C1"), v1::RoutingEvent::KIND_SLA_BREACH);
  ASSERT_TRUE(breach);
  EXPECT_NE(breach->reason().find("first_response"), std::string::npos);
  EXPECT_EQ(conversation("C1").sla_breached_size(), 1);
  // An answered conversation never breaches.
  hello("da", "alice");
  msg("m2", "c2", "chat", "hello there");
  accept_all("da");
  accept_all("da");
  reply("da", "C2", "r1");
  tick(120'000);
  EXPECT_FALSE(last_of(trail("C2"), v1::RoutingEvent::KIND_SLA_BREACH));
  EXPECT_EQ(conversation("C2").first_response_due_ms(), 0);
}

TEST_F(RoutingTest, OverflowTargetsMoreQueuesThenRelaxesSkills) {
  hello("da", "alice");  // billing 2: not enough for billing (3)
  msg("m1", "c1", "api", "refund please");
  EXPECT_TRUE(offers("da").empty());
  // alice serves general too (no queue list = every queue), but skills still apply there.
  wait(60'000);
  EXPECT_EQ(conversation("C1").overflow_stage(), 1u);
  EXPECT_TRUE(offers("da").empty());
  wait(60'000);  // step 2: skill levels relaxed by one: billing >= 2
  EXPECT_EQ(offers("da"), std::vector<std::string>{"C1"});
  EXPECT_TRUE(last_of(trail("C1"), v1::RoutingEvent::KIND_OVERFLOW));
}

class OverflowQueues : public RoutingTest {
  Parts parts() override {
    Parts p;
    p.alice_extra = ", queues: [general]";
    p.billing = "{id: billing, skills: {billing: 3}, overflow: [{after_s: 60, queues: [vip]}]}";
    return p;
  }
};

TEST_F(OverflowQueues, AfterTheWaitTheConversationAlsoReachesTheOtherQueuesAgents) {
  hello("dc", "carol");  // serves vip only, no billing skill
  msg("m1", "c1", "api", "refund please");
  EXPECT_TRUE(offers("dc").empty());
  wait(60'000);
  // carol serves vip, where it now also waits; billing skills still required... carol
  // has none, so overflow alone does not make her eligible.
  EXPECT_TRUE(offers("dc").empty());
  EXPECT_EQ(conversation("C1").extra_queues_size(), 1);
}

TEST_F(RoutingTest, AgentGonePastGraceLosesAcceptedConversationsToTheFrontOfTheQueue) {
  hello("da", "alice");
  msg("m1", "c1", "api", "help");
  accept_all("da");
  EXPECT_EQ(conversation("C1").state(), v1::store::CONVERSATION_STATE_ASSIGNED);
  msg("m2", "c2", "api", "other");  // also alice's (capacity 3)
  accept_all("da");
  hello("db", "bob");
  // alice's desk dies: after the heartbeat timeout she is offline, after 60 s of grace her
  // conversations go back to the queue's front, to bob.
  for (int i = 0; i < 4; ++i) {
    heartbeat("db");
    tick(1000);
  }
  EXPECT_EQ(conversation("C1").state(), v1::store::CONVERSATION_STATE_ASSIGNED);
  msg("m3", "c3", "api", "newer");  // bob gets this one meanwhile
  accept_all("db");
  for (int i = 0; i < 60; ++i) {
    heartbeat("db");
    tick(1000);
  }
  auto got = offers("db");
  EXPECT_EQ(got, (std::vector<std::string>{"C1", "C2"}));
  EXPECT_TRUE(last_of(trail("C1"), v1::RoutingEvent::KIND_REQUEUED));
}

class ClosedHours : public RoutingTest {
  Parts parts() override {
    Parts p;
    p.hours = "{hours: {weekdays: [\"09:00-17:00\"]}, holidays: [\"2023-11-15\"]}";
    return p;
  }
};

TEST_F(ClosedHours, OutsideBusinessHoursTheCustomerIsToldWhenInTheirLanguageOnce) {
  msg("m1", "c1", "api", "hallo", "de");
  auto out = outbound();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].automatic());
  // Tuesday 23:13; Wednesday the 15th is a holiday: Thursday 09:00 Berlin.
  EXPECT_NE(out[0].text_body().find("Wir antworten ab Thu 2023-11-16 09:00 Europe/Berlin"),
            std::string::npos)
      << out[0].text_body();
  EXPECT_NE(out[0].text_body().find("Referenz C1"), std::string::npos);
  msg("m2", "c1", "api", "noch da?", "de");  // same conversation: no second auto-reply
  EXPECT_EQ(outbound().size(), 1u);
  EXPECT_EQ(conversation("C1").state(), v1::store::CONVERSATION_STATE_QUEUED);
}

TEST_F(ClosedHours, MachineWrittenMailNeverGetsAnAutoReply) {
  message_with("ooo-1", "robot@example.com", "", "acme", "mail",
               [](v1::InboundMessage& m) { m.set_auto_generated(v1::AUTO_GENERATED_AUTO_REPLY); });
  EXPECT_TRUE(outbound().empty());
  size_t auto_mail = 0;
  for (const auto& o : outbox_) auto_mail += o.entry.topic() == "omni.outbound.email";
  EXPECT_EQ(auto_mail, 0u) << "no mail loop";
  EXPECT_EQ(conversation("C1").state(), v1::store::CONVERSATION_STATE_QUEUED);  // still routed
}

TEST_F(RoutingTest, InsideBusinessHoursNoAutoReply) {
  msg("m1", "c1", "api", "hello");
  EXPECT_TRUE(outbound().empty());
}

}  // namespace
}  // namespace omniroute::router

namespace omniroute::router {
namespace {

class Transfers : public RoutingTest {
  Parts parts() override {
    Parts p;
    p.carol_extra = ", supervisor: true";
    return p;
  }

 protected:
  void transfer(const std::string& rid, const std::string& conv, const std::string& agent,
                const std::string& queue, const std::string& note) {
    v1::AgentFrame f;
    f.mutable_transfer()->set_conversation_id(conv);
    f.mutable_transfer()->set_to_agent_id(agent);
    f.mutable_transfer()->set_to_queue_id(queue);
    f.mutable_transfer()->set_note(note);
    desk(rid, f);
  }
  void force(const std::string& rid, const std::string& conv, const std::string& agent) {
    v1::AgentFrame f;
    f.mutable_force_assign()->set_conversation_id(conv);
    f.mutable_force_assign()->set_agent_id(agent);
    f.mutable_force_assign()->set_note("customer asked for " + agent);
    desk(rid, f);
  }
};

TEST_F(Transfers, ToAnAgentWithANoteTheNextAgentReads) {
  hello("da", "alice");
  msg("m1", "c1", "api", "hello");
  accept("da", take("da", K::kOffer).at(0).offer().offer_id());
  // bob is offline: refused, alice keeps it.
  transfer("da", "C1", "bob", "", "speaks German");
  auto errs = take("da", K::kError);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].error().code(), v1::Error::CODE_CONFLICT);
  EXPECT_EQ(conversation("C1").agent_id(), "alice");
  hello("db", "bob");
  transfer("da", "C1", "bob", "", "speaks German");
  ASSERT_EQ(take("da", K::kConversationGone).size(), 1u);
  auto offered = take("db", K::kOffer);
  ASSERT_EQ(offered.size(), 1u);
  accept("db", offered[0].offer().offer_id());
  auto as = take("db", K::kAssignment);
  ASSERT_EQ(as.size(), 1u);
  const auto& h = as[0].assignment().history();
  ASSERT_GE(h.size(), 2);
  EXPECT_EQ(h[h.size() - 1].author(), v1::AUTHOR_SYSTEM);
  EXPECT_EQ(h[h.size() - 1].text_body(), "Transferred by alice: speaks German");
  EXPECT_TRUE(last_of(trail("C1"), v1::RoutingEvent::KIND_TRANSFERRED));
}

TEST_F(Transfers, ToAQueueGoesToThatQueuesSkilledAgentsNotBackToTheSender) {
  hello("da", "alice");
  hello("db", "bob");
  msg("m1", "c1", "api", "hello");
  accept("da", take("da", K::kOffer).at(0).offer().offer_id());
  transfer("da", "C1", "", "billing", "");
  EXPECT_EQ(conversation("C1").summary().queue_id(), "billing");
  EXPECT_EQ(offers("db"), std::vector<std::string>{"C1"});
  EXPECT_TRUE(offers("da").empty());
}

TEST_F(Transfers, SupervisorForceAssignsOthersMayNot) {
  hello("da", "alice");
  hello("dc", "carol");
  msg("m1", "c1", "api", "hello", "de");  // alice does not speak German: it waits
  EXPECT_TRUE(offers("da").empty());
  force("da", "C1", "alice");
  ASSERT_EQ(take("da", K::kError).at(0).error().code(), v1::Error::CODE_UNAUTHORIZED);
  hello("db", "bob");
  auto to_bob = take("db", K::kOffer);  // bob speaks German: offered to him
  ASSERT_EQ(to_bob.size(), 1u);
  force("dc", "C1", "alice");  // the supervisor overrides: bob's offer is withdrawn
  EXPECT_EQ(take("db", K::kOfferWithdrawn).size(), 1u);
  auto as = take("da", K::kAssignment);
  ASSERT_EQ(as.size(), 1u);
  EXPECT_EQ(conversation("C1").state(), v1::store::CONVERSATION_STATE_ASSIGNED);
  EXPECT_EQ(conversation("C1").agent_id(), "alice");
  EXPECT_EQ(conversation("C1").accepted_count(), 1u);
  EXPECT_TRUE(last_of(trail("C1"), v1::RoutingEvent::KIND_FORCE_ASSIGNED));
}

}  // namespace
}  // namespace omniroute::router

namespace omniroute::router {
namespace {

class BotFirst : public RoutingTest {
  Parts parts() override {
    Parts p;
    p.general = "{id: general, bot: helper}";
    p.carol_extra = "";
    return p;
  }
  std::string yaml() override {
    std::string y = RoutingTest::yaml();
    y += "      - {id: helper, bot: true, capacity: {webhook: 50}}\n";
    return y;
  }
};

TEST_F(BotFirst, TheBotAnswersFirstAndHandsOffToAHumanWithAReason) {
  hello("da", "alice");
  hello("dbot", "helper");
  msg("m1", "c1", "api", "I want a refund of 300 EUR");  // keyword rule: billing, no bot
  EXPECT_TRUE(offers("dbot").empty());
  msg("m2", "c2", "api", "hello, what are your opening hours?");
  EXPECT_EQ(offers("dbot"), std::vector<std::string>{"C2"});
  EXPECT_TRUE(offers("da").empty());
  accept("dbot", "C2/1");
  reply("dbot", "C2", "bot-1");
  v1::AgentFrame t;
  t.mutable_transfer()->set_conversation_id("C2");
  t.mutable_transfer()->set_to_queue_id("general");
  t.mutable_transfer()->set_note("customer wants a human");
  desk("dbot", t);
  auto got = take("da", K::kOffer);
  ASSERT_EQ(got.size(), 1u);
  accept("da", got[0].offer().offer_id());
  auto as = take("da", K::kAssignment);
  ASSERT_EQ(as.size(), 1u);
  const auto& h = as[0].assignment().history();
  ASSERT_EQ(h.size(), 3);
  EXPECT_EQ(h[1].author_id(), "helper");  // the bot's answer is in the history
  EXPECT_EQ(h[2].text_body(), "Transferred by helper: customer wants a human");
}

TEST_F(BotFirst, WithoutABotConnectedHumansGetItDirectly) {
  hello("da", "alice");
  msg("m1", "c1", "api", "hello");
  EXPECT_EQ(offers("da"), std::vector<std::string>{"C1"});
}

class Linking : public RoutingTest {
  Parts parts() override {
    Parts p;
    p.general = "{id: general, sticky_window_s: 86400, sticky_wait_s: 300}";
    p.alice_cap = "{webhook: 3, chat: 2, email: 2, sms: 2}";
    return p;
  }

 protected:
  void with_identities(const std::string& id, const std::string& customer, const std::string& inbox,
                       std::vector<std::tuple<v1::Identity::Kind, std::string, bool>> ids) {
    message_with(id, customer, "", "acme", inbox, [&](v1::InboundMessage& m) {
      m.set_text_body("text of " + id);
      m.clear_customer_display_name();
      for (const auto& [kind, value, verified] : ids) {
        auto* i = m.add_identities();
        i->set_kind(kind);
        i->set_value(value);
        i->set_verified(verified);
      }
    });
  }
  // Serves the offered conversation with `rid` (accept, reply, resolve).
  void serve(const std::string& rid, const std::string& conv) {
    auto offered = take(rid, K::kOffer);
    ASSERT_EQ(offered.size(), 1u);
    ASSERT_EQ(offered[0].offer().conversation().conversation_id(), conv);
    accept(rid, offered[0].offer().offer_id());
    reply(rid, conv, "r-" + conv);
    resolve(rid, conv);
    take(rid, K::kAssignment);
  }
  void reject_all(const std::string& rid) {
    for (const auto& f : take(rid, K::kOffer)) {
      v1::AgentFrame rej;
      rej.mutable_reject()->set_offer_id(f.offer().offer_id());
      desk(rid, rej);
    }
  }
};

TEST_F(Linking, SameVerifiedIdentitiesReachTheSameAgentWithTheWholeHistoryAndUnlinkUndoesIt) {
  hello("da", "alice");
  hello("db", "bob");
  // Email from Ana, served by bob (alice passes).
  with_identities("e1", "ana@example.com", "mail", {});
  reject_all("da");
  serve("db", "C1");
  // The shop's integration knows Ana's email and phone (verified at sign-up).
  clock_.t += 60'000;
  with_identities("w1", "crm-77", "api",
                  {{v1::Identity::KIND_EMAIL, "Ana@Example.COM", true},
                   {v1::Identity::KIND_PHONE, "+4915112345678", true}});
  EXPECT_EQ(offers("db"), std::vector<std::string>{"C2"}) << "sticky through the link";
  const auto linked = last_of(trail("C2"), v1::RoutingEvent::KIND_LINKED);
  ASSERT_TRUE(linked);
  EXPECT_NE(linked->reason().find("same verified email:ana@example.com"), std::string::npos)
      << linked->reason();
  accept("db", "C2/1");
  resolve("db", "C2");
  take("db", K::kAssignment);
  restart();
  hello("da", "alice");
  hello("db", "bob");
  // Ana texts from her phone: a new SMS customer, linked by the phone number, and it goes
  // to bob (alice would win the tie otherwise) with both earlier conversations.
  clock_.t += 60'000;
  with_identities("s1", "+4915112345678", "sms", {});
  EXPECT_TRUE(offers("da").empty());
  auto sms_offer = take("db", K::kOffer);
  ASSERT_EQ(sms_offer.size(), 1u);
  EXPECT_EQ(sms_offer[0].offer().conversation().conversation_id(), "C3");
  const std::string sms_customer = sms_offer[0].offer().conversation().customer_id();
  accept("db", sms_offer[0].offer().offer_id());
  auto as = take("db", K::kAssignment);
  ASSERT_EQ(as.size(), 1u);
  const auto& past = as[0].assignment().customer_history();
  ASSERT_EQ(past.size(), 2);
  EXPECT_EQ(past[0].conversation().conversation_id(), "C2");  // newest first
  EXPECT_EQ(past[1].conversation().conversation_id(), "C1");
  EXPECT_EQ(past[1].conversation().channel(), v1::CHANNEL_EMAIL);
  EXPECT_EQ(past[1].state(), "resolved");
  ASSERT_EQ(past[1].history_size(), 2);  // Ana's mail and bob's answer
  EXPECT_EQ(past[1].history(0).text_body(), "text of e1");
  EXPECT_EQ(past[1].history(1).text_body(), "answer r-C1");
  resolve("db", "C3");

  // An agent separates the SMS customer again: the phone no longer links it, and it is no
  // longer sticky to bob.
  v1::AgentFrame un;
  un.mutable_unlink()->set_customer_id(sms_customer);
  desk("db", un);
  auto res = take("db", K::kCustomerLinked);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].customer_linked().root_customer_id(), "");
  EXPECT_EQ(res[0].customer_linked().linked_customer_ids_size(), 1);
  clock_.t += 60'000;
  with_identities("s2", "+4915112345678", "sms", {});
  EXPECT_EQ(offers("da"), std::vector<std::string>{"C4"});
  EXPECT_FALSE(last_of(trail("C4"), v1::RoutingEvent::KIND_LINKED));
}

TEST_F(Linking, TypedButUnverifiedEmailDoesNotLinkButAnAgentCan) {
  hello("da", "alice");
  with_identities("e1", "ana@example.com", "mail", {});
  serve("da", "C1");
  with_identities("c1", "visitor-9", "chat",
                  {{v1::Identity::KIND_EMAIL, "ana@example.com", false}});
  auto offered = take("da", K::kOffer);
  ASSERT_EQ(offered.size(), 1u);
  accept("da", offered[0].offer().offer_id());
  auto as = take("da", K::kAssignment);
  ASSERT_EQ(as.size(), 1u);
  EXPECT_EQ(as[0].assignment().customer_history_size(), 0) << "a typed email links nothing";
  const std::string visitor = offered[0].offer().conversation().customer_id();
  const std::string ana = conversation("C1").summary().customer_id();
  ASSERT_NE(visitor, ana);
  // The agent recognizes Ana and links the chat visitor to her.
  v1::AgentFrame link;
  link.mutable_link()->set_customer_id(visitor);
  link.mutable_link()->set_other_customer_id(ana);
  link.mutable_link()->set_note("same person, said so in chat");
  desk("da", link);
  auto res = take("da", K::kCustomerLinked);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].customer_linked().root_customer_id(), ana);
  EXPECT_EQ(res[0].customer_linked().linked_customer_ids_size(), 2);
  // Linking again, or naming a customer the agent's workspace does not have, is refused.
  desk("da", link);
  auto errs = take("da", K::kError);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].error().code(), v1::Error::CODE_CONFLICT);
  link.mutable_link()->set_other_customer_id("U999");
  desk("da", link);
  errs = take("da", K::kError);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].error().code(), v1::Error::CODE_NOT_FOUND);
}

class Reload : public RoutingTest {
  Parts parts() override {
    Parts p;
    p.alice_cap = "{webhook: 1}";
    return p;
  }

 protected:
  // Applies a new configuration the way SIGHUP does: inside a step of the running engine.
  std::string reload(Parts p, const std::function<void(std::string&)>& edit = {}) {
    std::string y = routing_yaml(dir_.path() + "/state", p);
    if (edit) edit(y);
    std::vector<std::string> errors;
    auto cfg = config::parse(y, errors);
    EXPECT_TRUE(cfg) << (errors.empty() ? "" : errors.front());
    if (!cfg) return "invalid";
    auto b = store_->begin();
    std::string err =
        engine_->reconfigure(b, std::make_shared<const config::Config>(*cfg)).message();
    commit(b);
    return err;
  }
  static void drop_line(std::string& y, const std::string& starting) {
    const auto at = y.find(starting);
    ASSERT_NE(at, std::string::npos) << starting;
    y.erase(at, y.find('\n', at) + 1 - at);
  }
};

TEST_F(Reload, MoreCapacityAndNewAgentsTakeWaitingWorkAtOnceWithoutDroppingAnything) {
  hello("da", "alice");
  msg("m1", "c1", "api", "one");
  msg("m2", "c2", "api", "two");
  msg("m3", "c3", "api", "three");
  ASSERT_EQ(offers("da"), std::vector<std::string>{"C1"});
  accept("da", "C1/1");
  // An unknown agent is refused before the reload...
  hello("dd", "dave");
  ASSERT_EQ(take("dd", K::kError).size(), 1u);
  Parts more;
  more.alice_cap = "{webhook: 2}";
  ASSERT_EQ(reload(more,
                   [](std::string& y) {
                     y += "      - {id: dave, languages: [en], capacity: {webhook: 1}}\n";
                   }),
            "");
  // ...alice's second slot takes C2 at once, C1 stays hers, and dave can sign in and gets C3.
  EXPECT_EQ(offers("da"), std::vector<std::string>{"C2"});
  EXPECT_EQ(conversation("C1").state(), v1::store::CONVERSATION_STATE_ASSIGNED);
  hello("dd", "dave");
  EXPECT_EQ(take("dd", K::kWelcome).size(), 1u);
  EXPECT_EQ(offers("dd"), std::vector<std::string>{"C3"});
  // The reloaded router keeps working: replies and resolves as before.
  reply("da", "C1", "r1");
  EXPECT_EQ(outbound().size(), 1u);
}

TEST_F(Reload, RemovingAnAgentWhoHoldsWorkIsRefusedAndTheRunningConfigStays) {
  hello("da", "alice");
  msg("m1", "c1", "api", "one");
  ASSERT_EQ(offers("da"), std::vector<std::string>{"C1"});
  accept("da", "C1/1");
  const std::string err =
      reload(Parts{}, [](std::string& y) { drop_line(y, "      - {id: alice,"); });
  EXPECT_NE(err.find("agent acme/alice holds 1 conversations"), std::string::npos) << err;
  // Still alice's, under the old config (capacity 1: the next one waits).
  msg("m2", "c2", "api", "two");
  EXPECT_TRUE(offers("da").empty());
  resolve("da", "C1");
  EXPECT_EQ(offers("da"), std::vector<std::string>{"C2"});
  // Once she holds nothing she can be removed; her desk is told.
  v1::AgentFrame rej;
  rej.mutable_reject()->set_offer_id("C2/1");
  desk("da", rej);
  take("da", K::kError);
  EXPECT_EQ(reload(Parts{}, [](std::string& y) { drop_line(y, "      - {id: alice,"); }), "");
  auto errs = take("da", K::kError);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].error().code(), v1::Error::CODE_UNAUTHORIZED);
}

class Parallel : public RoutingTest {
  Parts parts() override {
    Parts p;
    p.general = "{id: general, parallel_offers: 2}";
    return p;
  }
};

TEST_F(Parallel, AChatIsOfferedToSeveralAgentsTheFirstAcceptWinsTheOthersAreWithdrawn) {
  hello("da", "alice");
  hello("db", "bob");
  msg("m1", "c1", "chat", "hi, anyone there?");
  auto to_a = take("da", K::kOffer), to_b = take("db", K::kOffer);
  ASSERT_EQ(to_a.size(), 1u);
  ASSERT_EQ(to_b.size(), 1u);
  EXPECT_EQ(to_a[0].offer().offer_id(), to_b[0].offer().offer_id());
  accept("db", "C1/1");
  EXPECT_EQ(take("db", K::kAssignment).size(), 1u);
  auto withdrawn = take("da", K::kOfferWithdrawn);
  ASSERT_EQ(withdrawn.size(), 1u);
  EXPECT_EQ(withdrawn[0].offer_withdrawn().reason(), "accepted by another agent");
  // alice's late accept gets nothing; bob has it, accepted once; alice's slot is free.
  accept("da", "C1/1");
  EXPECT_TRUE(take("da", K::kAssignment).empty());
  EXPECT_EQ(conversation("C1").agent_id(), "bob");
  EXPECT_EQ(conversation("C1").accepted_count(), 1u);
  const auto acc = last_of(trail("C1"), v1::RoutingEvent::KIND_ACCEPTED);
  ASSERT_TRUE(acc);
  EXPECT_NE(acc->reason().find("withdrawn from alice"), std::string::npos) << acc->reason();
  // Other channels are offered one agent at a time.
  msg("m2", "c2", "api", "a webhook message");
  EXPECT_EQ(offers("da").size() + offers("db").size(), 1u);
}

TEST_F(Parallel, ARejectLeavesTheOthersOfferAndExpiryWithdrawsAll) {
  hello("da", "alice");
  hello("db", "bob");
  msg("m1", "c1", "chat", "hello");
  ASSERT_EQ(offers("da").size(), 1u);
  ASSERT_EQ(offers("db").size(), 1u);
  v1::AgentFrame rej;
  rej.mutable_reject()->set_offer_id("C1/1");
  desk("da", rej);
  EXPECT_TRUE(take("db", K::kOfferWithdrawn).empty()) << "bob keeps his offer";
  EXPECT_EQ(conversation("C1").state(), v1::store::CONVERSATION_STATE_OFFERED);
  EXPECT_EQ(conversation("C1").agent_id(), "bob");
  // A second chat: alice rejected C1 but has room; C2 goes to both again.
  msg("m2", "c2", "chat", "me too");
  EXPECT_EQ(offers("da"), std::vector<std::string>{"C2"});
  EXPECT_EQ(offers("db"), std::vector<std::string>{"C2"});
  // Nobody answers C2 within the chat offer timeout: both offers are withdrawn, both
  // remembered, and it waits (C1 expires too: nobody left who has not passed on it).
  wait(10'000, {"da", "db"});
  EXPECT_EQ(take("da", K::kOfferWithdrawn).size(), 1u);
  EXPECT_EQ(take("db", K::kOfferWithdrawn).size(), 2u);
  const auto c2 = conversation("C2");
  EXPECT_EQ(c2.state(), v1::store::CONVERSATION_STATE_QUEUED);
  EXPECT_EQ(c2.rejected_by_size(), 2);
  EXPECT_EQ(c2.also_offered_size(), 0);
}

class EmailThreading : public RoutingTest {
 protected:
  // An email from `from` with Message-ID `id`, replying to `in_reply_to`.
  void mail(const std::string& id, const std::string& from, const std::string& subject,
            const std::string& in_reply_to = "", std::vector<std::string> refs = {}) {
    message_with(id, from, "", "acme", "mail", [&](v1::InboundMessage& m) {
      m.set_subject(subject);
      m.set_text_body("text of " + id);
      m.mutable_thread()->set_in_reply_to(in_reply_to);
      for (const auto& r : refs) m.mutable_thread()->add_references(r);
      std::smatch tag;
      static const std::regex kTag(R"(\[#(\d+)\])");
      if (std::regex_search(subject, tag, kTag)) m.mutable_thread()->set_ticket_tag(tag[1]);
    });
  }
  std::vector<v1::OutboundMessage> mails() {
    std::vector<v1::OutboundMessage> out;
    for (const auto& o : outbox_) {
      if (o.entry.topic() != "omni.outbound.email") continue;
      v1::OutboundMessage m;
      m.ParseFromString(o.entry.value());
      out.push_back(m);
    }
    return out;
  }
  std::vector<std::string> customer_messages(const std::string& rid) {
    std::vector<std::string> out;
    for (const auto& f : take(rid, K::kCustomerMessage))
      out.push_back(f.customer_message().message().text_body());
    return out;
  }
};

TEST_F(EmailThreading, RepliesJoinTheirConversationOthersDoNotResolvedOnesReopenThenFollow) {
  hello("da", "alice");
  hello("db", "bob");
  mail("m1@ana", "ana@example.com", "Order 55");
  ASSERT_EQ(offers("da"), std::vector<std::string>{"C1"});
  accept("da", "C1/1");
  reply("da", "C1", "r1");
  auto sent = mails();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].subject(), "Re: Order 55 [#1]");
  EXPECT_EQ(sent[0].thread().in_reply_to(), "m1@ana");
  ASSERT_EQ(sent[0].thread().references_size(), 1);
  EXPECT_EQ(sent[0].thread().references(0), "m1@ana");
  const std::string ours = "outbound:" + sent[0].outbound_id();

  // Ana answers our reply: same conversation, straight to alice.
  mail("m2@ana", "ana@example.com", "Re: Order 55 [#1]", ours, {"m1@ana", ours});
  EXPECT_EQ(customer_messages("da"), std::vector<std::string>{"text of m2@ana"});
  // A colleague in Cc answers the same message: a conversation of their own.
  mail("x1@colleague", "carl@example.com", "Re: Order 55 [#1]", ours, {"m1@ana", ours});
  EXPECT_EQ(conversation("C2").summary().customer_handle(), "carl@example.com");
  // Ana's client lost the headers; the ticket tag still finds it.
  mail("m3@ana", "ana@example.com", "Re: Order 55 [#1]");
  EXPECT_EQ(customer_messages("da"), std::vector<std::string>{"text of m3@ana"});
  // Our next reply threads under everything so far.
  reply("da", "C1", "r2");
  sent = mails();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].thread().in_reply_to(), "m3@ana");
  EXPECT_EQ(sent[1].thread().references_size(), 4);  // m1, ours, m2, m3
  resolve("da", "C1");

  // An hour later Ana replies again: C1 reopens, alice first in line (bob idled longer).
  clock_.t += 3600'000;
  mail("m4@ana", "ana@example.com", "Re: Order 55 [#1]", "m3@ana");
  EXPECT_EQ(offers("da"), std::vector<std::string>{"C1"});
  EXPECT_TRUE(last_of(trail("C1"), v1::RoutingEvent::KIND_REOPENED));
  EXPECT_EQ(conversation("C1").reopen_count(), 1u);
  accept("da", "C1/2");
  resolve("da", "C1");

  // Eight days later: past the reopen window, a new conversation that follows C1.
  clock_.t += 8 * 86400'000LL;
  wait(0);
  mail("m5@ana", "ana@example.com", "Re: Order 55 [#1]", "m4@ana");
  const auto c3 = conversation("C3");
  EXPECT_EQ(c3.previous_conversation_id(), "C1");
  EXPECT_EQ(conversation("C1").state(), v1::store::CONVERSATION_STATE_RESOLVED);
}

TEST_F(EmailThreading, ABounceMarksTheReplyFailedAndOpensNothing) {
  hello("da", "alice");
  mail("m1@ana", "ana@example.com", "Order 55");
  accept("da", "C1/1");
  reply("da", "C1", "r1");
  const auto sent = mails();
  ASSERT_EQ(sent.size(), 1u);
  message_with("bounce-1", "mailer-daemon@mx.example.com", "", "acme", "mail",
               [&](v1::InboundMessage& m) {
                 m.set_auto_generated(v1::AUTO_GENERATED_BOUNCE);
                 auto& meta = *m.mutable_provider_metadata();
                 meta["bounce_original_message_id"] = "outbound:" + sent[0].outbound_id();
                 meta["bounce_status"] = "5.1.1";
                 meta["bounce_diagnostic"] = "smtp; 550 user unknown";
               });
  std::string v;
  v1::ConversationMessage m;
  ASSERT_TRUE(store_->get(Cf::kMessages, "acme/C1/" + fmt::format("{:010}", 2), &v));
  m.ParseFromString(v);
  EXPECT_EQ(m.delivery(), v1::DeliveryStatus::STATE_FAILED);
  EXPECT_NE(m.delivery_detail().find("550 user unknown"), std::string::npos);
  auto upd = take("da", K::kDeliveryUpdate);
  ASSERT_EQ(upd.size(), 1u);
  EXPECT_EQ(upd[0].delivery_update().state(), v1::DeliveryStatus::STATE_FAILED);
  EXPECT_FALSE(store_->get(Cf::kConversations, "acme/C2", &v)) << "no conversation for a bounce";
}

class AutoAck : public EmailThreading {
  Parts parts() override {
    Parts p;
    p.mail_extra =
        ", auto_acknowledge: {en: \"We got your message ({subject}), reference {reference}. We "
        "will answer within {answer_within}.\", de: \"Danke! Referenz {reference}, Antwort "
        "innerhalb von {answer_within}.\"}, auto_acknowledge_window_s: 3600";
    return p;
  }
};

TEST_F(AutoAck, NewMailIsAcknowledgedInTheCustomersLanguageOncePerWindowNeverToMachines) {
  message_with("m1@ana", "ana@example.com", "", "acme", "mail", [](v1::InboundMessage& m) {
    m.set_subject("Order 55");
    m.set_language("de");
    m.set_text_body("Wo ist mein Paket?");
  });
  auto sent = mails();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].automatic());
  EXPECT_EQ(sent[0].text_body(), "Danke! Referenz #1, Antwort innerhalb von 2 hours.");
  EXPECT_EQ(sent[0].subject(), "Re: Order 55 [#1]");
  EXPECT_EQ(sent[0].thread().in_reply_to(), "m1@ana");
  // Another new conversation from Ana within the window: no second acknowledgement.
  mail("m2@ana", "ana@example.com", "Another question");
  EXPECT_EQ(mails().size(), 1u);
  // A machine never gets one; a new customer does (English: the workspace default).
  message_with("ooo@bot", "bot@example.com", "", "acme", "mail",
               [](v1::InboundMessage& m) { m.set_auto_generated(v1::AUTO_GENERATED_AUTO_REPLY); });
  EXPECT_EQ(mails().size(), 1u);
  mail("c1@carl", "carl@example.com", "Hello");
  sent = mails();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].text_body(),
            "We got your message (Hello), reference #4. We will answer within 2 hours.");
  // After the window Ana is acknowledged again.
  clock_.t += 3600'000;
  mail("m3@ana", "ana@example.com", "Third");
  EXPECT_EQ(mails().size(), 3u);
}

}  // namespace
}  // namespace omniroute::router
