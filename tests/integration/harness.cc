#include "tests/integration/harness.h"

#include <google/protobuf/util/json_util.h>

namespace omniroute::testing {

namespace {
desk::Options curve_options(const router::Router& r, const std::string& ws,
                            const std::string& agent) {
  desk::Options o;
  if (!r.curve_public_key().empty()) {
    o.server_key = r.curve_public_key();
    o.secret_key = test_agent_keys(ws, agent).secret_key;
  }
  return o;
}
}  // namespace

desk::Options test_curve_options(const std::string& ws, const std::string& agent) {
  desk::Options o;
  o.server_key = test_router_keys().public_key;
  o.secret_key = test_agent_keys(ws, agent).secret_key;
  return o;
}

RecordingDesk::RecordingDesk(const router::Router& r, const std::string& ws,
                             const std::string& agent, Behaviour b)
    : RecordingDesk(r.agent_endpoint(), ws, agent, b, curve_options(r, ws, agent)) {}

RecordingDesk::RecordingDesk(const std::string& endpoint, const std::string& ws,
                             const std::string& agent, Behaviour b, desk::Options extra) {
  auto cell = std::make_shared<desk::Desk*>(nullptr);
  desk::Handler h;
  h.on_offer = [this, cell, b](const v1::Offer& o) {
    {
      std::lock_guard lock(mu_);
      offers_.push_back(o);
    }
    if (b.freeze_on_offer)
      (*cell)->freeze(true);
    else if (b.accept)
      (*cell)->accept(o.offer_id());
  };
  h.on_assignment = [this, cell, b, agent](const v1::Assignment& a) {
    {
      std::lock_guard lock(mu_);
      assignments_.push_back(a);
    }
    if (b.reply && !a.offer_id().empty())
      (*cell)->reply(a.conversation().conversation_id(), "Hi from " + agent);
  };
  h.on_delivery = [this](const v1::DeliveryUpdate& u) {
    std::lock_guard lock(mu_);
    deliveries_.push_back(u);
  };
  h.on_message = [this](const v1::CustomerMessage& m) {
    std::lock_guard lock(mu_);
    messages_.push_back(m);
  };
  h.on_typing = [this](const v1::Typing& t) {
    std::lock_guard lock(mu_);
    typing_.push_back(t);
  };
  h.on_reply_ack = [this](const v1::ReplyAck& a) {
    std::lock_guard lock(mu_);
    acks_.push_back(a);
  };
  extra.endpoint = endpoint;
  extra.workspace_id = ws;
  extra.agent_id = agent;
  extra.desk_name = "test-desk";
  desk_ = std::make_unique<desk::Desk>(extra, h);
  *cell = desk_.get();
  desk_->start();
}

std::vector<v1::Typing> RecordingDesk::typing() const {
  std::lock_guard lock(mu_);
  return typing_;
}

std::vector<v1::Offer> RecordingDesk::offers() const {
  std::lock_guard lock(mu_);
  return offers_;
}
std::vector<v1::Assignment> RecordingDesk::assignments() const {
  std::lock_guard lock(mu_);
  return assignments_;
}
std::vector<v1::DeliveryUpdate> RecordingDesk::deliveries() const {
  std::lock_guard lock(mu_);
  return deliveries_;
}
std::vector<v1::CustomerMessage> RecordingDesk::messages() const {
  std::lock_guard lock(mu_);
  return messages_;
}
std::vector<v1::ReplyAck> RecordingDesk::acks() const {
  std::lock_guard lock(mu_);
  return acks_;
}

connectors::http::ClientResponse http_get(const std::string& url, std::vector<std::string> headers,
                                          const std::string& method) {
  connectors::http::ClientRequest r;
  r.method = method;
  r.url = url;
  r.headers = std::move(headers);
  r.timeout_ms = 5000;
  r.max_response_bytes = 4 << 20;
  return connectors::http::send(r);
}

double metric_sample(const std::string& text, const std::string& series) {
  size_t at = 0;
  while ((at = text.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') return std::stod(text.substr(at + series.size() + 1));
    at += series.size();
  }
  return -1;
}

std::vector<std::string> read_topic(const std::string& brokers, const std::string& topic,
                                    int partitions, size_t expect, int wait_ms) {
  std::string err;
  auto c = kafka::Consumer::create({brokers, {}}, "test-reader", err);
  std::vector<kafka::PartitionOffset> parts;
  for (int p = 0; p < partitions; ++p) parts.push_back({topic, p, RD_KAFKA_OFFSET_BEGINNING});
  EXPECT_TRUE(c->assign(parts, err)) << err;
  std::vector<std::string> out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  bool extended = false;
  while (std::chrono::steady_clock::now() < deadline) {
    for (auto& m : c->poll(100, 50)) {
      if (!m.is_error()) out.emplace_back(m.value());
    }
    if (!extended && out.size() >= expect) {
      extended = true;
      deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    }
  }
  c->close();
  return out;
}

RunningStack start_stack(const std::string& yaml, const std::vector<std::string>& connectors,
                         bool with_alice) {
  RunningStack r;
  std::vector<std::string> errors;
  auto cfg = config::parse(yaml, errors);
  if (!cfg) {
    ADD_FAILURE() << errors.front();
    return r;
  }
  auto stack = std::make_unique<cli::Stack>(std::move(*cfg));
  std::string err = stack->start_kafka();
  if (err.empty()) err = stack->start_router();
  if (err.empty()) err = stack->start_connectors(connectors);
  if (!err.empty()) {
    ADD_FAILURE() << err;
    return r;
  }
  if (!with_alice) {
    r.stack = std::move(stack);
    return r;
  }
  r.alice = std::make_unique<RecordingDesk>(
      *stack->router(), "acme", "alice", RecordingDesk::Behaviour{.accept = true, .reply = true});
  if (!wait_until([&] { return r.alice->desk().connected(); })) {
    ADD_FAILURE() << "alice's desk did not connect";
    r.alice.reset();
    return r;
  }
  r.stack = std::move(stack);
  return r;
}

void StackFixture::SetUp() {
  params_.state_dir = dir_.path() + "/state";
  params_.publish_timeout_ms = 2000;
  receiver_ = std::make_unique<connectors::webhook::CallbackReceiver>(params_.secret);
  params_.callback_url = receiver_->url();
  adjust(params_);
  std::vector<std::string> errors;
  auto cfg = config::parse(config_yaml(params_), errors);
  ASSERT_TRUE(cfg) << errors.front();
  stack_ = std::make_unique<cli::Stack>(std::move(*cfg));
  std::string err = stack_->start_kafka();
  if (err.empty()) err = stack_->start_router();
  if (err.empty()) err = stack_->start_connectors();
  ASSERT_EQ(err, "");
  std::string ep = stack_->connectors().at(0)->endpoints().at(0);
  base_ = ep.substr(0, ep.find("/v1/"));
}

void StackFixture::TearDown() {
  if (stack_) stack_->stop();
}

std::string StackFixture::url(const std::string& ws, const std::string& inbox) const {
  return base_ + "/v1/webhook/" + ws + "/" + inbox + "/messages";
}

int StackFixture::post(const std::string& external_id, const std::string& customer,
                       const std::string& text, std::string* response) {
  v1::InboundMessage m;
  m.set_external_message_id(external_id);
  m.set_customer_handle(customer);
  m.set_customer_display_name("Customer " + customer);
  m.set_text_body(text);
  std::string body;
  (void)google::protobuf::util::MessageToJsonString(m, &body);
  return connectors::webhook::post_signed(url(), params_.secret, body, response);
}

}  // namespace omniroute::testing
