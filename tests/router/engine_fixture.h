// A routing engine on a real RocksDB in a temp dir with a controllable clock: feeds it
// inbound records, desk frames and timer ticks, and collects what it sends.
#pragma once

#include <gtest/gtest.h>

#include "router/changelog.h"
#include "router/engine.h"
#include "tests/support/support.h"

namespace omniroute::router {

class ManualClock : public Clock {
 public:
  int64_t now_ms() override { return t; }
  int64_t t = 1'700'000'000'000;
};

class EngineFixture : public ::testing::Test {
 protected:
  void SetUp() override { start(yaml()); }
  virtual std::string yaml() { return testing::config_yaml(params()); }

  virtual testing::ConfigParams params() {
    testing::ConfigParams p;
    p.state_dir = dir_.path() + "/state";
    p.heartbeat_interval_ms = 1000;
    p.heartbeat_timeout_ms = 3000;
    p.offer_timeout_ms = 30000;
    return p;
  }

  void start(const std::string& yaml) {
    std::vector<std::string> errors;
    auto cfg = config::parse(yaml, errors);
    ASSERT_TRUE(cfg) << errors.front();
    cfg_ = *cfg;
    open();
  }

  void open() {
    std::string err;
    store_ = Store::open(cfg_.state.dir, false, err);
    ASSERT_TRUE(store_) << err;
    engine_ = std::make_unique<Engine>(cfg_, *store_, clock_);
    engine_->load();
  }

  // A restart: everything committed survives, everything in memory is gone.
  void restart() {
    engine_.reset();
    store_.reset();
    open();
  }

  void commit(Store::Batch& b) {
    ASSERT_EQ(engine_->commit(b), "");
    for (auto& r : changelog_of(b)) changelog_.push_back(std::move(r));
    for (auto& f : engine_->take_frames()) frames_.push_back(std::move(f));
    for (auto& o : engine_->take_outbox()) outbox_.push_back(std::move(o));
  }

  void inbound(const v1::Envelope& env) {
    auto b = store_->begin();
    engine_->apply_record(b, "omni.inbound", 0, offset_++, env.message().workspace_id(),
                          env.SerializeAsString());
    commit(b);
  }

  void message(const std::string& external_id, const std::string& customer,
               const std::string& thread = "", const std::string& ws = "acme",
               const std::string& inbox = "api") {
    message_with(external_id, customer, thread, ws, inbox, [](v1::InboundMessage&) {});
  }

  template <typename Fn>
  void message_with(const std::string& external_id, const std::string& customer,
                    const std::string& thread, const std::string& ws, const std::string& inbox,
                    Fn&& edit) {
    v1::Envelope env;
    auto* m = env.mutable_message();
    m->set_event_id("ev-" + external_id);
    m->set_workspace_id(ws);
    m->set_inbox_id(inbox);
    m->set_channel(v1::CHANNEL_WEBHOOK);
    m->set_customer_handle(customer);
    m->set_customer_display_name("Name of " + customer);
    m->set_external_message_id(external_id);
    m->set_text_body("body of " + external_id);
    if (!thread.empty()) m->mutable_thread()->set_thread_id(thread);
    // What the connector host stamps: the email, SMS and WhatsApp connectors declare their
    // handles email addresses and phone numbers (ConnectorFactory::handle_kind).
    if (const auto* w = engine_->config().workspace(ws)) {
      if (const auto* in = w->inbox(inbox)) {
        if (in->channel == v1::CHANNEL_EMAIL) m->set_handle_kind(v1::Identity::KIND_EMAIL);
        if (in->channel == v1::CHANNEL_SMS || in->channel == v1::CHANNEL_WHATSAPP)
          m->set_handle_kind(v1::Identity::KIND_PHONE);
      }
    }
    edit(*m);
    inbound(env);
  }

  // Frames from connection `rid`; a Hello's connection authenticated with that agent's
  // test key (what the router's ZAP handler would have accepted).
  void desk(const std::string& rid, const v1::AgentFrame& f) {
    if (f.has_hello())
      peer_keys_[rid] =
          testing::test_agent_keys(f.hello().workspace_id(), f.hello().agent_id()).public_key;
    auto b = store_->begin();
    engine_->apply_desk(b, rid, f.SerializeAsString(), peer_keys_[rid]);
    commit(b);
  }
  std::map<std::string, std::string> peer_keys_;

  void hello(const std::string& rid, const std::string& agent, const std::string& ws = "acme") {
    v1::AgentFrame f;
    f.mutable_hello()->set_protocol_version(1);
    f.mutable_hello()->set_workspace_id(ws);
    f.mutable_hello()->set_agent_id(agent);
    desk(rid, f);
  }

  void accept(const std::string& rid, const std::string& offer_id) {
    v1::AgentFrame f;
    f.mutable_accept()->set_offer_id(offer_id);
    desk(rid, f);
  }

  void reply(const std::string& rid, const std::string& conv, const std::string& reply_id) {
    v1::AgentFrame f;
    f.mutable_reply()->set_conversation_id(conv);
    f.mutable_reply()->set_reply_id(reply_id);
    f.mutable_reply()->set_text_body("answer " + reply_id);
    desk(rid, f);
  }

  void resolve(const std::string& rid, const std::string& conv) {
    v1::AgentFrame f;
    f.mutable_resolve()->set_conversation_id(conv);
    desk(rid, f);
  }

  void heartbeat(const std::string& rid) {
    v1::AgentFrame f;
    f.mutable_heartbeat();
    desk(rid, f);
  }

  void tick(int64_t ms) {
    clock_.t += ms;
    auto b = store_->begin();
    engine_->apply_timers(b);
    commit(b);
  }

  // Frames of one kind sent to `rid`, and forgets them.
  std::vector<v1::AgentFrame> take(const std::string& rid, v1::AgentFrame::KindCase kind) {
    std::vector<v1::AgentFrame> out;
    std::vector<DeskFrame> rest;
    for (auto& f : frames_) {
      if (f.routing_id == rid && f.frame.kind_case() == kind)
        out.push_back(f.frame);
      else
        rest.push_back(std::move(f));
    }
    frames_ = std::move(rest);
    return out;
  }

  std::vector<v1::OutboundMessage> outbound() {
    std::vector<v1::OutboundMessage> out;
    for (const auto& o : outbox_) {
      if (o.entry.topic() != "omni.outbound.webhook") continue;
      v1::OutboundMessage m;
      m.ParseFromString(o.entry.value());
      out.push_back(m);
    }
    return out;
  }

  v1::store::Conversation conversation(const std::string& id, const std::string& ws = "acme") {
    std::string v;
    v1::store::Conversation c;
    EXPECT_TRUE(store_->get(Cf::kConversations, ws + "/" + id, &v));
    c.ParseFromString(v);
    return c;
  }

  testing::TempDir dir_;
  config::Config cfg_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Engine> engine_;
  std::vector<DeskFrame> frames_;
  std::vector<OutboxRecord> outbox_;
  std::vector<ChangelogRecord> changelog_;  // every committed write, in order
  int64_t offset_ = 0;
};

using K = v1::AgentFrame::KindCase;

}  // namespace omniroute::router
