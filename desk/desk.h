// A desk client of the agent protocol (docs/agent-protocol.md): connects a DEALER to
// the router, says Hello, keeps heartbeats both ways, reconnects and resumes when the
// router goes silent or forgets the session, and re-sends unacknowledged replies.
// Used by `omniroute agent`, the scripted desks of `up --demo`, tests and benchmarks.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "omniroute/v1/agent.pb.h"

namespace omniroute::desk {

struct Options {
  // tcp://host:port of the router's agent endpoint; several, comma-separated, for several
  // router instances (any of them redirects to the owner of the workspace).
  std::string endpoint;
  std::string workspace_id;
  std::string agent_id;
  std::string token;  // router.agent_auth: token
  std::string desk_name = "omniroute-desk";
  v1::Presence presence = v1::PRESENCE_AVAILABLE;
  int hello_retry_ms = 1000;  // resend Hello while no Welcome arrives
  // router.agent_auth: curve (the default): the router's public key and this agent's
  // secret key, both Z85 (omniroute agent keygen). Empty server_key = no CURVE.
  std::string server_key;
  std::string secret_key;
};

// Callbacks run on the desk's own thread; they may call the desk's methods.
struct Handler {
  std::function<void(const v1::Welcome&)> on_welcome;
  std::function<void(const v1::Offer&)> on_offer;
  std::function<void(const v1::OfferWithdrawn&)> on_withdrawn;
  std::function<void(const v1::Assignment&)> on_assignment;
  std::function<void(const v1::CustomerMessage&)> on_message;
  std::function<void(const v1::ReplyAck&)> on_reply_ack;
  std::function<void(const v1::DeliveryUpdate&)> on_delivery;
  std::function<void(const v1::Resolved&)> on_resolved;
  std::function<void(const v1::ConversationGone&)> on_gone;        // transferred / reassigned
  std::function<void(const v1::CustomerLinked&)> on_linked;        // result of link / unlink
  std::function<void(const v1::Typing&)> on_typing;                // the customer is typing (chat)
  std::function<void(const v1::NoteAdded&)> on_note_added;         // an internal note is stored
  std::function<void(const v1::ConversationUpdated&)> on_updated;  // labels, snooze
  std::function<void(const v1::CannedResponses&)> on_canned;       // the usable canned responses
  std::function<void(const v1::Error&)> on_error;
  std::function<void(const std::string&)> on_status;  // connection events, for display
};

class Desk {
 public:
  Desk(Options opts, Handler handler);
  ~Desk();
  void start();
  void stop();

  void accept(const std::string& offer_id);
  void reject(const std::string& offer_id, const std::string& reason);
  // Returns the reply id; the reply is re-sent until the router acknowledges it.
  std::string reply(const std::string& conversation_id, const std::string& text);
  // With a reply id of the caller's choosing: the same id is published once, even across
  // desk restarts.
  // An approved template (WhatsApp outside the 24-hour window). Returns the reply id.
  std::string reply_template(const std::string& conversation_id, const std::string& name,
                             const std::string& language, const std::vector<std::string>& params,
                             const std::string& reply_id = {});
  void reply(const std::string& conversation_id, const std::string& text,
             const std::string& reply_id);
  void resolve(const std::string& conversation_id);
  // The agent started / stopped typing: a chat visitor sees it live.
  void typing(const std::string& conversation_id, bool on);
  // Hands an assigned conversation to another agent ("" = none) or a queue, with a note.
  void transfer(const std::string& conversation_id, const std::string& to_agent,
                const std::string& to_queue, const std::string& note);
  // Supervisors: assigns a conversation to an agent, or (agent "", to_queue set) moves it
  // to a queue.
  void force_assign(const std::string& conversation_id, const std::string& agent,
                    const std::string& note, const std::string& to_queue = {});
  // Tells the router two customers are one person (undo with unlink).
  void link(const std::string& customer_id, const std::string& other_customer_id,
            const std::string& note);
  void unlink(const std::string& customer_id);
  // An internal note (never sent to the customer); re-sent until stored. Returns its id
  // (`note_id` when given).
  std::string note(const std::string& conversation_id, const std::string& text,
                   const std::string& note_id = {});
  void set_labels(const std::string& conversation_id, const std::vector<std::string>& labels);
  // Until `until_ms` (Unix ms), or until the customer writes; neither = wake it now.
  void snooze(const std::string& conversation_id, int64_t until_ms, bool until_customer);
  void save_canned(const v1::CannedResponse& r);
  void delete_canned(const std::string& canned_id);
  void set_presence(v1::Presence p);
  // Test hook: stop sending anything (heartbeats included), as a hung desk would.
  void freeze(bool frozen) { frozen_ = frozen; }
  bool connected() const { return welcomed_; }
  // The router endpoint the desk talks to now (it follows Redirects).
  std::string endpoint() const {
    std::lock_guard lock(mu_);
    return endpoint_now_;
  }
  // Why the desk stopped saying Hello by itself ("" = it has not): another desk of the
  // agent took the session (CODE_SESSION_REPLACED) or the router refused it
  // (CODE_UNAUTHORIZED). `resume()` takes the session back.
  std::string parked() const;
  void resume();

 private:
  void loop();
  void connect();
  // False when the socket's queue is full (the frame was not sent).
  bool send(const v1::AgentFrame& f);
  void enqueue(v1::AgentFrame f);
  void handle(const v1::AgentFrame& f);

  Options opts_;
  Handler handler_;
  zmq::context_t ctx_;
  std::unique_ptr<zmq::socket_t> sock_;
  // Whether the current connection's ZMTP handshake completed (a socket monitor); declared
  // after sock_, so it stops watching before the socket closes.
  struct HandshakeWatch;
  std::unique_ptr<HandshakeWatch> watch_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> frozen_{false};
  std::atomic<bool> welcomed_{false};
  std::atomic<bool> resume_{false};
  std::string parked_;       // guarded by mu_
  bool parked_now_ = false;  // loop thread: handle() saw a parking error
  mutable std::mutex mu_;
  std::deque<v1::AgentFrame> outq_;
  // The loop's frames waiting for room in the socket's queue, in order (a burst, such as the
  // answers to a Welcome with many conversations, must not lose any).
  std::deque<v1::AgentFrame> unsent_;
  // Loop-thread state.
  int64_t last_recv_ms_ = 0, last_send_ms_ = 0, last_hello_ms_ = 0;
  int heartbeat_interval_ms_ = 1000, heartbeat_timeout_ms_ = 3000;
  std::map<std::string, v1::AgentFrame> unacked_replies_;  // reply id -> frame
  std::set<std::string> accepted_offers_;
  std::string redirect_endpoint_, redirect_key_;  // a Redirect to follow after this poll
  // The configured endpoint and key: where the desk goes back to when the instance it was
  // redirected to is silent.
  std::vector<std::string> homes_;  // the configured endpoints
  std::string home_endpoint_, home_key_;
  int64_t connected_ms_ = 0;  // when the current connection was opened
  // How long an instance gets to send a Welcome before the desk tries the next endpoint:
  // one that completed the handshake is alive (its Welcome can take a while, it may be
  // restoring), 5 s since it last said anything ("moving" counts); one that has not even
  // completed the handshake 1 s after the connection was opened is most likely dead.
  static constexpr int64_t kRedirectPatienceMs = 5000, kUnansweredPatienceMs = 1000;
  bool handshake_done();
  void go_home();
  std::string endpoint_now_;
};

}  // namespace omniroute::desk
