#include "bench/desk_pool.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/ids.h"

namespace omniroute::bench {

DeskPool::DeskPool(DeskPoolOptions opts, Hooks hooks)
    : opts_(std::move(opts)), hooks_(std::move(hooks)) {}

DeskPool::~DeskPool() {
  stop();
}

void DeskPool::start() {
  for (const auto& [ws, id] : opts_.agents) {
    Agent a;
    a.workspace = ws;
    a.id = id;
    a.sock = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
    a.sock->set(zmq::sockopt::linger, 0);
    a.sock->set(zmq::sockopt::sndhwm, 0);
    a.sock->set(zmq::sockopt::rcvhwm, 0);
    a.sock->set(zmq::sockopt::reconnect_ivl, 50);
    a.sock->connect(opts_.endpoint);
    a.endpoint = opts_.endpoint;
    agents_.push_back(std::move(a));
  }
  thread_ = std::thread([this] { loop(); });
}

void DeskPool::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  agents_.clear();
}

void DeskPool::send(Agent& a, const v1::AgentFrame& f) {
  std::string bytes = f.SerializeAsString();
  a.sock->send(zmq::buffer(bytes), zmq::send_flags::dontwait);
  a.last_send_ms = steady_ms();
}

void DeskPool::handle(Agent& a, const v1::AgentFrame& f) {
  const auto now = Clock::now();
  switch (f.kind_case()) {
    case v1::AgentFrame::kWelcome:
      if (!a.welcomed) ++welcomed_;
      a.welcomed = true;
      heartbeat_ms_ = static_cast<int>(f.welcome().heartbeat_interval_ms());
      for (const auto& o : f.welcome().pending_offers()) {
        v1::AgentFrame acc;
        acc.mutable_accept()->set_offer_id(o.offer_id());
        send(a, acc);
      }
      break;
    case v1::AgentFrame::kOffer: {
      ++offers_;
      if (hooks_.offer) hooks_.offer(f.offer().conversation().customer_handle(), now);
      v1::AgentFrame acc;
      acc.mutable_accept()->set_offer_id(f.offer().offer_id());
      send(a, acc);
      break;
    }
    case v1::AgentFrame::kAssignment:
      // Messages that arrived before the accept reach the desk in the history.
      if (hooks_.message) {
        for (const auto& m : f.assignment().history()) {
          if (m.author() == v1::AUTHOR_CUSTOMER) hooks_.message(m.external_message_id(), now);
        }
      }
      if (opts_.reply && !f.assignment().offer_id().empty() && f.assignment().history_size() > 0) {
        v1::AgentFrame r;
        r.mutable_reply()->set_conversation_id(f.assignment().conversation().conversation_id());
        r.mutable_reply()->set_reply_id(fmt::format("{}-{}", a.id, ++reply_seq_));
        const auto& last = f.assignment().history(f.assignment().history_size() - 1);
        r.mutable_reply()->set_text_body("re:" + last.external_message_id());
        send(a, r);
        if (hooks_.reply_sent) hooks_.reply_sent(r.reply().text_body(), Clock::now());
      }
      break;
    case v1::AgentFrame::kCustomerMessage: {
      const auto& m = f.customer_message().message();
      if (hooks_.message) hooks_.message(m.external_message_id(), now);
      if (opts_.reply) {
        v1::AgentFrame r;
        r.mutable_reply()->set_conversation_id(f.customer_message().conversation_id());
        r.mutable_reply()->set_reply_id(fmt::format("{}-{}", a.id, ++reply_seq_));
        r.mutable_reply()->set_text_body("re:" + m.external_message_id());
        send(a, r);
        if (hooks_.reply_sent) hooks_.reply_sent(r.reply().text_body(), Clock::now());
      }
      break;
    }
    case v1::AgentFrame::kRedirect: {
      // Another instance owns the workspace (several routers): go there, or wait out a move.
      const auto& r = f.redirect();
      if (a.welcomed) --welcomed_;
      a.welcomed = false;
      if (!r.endpoint().empty() && r.endpoint() != a.endpoint) {
        a.sock->disconnect(a.endpoint);
        a.endpoint = r.endpoint();
        a.sock->connect(a.endpoint);
        a.last_hello_ms = 0;
      } else {
        a.last_hello_ms = steady_ms() - 200 + std::max<int64_t>(50, r.retry_after_ms());
      }
      break;
    }
    case v1::AgentFrame::kError:
      if (f.error().code() == v1::Error::CODE_UNKNOWN_SESSION) {
        if (a.welcomed) --welcomed_;
        a.welcomed = false;
        a.last_hello_ms = 0;
      }
      break;
    default:
      break;
  }
}

void DeskPool::loop() {
  std::vector<zmq::pollitem_t> items;
  for (auto& a : agents_) items.push_back({a.sock->handle(), 0, ZMQ_POLLIN, 0});
  while (!stop_) {
    const int64_t now = steady_ms();
    for (auto& a : agents_) {
      if (!a.welcomed && now - a.last_hello_ms > 200) {
        v1::AgentFrame h;
        h.mutable_hello()->set_protocol_version(1);
        h.mutable_hello()->set_workspace_id(a.workspace);
        h.mutable_hello()->set_agent_id(a.id);
        h.mutable_hello()->set_desk("bench-desk-pool");
        send(a, h);
        a.last_hello_ms = now;
      } else if (a.welcomed && now - a.last_send_ms > heartbeat_ms_ / 2) {
        v1::AgentFrame hb;
        hb.mutable_heartbeat();
        send(a, hb);
      }
    }
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(5));
    for (size_t i = 0; i < agents_.size(); ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      for (int n = 0; n < 1024; ++n) {
        zmq::message_t msg;
        if (!agents_[i].sock->recv(msg, zmq::recv_flags::dontwait)) break;
        v1::AgentFrame f;
        if (f.ParseFromArray(msg.data(), static_cast<int>(msg.size()))) handle(agents_[i], f);
      }
    }
  }
}

}  // namespace omniroute::bench
