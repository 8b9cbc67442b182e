// What agents keep on conversations: internal notes (in the history, never sent), labels,
// snooze (a durable timer wakes it; a customer message wakes it at once), and canned
// responses with their scopes and who may manage them.
#include "router/keys.h"
#include "tests/router/engine_fixture.h"

namespace omniroute::router {
namespace {

class Workbench : public EngineFixture {
  testing::ConfigParams params() override {
    auto p = EngineFixture::params();
    p.agents = {{"alice", 3, false}, {"bob", 3, true}};
    return p;
  }

 protected:
  // alice holds C1.
  void assigned() {
    hello("d1", "alice");
    message("m1", "cust");
    accept("d1", "C1/1");
    take("d1", v1::AgentFrame::kAssignment);
  }
  void send(const std::string& rid, const std::function<void(v1::AgentFrame&)>& fill) {
    v1::AgentFrame f;
    fill(f);
    desk(rid, f);
  }
  v1::ConversationSummary updated(const std::string& rid, const std::string& reason) {
    for (auto& f : take(rid, v1::AgentFrame::kConversationUpdated))
      if (f.conversation_updated().reason() == reason)
        return f.conversation_updated().conversation();
    ADD_FAILURE() << "no ConversationUpdated '" << reason << "' to " << rid;
    return {};
  }
  v1::Error error(const std::string& rid) {
    auto e = take(rid, v1::AgentFrame::kError);
    return e.empty() ? v1::Error() : e.back().error();
  }
};

TEST_F(Workbench, ANoteIsInTheHistoryOnceAndNeverSent) {
  assigned();
  const size_t out_before = outbound().size();
  for (int i = 0; i < 2; ++i)  // re-sent: stored once, answered twice
    send("d1", [](v1::AgentFrame& f) {
      f.mutable_note()->set_conversation_id("C1");
      f.mutable_note()->set_note_id("n1");
      f.mutable_note()->set_text("customer is a VIP, be gentle");
    });
  auto added = take("d1", v1::AgentFrame::kNoteAdded);
  ASSERT_EQ(added.size(), 2u);
  EXPECT_EQ(added[0].note_added().message().seq(), added[1].note_added().message().seq());
  EXPECT_TRUE(added[0].note_added().message().internal());
  EXPECT_EQ(outbound().size(), out_before) << "a note never goes to the customer";
  // The next agent sees it in the history.
  hello("d2", "bob");
  send("d1", [](v1::AgentFrame& f) {
    f.mutable_transfer()->set_conversation_id("C1");
    f.mutable_transfer()->set_to_agent_id("bob");
  });
  auto offers = take("d2", v1::AgentFrame::kOffer);
  ASSERT_FALSE(offers.empty());
  accept("d2", offers.back().offer().offer_id());
  auto a = take("d2", v1::AgentFrame::kAssignment);
  ASSERT_FALSE(a.empty());
  int notes = 0;
  for (const auto& m : a.back().assignment().history()) notes += m.internal();
  EXPECT_EQ(notes, 1);
  // Someone else's conversation: refused.
  send("d1", [](v1::AgentFrame& f) {
    f.mutable_note()->set_conversation_id("C1");
    f.mutable_note()->set_note_id("n2");
    f.mutable_note()->set_text("sneaky");
  });
  EXPECT_EQ(error("d1").code(), v1::Error::CODE_CONFLICT);
}

TEST_F(Workbench, LabelsAreStoredAndChecked) {
  assigned();
  send("d1", [](v1::AgentFrame& f) {
    f.mutable_set_labels()->set_conversation_id("C1");
    for (const char* l : {"billing", "vip", "billing"}) f.mutable_set_labels()->add_labels(l);
  });
  auto s = updated("d1", "labels");
  ASSERT_EQ(s.labels_size(), 2) << "duplicates dropped";
  EXPECT_EQ(s.labels(0), "billing");
  send("d1", [](v1::AgentFrame& f) {
    f.mutable_set_labels()->set_conversation_id("C1");
    f.mutable_set_labels()->add_labels("bad\nlabel");
  });
  EXPECT_EQ(error("d1").code(), v1::Error::CODE_INVALID);
  restart();
  hello("d1", "alice");
  auto w = take("d1", v1::AgentFrame::kWelcome);
  ASSERT_FALSE(w.empty());
  ASSERT_EQ(w.back().welcome().open_conversations_size(), 1);
  EXPECT_EQ(w.back().welcome().open_conversations(0).conversation().labels_size(), 2);
}

TEST_F(Workbench, SnoozeWakesAtItsTimeAcrossARestartOrWhenTheCustomerWrites) {
  assigned();
  const int64_t until = clock_.now_ms() + 60000;
  send("d1", [&](v1::AgentFrame& f) {
    f.mutable_snooze()->set_conversation_id("C1");
    f.mutable_snooze()->set_until_ms(until);
  });
  EXPECT_EQ(updated("d1", "snoozed").snoozed_until_ms(), until);
  restart();  // the timer is durable
  hello("d1", "alice");
  auto w = take("d1", v1::AgentFrame::kWelcome);
  ASSERT_FALSE(w.empty());
  EXPECT_EQ(w.back().welcome().open_conversations(0).conversation().snoozed_until_ms(), until);
  for (int i = 0; i < 59; ++i) {  // the desk stays alive meanwhile
    heartbeat("d1");
    tick(1000);
  }
  EXPECT_TRUE(take("d1", v1::AgentFrame::kConversationUpdated).empty()) << "not before its time";
  heartbeat("d1");
  tick(1500);
  EXPECT_EQ(updated("d1", "woken: time").snoozed_until_ms(), 0);

  // Until the customer writes: their next message wakes it, with the message.
  send("d1", [](v1::AgentFrame& f) {
    f.mutable_snooze()->set_conversation_id("C1");
    f.mutable_snooze()->set_until_customer_writes(true);
  });
  EXPECT_TRUE(updated("d1", "snoozed").snoozed_until_customer());
  message("m2", "cust");
  EXPECT_FALSE(updated("d1", "woken: customer wrote").snoozed_until_customer());
  EXPECT_EQ(take("d1", v1::AgentFrame::kCustomerMessage).size(), 1u);

  // In the past: refused.
  send("d1", [&](v1::AgentFrame& f) {
    f.mutable_snooze()->set_conversation_id("C1");
    f.mutable_snooze()->set_until_ms(clock_.now_ms() - 1);
  });
  EXPECT_EQ(error("d1").code(), v1::Error::CODE_INVALID);
}

TEST_F(Workbench, CannedResponsesHaveScopesAndOwners) {
  hello("d1", "alice");
  hello("d2", "bob");  // a supervisor
  take("d1", v1::AgentFrame::kWelcome);
  take("d2", v1::AgentFrame::kWelcome);
  auto canned = [&](const std::string& rid, const std::string& code,
                    v1::CannedResponse::Scope scope, const std::string& queue = "") {
    send(rid, [&](v1::AgentFrame& f) {
      auto* r = f.mutable_save_canned()->mutable_response();
      r->set_canned_id(code);
      r->set_shortcode(code);
      r->set_scope(scope);
      r->set_queue_id(queue);
      auto* en = r->add_texts();
      en->set_language("en");
      en->set_text("Hello {customer.name}");
      auto* pt = r->add_texts();
      pt->set_language("pt");
      pt->set_text("Olá {customer.name}");
    });
  };
  canned("d1", "hi", v1::CannedResponse::SCOPE_WORKSPACE);
  EXPECT_EQ(error("d1").code(), v1::Error::CODE_CONFLICT) << "agents manage only their own";
  canned("d2", "hi", v1::CannedResponse::SCOPE_WORKSPACE);
  canned("d2", "q", v1::CannedResponse::SCOPE_QUEUE, "general");
  canned("d1", "mine", v1::CannedResponse::SCOPE_PERSONAL);
  auto lists = take("d1", v1::AgentFrame::kCannedResponses);
  ASSERT_FALSE(lists.empty());
  const auto& last = lists.back().canned_responses();
  ASSERT_EQ(last.responses_size(), 3) << "workspace + queue + personal";
  auto bob = take("d2", v1::AgentFrame::kCannedResponses);
  ASSERT_FALSE(bob.empty());
  EXPECT_EQ(bob.back().canned_responses().responses_size(), 2) << "not alice's personal one";
  send("d2", [](v1::AgentFrame& f) { f.mutable_delete_canned()->set_canned_id("mine"); });
  EXPECT_EQ(error("d2").code(), v1::Error::CODE_CONFLICT) << "another agent's personal one";

  restart();  // stored by the router
  hello("d1", "alice");
  auto w = take("d1", v1::AgentFrame::kWelcome);
  ASSERT_FALSE(w.empty());
  EXPECT_EQ(w.back().welcome().canned_responses_size(), 3);
  send("d1", [](v1::AgentFrame& f) { f.mutable_delete_canned()->set_canned_id("mine"); });
  auto after = take("d1", v1::AgentFrame::kCannedResponses);
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(after.back().canned_responses().responses_size(), 2);
}

}  // namespace
}  // namespace omniroute::router
