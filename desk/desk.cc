#include "desk/desk.h"

#include <algorithm>

#include <chrono>
#include <stdexcept>

#include "common/ids.h"

namespace omniroute::desk {

Desk::Desk(Options opts, Handler handler)
    : opts_(std::move(opts)), handler_(std::move(handler)), home_key_(opts_.server_key) {
  // "tcp://a:5570,tcp://b:5570": any router instance will do; the desk starts at the first
  // and moves to the next when the one it uses is silent.
  std::string list = opts_.endpoint;
  for (size_t start = 0; start <= list.size();) {
    const size_t comma = std::min(list.find(',', start), list.size());
    if (comma > start) homes_.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  if (homes_.empty()) homes_.push_back(list);
  home_endpoint_ = homes_[0];
  opts_.endpoint = home_endpoint_;
}

void Desk::go_home() {
  // The next configured endpoint when the current one is a configured one that went silent;
  // the first configured one after a redirect target went silent.
  const auto it = std::find(homes_.begin(), homes_.end(), opts_.endpoint);
  if (it != homes_.end() && homes_.size() > 1)
    home_endpoint_ = *(it + 1 == homes_.end() ? homes_.begin() : it + 1);
  opts_.endpoint = home_endpoint_;
  opts_.server_key = home_key_;
}

// libzmq completes the handshake on its own I/O thread (and the router's ZAP handler on its
// own), however busy the router's event loop is: a process that is alive and listening
// answers it at once, a killed one refuses the connection.
struct Desk::HandshakeWatch : zmq::monitor_t {
  bool done = false;
  void on_event_handshake_succeeded(const zmq_event_t&, const char*) override { done = true; }
};

bool Desk::handshake_done() {
  if (!watch_) return true;  // not watched: assume alive (the long patience)
  while (!watch_->done && watch_->check_event(0)) {
  }
  return watch_->done;
}

Desk::~Desk() {
  stop();
}

void Desk::start() {
  thread_ = std::thread([this] { loop(); });
}

void Desk::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Desk::enqueue(v1::AgentFrame f) {
  std::lock_guard lock(mu_);
  outq_.push_back(std::move(f));
}

void Desk::accept(const std::string& offer_id) {
  v1::AgentFrame f;
  f.mutable_accept()->set_offer_id(offer_id);
  enqueue(std::move(f));
}

void Desk::reject(const std::string& offer_id, const std::string& reason) {
  v1::AgentFrame f;
  f.mutable_reject()->set_offer_id(offer_id);
  f.mutable_reject()->set_reason(reason);
  enqueue(std::move(f));
}

std::string Desk::reply(const std::string& conversation_id, const std::string& text) {
  std::string id = new_uuid();
  reply(conversation_id, text, id);
  return id;
}

void Desk::reply(const std::string& conversation_id, const std::string& text,
                 const std::string& reply_id) {
  v1::AgentFrame f;
  auto* r = f.mutable_reply();
  r->set_conversation_id(conversation_id);
  r->set_reply_id(reply_id);
  r->set_text_body(text);
  enqueue(std::move(f));
}

std::string Desk::reply_template(const std::string& conversation_id, const std::string& name,
                                 const std::string& language,
                                 const std::vector<std::string>& params,
                                 const std::string& reply_id) {
  std::string id = reply_id.empty() ? new_uuid() : reply_id;
  v1::AgentFrame f;
  auto* r = f.mutable_reply();
  r->set_conversation_id(conversation_id);
  r->set_reply_id(id);
  auto* t = r->mutable_message_template();
  t->set_name(name);
  t->set_language(language);
  for (const auto& p : params) t->add_parameters(p);
  enqueue(std::move(f));
  return id;
}

void Desk::typing(const std::string& conversation_id, bool on) {
  v1::AgentFrame f;
  f.mutable_typing()->set_conversation_id(conversation_id);
  f.mutable_typing()->set_on(on);
  enqueue(std::move(f));
}

void Desk::resolve(const std::string& conversation_id) {
  v1::AgentFrame f;
  f.mutable_resolve()->set_conversation_id(conversation_id);
  enqueue(std::move(f));
}

void Desk::transfer(const std::string& conversation_id, const std::string& to_agent,
                    const std::string& to_queue, const std::string& note) {
  v1::AgentFrame f;
  auto* t = f.mutable_transfer();
  t->set_conversation_id(conversation_id);
  t->set_to_agent_id(to_agent);
  t->set_to_queue_id(to_queue);
  t->set_note(note);
  enqueue(std::move(f));
}

std::string Desk::note(const std::string& conversation_id, const std::string& text,
                       const std::string& note_id) {
  v1::AgentFrame f;
  auto* n = f.mutable_note();
  n->set_conversation_id(conversation_id);
  n->set_note_id(note_id.empty() ? new_uuid() : note_id);
  n->set_text(text);
  std::string id = n->note_id();
  enqueue(std::move(f));
  return id;
}

void Desk::set_labels(const std::string& conversation_id, const std::vector<std::string>& labels) {
  v1::AgentFrame f;
  auto* l = f.mutable_set_labels();
  l->set_conversation_id(conversation_id);
  for (const auto& x : labels) l->add_labels(x);
  enqueue(std::move(f));
}

void Desk::snooze(const std::string& conversation_id, int64_t until_ms, bool until_customer) {
  v1::AgentFrame f;
  auto* s = f.mutable_snooze();
  s->set_conversation_id(conversation_id);
  s->set_until_ms(until_ms);
  s->set_until_customer_writes(until_customer);
  enqueue(std::move(f));
}

void Desk::save_canned(const v1::CannedResponse& r) {
  v1::AgentFrame f;
  *f.mutable_save_canned()->mutable_response() = r;
  enqueue(std::move(f));
}

void Desk::delete_canned(const std::string& canned_id) {
  v1::AgentFrame f;
  f.mutable_delete_canned()->set_canned_id(canned_id);
  enqueue(std::move(f));
}

void Desk::force_assign(const std::string& conversation_id, const std::string& agent,
                        const std::string& note, const std::string& to_queue) {
  v1::AgentFrame f;
  auto* t = f.mutable_force_assign();
  t->set_conversation_id(conversation_id);
  t->set_agent_id(agent);
  t->set_note(note);
  t->set_to_queue_id(to_queue);
  enqueue(std::move(f));
}

void Desk::link(const std::string& customer_id, const std::string& other_customer_id,
                const std::string& note) {
  v1::AgentFrame f;
  auto* l = f.mutable_link();
  l->set_customer_id(customer_id);
  l->set_other_customer_id(other_customer_id);
  l->set_note(note);
  enqueue(std::move(f));
}

void Desk::unlink(const std::string& customer_id) {
  v1::AgentFrame f;
  f.mutable_unlink()->set_customer_id(customer_id);
  enqueue(std::move(f));
}

void Desk::set_presence(v1::Presence p) {
  opts_.presence = p;  // also used by the next Hello
  v1::AgentFrame f;
  f.mutable_presence()->set_presence(p);
  enqueue(std::move(f));
}

std::string Desk::parked() const {
  std::lock_guard lock(mu_);
  return parked_;
}

void Desk::resume() {
  resume_ = true;
}

void Desk::connect() {
  watch_.reset();
  sock_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
  sock_->set(zmq::sockopt::linger, 0);
  if (!opts_.server_key.empty()) {
    char pub[41] = {0};
    if (zmq_curve_public(pub, opts_.secret_key.c_str()) != 0)
      throw std::runtime_error("desk: the secret key is not a 40-character Z85 key");
    sock_->set(zmq::sockopt::curve_serverkey, opts_.server_key);
    sock_->set(zmq::sockopt::curve_publickey, std::string(pub, 40));
    sock_->set(zmq::sockopt::curve_secretkey, opts_.secret_key);
  }
  sock_->set(zmq::sockopt::reconnect_ivl, 100);
  sock_->set(zmq::sockopt::reconnect_ivl_max, 1000);
  static std::atomic<uint64_t> watches{0};
  auto watch = std::make_unique<HandshakeWatch>();
  try {
    watch->init(*sock_, "inproc://omniroute-desk-watch-" + std::to_string(++watches),
                ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    watch_ = std::move(watch);
  } catch (const zmq::error_t&) {
    // Without the monitor every endpoint gets the long patience.
  }
  sock_->connect(opts_.endpoint);
  {
    std::lock_guard lock(mu_);
    endpoint_now_ = opts_.endpoint;
  }
  welcomed_ = false;
  last_recv_ms_ = steady_ms();
  connected_ms_ = last_recv_ms_;
  last_hello_ms_ = 0;
}

bool Desk::send(const v1::AgentFrame& f) {
  if (frozen_) return true;
  std::string bytes = f.SerializeAsString();
  try {
    if (!sock_->send(zmq::buffer(bytes), zmq::send_flags::dontwait)) return false;
    last_send_ms_ = steady_ms();
  } catch (const zmq::error_t&) {
  }
  return true;
}

void Desk::loop() {
  connect();
  bool parked = false;
  while (!stop_) {
    const int64_t now = steady_ms();
    if (resume_.exchange(false)) {
      {
        std::lock_guard lock(mu_);
        parked_.clear();
      }
      parked = false;
      // On a new connection: the router keeps a session against Hellos from connections
      // older than its own (a reconnected desk's stale socket), so taking it back needs one.
      connect();
      continue;
    }
    if (!parked && !welcomed_ && now - last_hello_ms_ >= opts_.hello_retry_ms && !frozen_) {
      v1::AgentFrame h;
      auto* hello = h.mutable_hello();
      hello->set_protocol_version(1);
      hello->set_workspace_id(opts_.workspace_id);
      hello->set_agent_id(opts_.agent_id);
      hello->set_token(opts_.token);
      hello->set_desk(opts_.desk_name);
      hello->set_presence(opts_.presence);
      send(h);
      last_hello_ms_ = now;
    }
    if (welcomed_ && now - last_recv_ms_ > heartbeat_timeout_ms_) {
      // The router went silent: start over on a fresh connection and resume, at the
      // configured endpoint (an instance we were redirected to may be the one that died;
      // the configured one redirects again to whoever owns the workspace now).
      if (handler_.on_status) handler_.on_status("router silent; reconnecting");
      go_home();
      connect();
      continue;
    }
    if (!welcomed_ && (opts_.endpoint != home_endpoint_ || homes_.size() > 1) &&
        (now - last_recv_ms_ > kRedirectPatienceMs ||
         (now - connected_ms_ > kUnansweredPatienceMs && !handshake_done()))) {
      // No Welcome from this instance for a while (it is gone, or was a redirect target that
      // does not answer; one that says "moving" is alive): the next configured endpoint. Right
      // after a kill the others still name the dead owner until the group notices (its session
      // timeout), so a desk is sent back there more than once: it looks only a second each time it
      // finds nothing listening, and is back soon after another instance takes the workspace over.
      if (handler_.on_status)
        handler_.on_status("redirect target silent; back to " + home_endpoint_);
      go_home();
      connect();
      continue;
    }
    if (welcomed_ && now - last_send_ms_ >= heartbeat_interval_ms_) {
      v1::AgentFrame hb;
      hb.mutable_heartbeat();
      send(hb);
    }
    zmq::pollitem_t items[] = {{sock_->handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(10));
    while (true) {
      zmq::message_t msg;
      if (!sock_->recv(msg, zmq::recv_flags::dontwait)) break;
      if (frozen_) continue;
      last_recv_ms_ = steady_ms();
      v1::AgentFrame f;
      if (f.ParseFromArray(msg.data(), static_cast<int>(msg.size()))) handle(f);
    }
    if (parked_now_) {
      parked_now_ = false;
      parked = true;
    }
    if (!redirect_endpoint_.empty()) {
      opts_.endpoint = std::move(redirect_endpoint_);
      if (!opts_.server_key.empty() && !redirect_key_.empty()) opts_.server_key = redirect_key_;
      redirect_endpoint_.clear();
      connect();
      continue;
    }
    if (!welcomed_) continue;
    std::deque<v1::AgentFrame> out;
    {
      std::lock_guard lock(mu_);
      out.swap(outq_);
    }
    for (auto& f : out) {
      if (f.has_reply()) unacked_replies_[f.reply().reply_id()] = f;
      if (f.has_note()) unacked_replies_["note:" + f.note().note_id()] = f;
      if (f.has_accept()) accepted_offers_.insert(f.accept().offer_id());
      unsent_.push_back(std::move(f));
    }
    // As much as the socket takes now; the rest on the next turn, in order.
    while (!unsent_.empty() && send(unsent_.front())) unsent_.pop_front();
  }
  sock_.reset();
}

void Desk::handle(const v1::AgentFrame& f) {
  switch (f.kind_case()) {
    case v1::AgentFrame::kWelcome: {
      const auto& w = f.welcome();
      welcomed_ = true;
      // Replies, notes and accepts still waiting for room were for the session before: the
      // unacknowledged ones go again below (accepts from the Welcome's offers).
      std::erase_if(unsent_, [](const v1::AgentFrame& u) {
        return u.has_reply() || u.has_note() || u.has_accept();
      });
      heartbeat_interval_ms_ = static_cast<int>(w.heartbeat_interval_ms());
      heartbeat_timeout_ms_ = static_cast<int>(w.heartbeat_timeout_ms());
      if (handler_.on_status) handler_.on_status("connected");
      if (handler_.on_welcome) handler_.on_welcome(w);
      for (const auto& a : w.open_conversations()) {
        if (handler_.on_assignment) handler_.on_assignment(a);
      }
      for (const auto& o : w.pending_offers()) {
        if (accepted_offers_.count(o.offer_id())) {
          v1::AgentFrame acc;  // accepted before the router lost it: say it again
          acc.mutable_accept()->set_offer_id(o.offer_id());
          unsent_.push_back(std::move(acc));
        } else if (handler_.on_offer) {
          handler_.on_offer(o);
        }
      }
      for (const auto& [id, r] : unacked_replies_) unsent_.push_back(r);
      break;
    }
    case v1::AgentFrame::kHeartbeat:
      break;
    case v1::AgentFrame::kOffer:
      if (handler_.on_offer) handler_.on_offer(f.offer());
      break;
    case v1::AgentFrame::kOfferWithdrawn:
      accepted_offers_.erase(f.offer_withdrawn().offer_id());
      if (handler_.on_withdrawn) handler_.on_withdrawn(f.offer_withdrawn());
      break;
    case v1::AgentFrame::kAssignment:
      if (handler_.on_assignment) handler_.on_assignment(f.assignment());
      break;
    case v1::AgentFrame::kCustomerMessage:
      if (handler_.on_message) handler_.on_message(f.customer_message());
      break;
    case v1::AgentFrame::kReplyAck:
      unacked_replies_.erase(f.reply_ack().reply_id());
      if (handler_.on_reply_ack) handler_.on_reply_ack(f.reply_ack());
      break;
    case v1::AgentFrame::kDeliveryUpdate:
      if (handler_.on_delivery) handler_.on_delivery(f.delivery_update());
      break;
    case v1::AgentFrame::kResolved:
      if (handler_.on_resolved) handler_.on_resolved(f.resolved());
      break;
    case v1::AgentFrame::kConversationGone:
      if (handler_.on_gone) handler_.on_gone(f.conversation_gone());
      break;
    case v1::AgentFrame::kCustomerLinked:
      if (handler_.on_linked) handler_.on_linked(f.customer_linked());
      break;
    case v1::AgentFrame::kTyping:
      if (handler_.on_typing) handler_.on_typing(f.typing());
      break;
    case v1::AgentFrame::kNoteAdded:
      unacked_replies_.erase("note:" + f.note_added().note_id());
      if (handler_.on_note_added) handler_.on_note_added(f.note_added());
      break;
    case v1::AgentFrame::kConversationUpdated:
      if (handler_.on_updated) handler_.on_updated(f.conversation_updated());
      break;
    case v1::AgentFrame::kCannedResponses:
      if (handler_.on_canned) handler_.on_canned(f.canned_responses());
      break;
    case v1::AgentFrame::kRedirect: {
      // Another router instance serves the workspace (or it is moving between two):
      // Hello goes there, the unacknowledged replies and accepts follow on its Welcome.
      const auto& r = f.redirect();
      welcomed_ = false;
      if (!r.endpoint().empty()) {
        redirect_endpoint_ = r.endpoint();
        redirect_key_ = r.server_key();
        if (handler_.on_status) handler_.on_status("redirected to " + r.endpoint());
      } else {
        const int64_t wait = std::clamp<int64_t>(r.retry_after_ms(), 100, 10000);
        last_hello_ms_ = steady_ms() + wait - opts_.hello_retry_ms;
        if (handler_.on_status) handler_.on_status("workspace moving between routers");
      }
      break;
    }
    case v1::AgentFrame::kError: {
      const auto& e = f.error();
      if (e.code() == v1::Error::CODE_UNKNOWN_SESSION) {
        welcomed_ = false;  // the router restarted: say Hello again at once
        last_hello_ms_ = 0;
        break;
      }
      if (e.code() == v1::Error::CODE_SESSION_REPLACED ||
          e.code() == v1::Error::CODE_UNAUTHORIZED) {
        // Saying Hello again would take the session back from the agent's other desk (and
        // that one would take it back...), or be refused again: wait for the person.
        welcomed_ = false;
        {
          std::lock_guard lock(mu_);
          parked_ = e.message();
        }
        parked_now_ = true;
        if (handler_.on_status)
          handler_.on_status(e.code() == v1::Error::CODE_SESSION_REPLACED
                                 ? "session taken by another desk of this agent; not reconnecting"
                                 : "refused by the router: " + e.message());
      }
      // A reply the router will never take is not re-sent.
      if ((e.code() == v1::Error::CODE_TOO_LARGE || e.code() == v1::Error::CODE_INVALID) &&
          !e.ref_id().empty()) {
        unacked_replies_.erase(e.ref_id());
        unacked_replies_.erase("note:" + e.ref_id());
      }
      if (handler_.on_error) handler_.on_error(e);
      break;
    }
    default:
      break;
  }
}

}  // namespace omniroute::desk
