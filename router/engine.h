// The router's decisions, free of I/O: it applies inputs (inbound envelopes, agent
// frames, due timers) to state inside a Store::Batch and collects what must go out
// (frames to desks, Kafka records in the outbox). The runtime (router.h) commits the
// batch, and only then sends. Single-threaded.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "common/log.h"
#include "config/config.h"
#include "omniroute/v1/agent.pb.h"
#include "omniroute/v1/events.pb.h"
#include "omniroute/v1/routing.pb.h"
#include "omniroute/v1/store.pb.h"
#include "router/customers.h"
#include "router/store.h"

namespace omniroute::router {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_ms() = 0;
};

class SystemClock : public Clock {
 public:
  int64_t now_ms() override;
};

// A Kafka record to produce, already written to the outbox family under `key`.
struct OutboxRecord {
  std::string key;  // outbox key; delete it once Kafka acknowledged
  v1::store::OutboxEntry entry;
};

// A frame for a desk, addressed by ZeroMQ routing id.
struct DeskFrame {
  std::string routing_id;
  v1::AgentFrame frame;
};

struct EngineCounters {
  uint64_t messages = 0, duplicates = 0, conversations = 0, offers = 0, accepts = 0, replies = 0,
           resolves = 0, dead_letters = 0, delivery_updates = 0, sla_warnings = 0, sla_breaches = 0,
           overflows = 0, requeued = 0, auto_replies = 0;
  // Time spent choosing agents for queued conversations (eligibility over the queue's
  // agents, ranking, the explained trail), and how many choices: mean = the decision cost.
  uint64_t decision_ns = 0, decisions = 0;
};

class Engine {
 public:
  Engine(const config::Config& cfg, Store& store, Clock& clock);

  // Rebuilds in-memory indexes (agents, queues, offer timers) from the store.
  void load();
  // Applies a new configuration (SIGHUP) inside a step: agents, queues, rules, SLAs,
  // schedules and router limits change without dropping work; what can move then is
  // dispatched at once. Refused ("" = applied, else why) when it would strand work: a
  // removed queue with waiting conversations, a removed agent holding conversations.
  std::string reconfigure(Store::Batch& b, std::shared_ptr<const config::Config> next);
  const config::Config& config() const { return *cfg_; }

  // Applies one record consumed from omni.inbound at (topic, partition, offset).
  void apply_record(Store::Batch& b, const std::string& topic, int32_t partition, int64_t offset,
                    std::string_view key, std::string_view value);
  // Applies one frame from the desk at `routing_id` (raw bytes; bad frames get an Error).
  // `peer_key`: the connection's CURVE public key (Z85) as the ZAP handler accepted it;
  // "" when agent_auth is token or none.
  void apply_desk(Store::Batch& b, const std::string& routing_id, std::string_view bytes,
                  const std::string& peer_key = {});
  // Fires every timer due at the clock's now.
  void apply_timers(Store::Batch& b);
  // Earliest pending timer (clock ms), or INT64_MAX.
  int64_t next_timer_ms() const;

  // Writes what the step kept in memory (id counters) into `b` and commits it. Every
  // step must end here, never in Store::commit directly.
  [[nodiscard]] std::string commit(Store::Batch& b);
  // The same, typed: nullopt when committed (the batch is kept on failure).
  [[nodiscard]] std::optional<Store::CommitError> try_commit(Store::Batch& b);

  // Deletes an outbox entry Kafka has acknowledged.
  void outbox_done(Store::Batch& b, const std::string& key) { b.del(Cf::kOutbox, key); }
  // Kafka refused an outbox record for good (too large, not allowed): it leaves the
  // outbox for omni.dlq with the reason, and a reply's desk sees it FAILED.
  void outbox_refused(Store::Batch& b, const OutboxRecord& r, const std::string& reason);
  // Outbox entries left by a previous run, to re-send at start.
  std::vector<OutboxRecord> pending_outbox();

  std::vector<DeskFrame> take_frames() { return std::move(frames_); }
  std::vector<OutboxRecord> take_outbox() { return std::move(outbox_); }

  // Offsets ("next to read") stored for `topic`, by partition.
  std::map<int32_t, int64_t> stored_offsets(const std::string& topic);

  const EngineCounters& counters() const { return counters_; }
  size_t online_agents() const;

 private:
  struct AgentRt {
    // Read by every decision, so kept together at the front (two cache lines): who is
    // connected and available, capacity and load, rank keys, and copies of the config
    // fields a decision needs, so it touches one object per agent, not two.
    std::string routing_id;  // "" = no live desk
    std::string id;          // agent id (copy of cfg->id)
    v1::Presence presence = v1::PRESENCE_OFFLINE;
    bool bot = false;
    bool speaks_any = true;  // no language list
    int total_capacity = 0;
    int total_load = 0;
    int64_t idle_since_ms = 0;
    const Schedule* shift = nullptr;
    // Per channel, indexed by the Channel value.
    static constexpr size_t kChannels = v1::Channel_ARRAYSIZE;
    std::array<int, kChannels> load{};      // conversations held per channel
    std::array<int, kChannels> capacity{};  // from the config (0 = none on that channel)
    // The rest.
    const config::Agent* cfg = nullptr;
    std::string workspace;
    int64_t last_seen_ms = 0;
    int64_t last_sent_ms = 0;
    int64_t welcomed_at_ms = 0;    // last Welcome sent on routing_id
    std::string session_key;       // CURVE key the session was authenticated with
    std::deque<int64_t> welcomes;  // when the latest Welcomes were built (rate limit)
    int64_t offline_since_ms = 0;  // when its desk went away (0 = connected, or never was)
    std::map<std::string, v1::Channel> conversations;  // offered or assigned
    void set_capacity() {
      capacity.fill(0);
      for (const auto& [ch, n] : cfg->capacity) capacity[static_cast<size_t>(ch)] = n;
      id = cfg->id;
      bot = cfg->bot;
      speaks_any = cfg->languages.empty();
      total_capacity = cfg->total_capacity;
      shift = cfg->shift.get();
    }
    bool online() const { return !routing_id.empty() && presence == v1::PRESENCE_AVAILABLE; }
    bool on_shift(int64_t now) const { return !shift || shift->open_at(now); }
    void hold(const std::string& cid, v1::Channel ch) {
      if (conversations.emplace(cid, ch).second) {
        ++load[static_cast<size_t>(ch)];
        ++total_load;
      }
    }
    void drop(const std::string& cid) {
      auto it = conversations.find(cid);
      if (it == conversations.end()) return;
      --load[static_cast<size_t>(it->second)];
      --total_load;
      conversations.erase(it);
    }
    int load_on(v1::Channel ch) const { return load[static_cast<size_t>(ch)]; }
    bool has_room(v1::Channel ch) const {
      if (total_capacity > 0 && total_load >= total_capacity) return false;
      return load[static_cast<size_t>(ch)] < capacity[static_cast<size_t>(ch)];
    }
    bool has_any_room() const {
      if (total_capacity > 0 && total_load >= total_capacity) return false;
      for (size_t i = 0; i < kChannels; ++i)
        if (load[i] < capacity[i]) return true;
      return false;
    }
  };
  // Queue order: priority (9 first, so stored negated), SLA due time, arrival; then the
  // conversation and its channel (to skip without a read when nobody has room on it).
  using QueueKey = std::tuple<int, int64_t, uint64_t, std::string, v1::Channel>;
  // Durable timers live in the timers family and survive restarts; the others are
  // rebuilt from config and presence at start.
  enum class TimerKind {
    kOfferExpiry = 0,  // durable: id = conversation, ref = offer id
    kSla = 1,          // durable: id = conversation, ref = <target>/<warn|breach>/<due>
    kOverflow = 2,     // durable: id = conversation, ref = step number
    kSticky = 3,       // durable: id = conversation, ref = sticky deadline
    kGrace = 4,        // durable: id = agent, ref = offline since
    kReconnectGrace = 10,
    kHeartbeat = 11,
    kShift = 12,  // id = agent: its shift starts or ends
  };
  struct Timer {
    TimerKind kind;
    std::string workspace, id, ref;
    std::string key;  // in the timers family ("" = in memory only)
  };
  // Why an agent cannot take a conversation (kOk = it can).
  enum class Unfit {
    kOk,
    kOffline,
    kAway,
    kOffShift,
    kBot,
    kRejected,
    kSkill,
    kLanguage,
    kChannelFull,
    kTotalFull,
    kSticky
  };

  // Inputs.
  void on_message(Store::Batch& b, const v1::InboundMessage& m);
  void on_delivery_status(Store::Batch& b, const v1::DeliveryStatus& s);
  void on_hello(Store::Batch& b, const std::string& rid, const v1::Hello& h,
                const std::string& peer_key);
  // Why this Hello may not start a session ("" = it may): protocol version, the agent's
  // credential for router.agent_auth, the Welcome rate.
  std::string refuse_hello(AgentRt* a, const v1::Hello& h, const std::string& peer_key,
                           v1::Error::Code& code);
  // After a reload: sessions whose key is no longer the agent's end now.
  void end_revoked_sessions(Store::Batch& b);
  void on_accept(Store::Batch& b, AgentRt& a, const v1::Accept& m);
  void on_reject(Store::Batch& b, AgentRt& a, const v1::Reject& m);
  void on_reply(Store::Batch& b, AgentRt& a, const v1::Reply& m);
  void on_resolve(Store::Batch& b, AgentRt& a, const v1::Resolve& m);
  void on_typing(Store::Batch& b, AgentRt& a, const v1::Typing& m);
  // A customer's typing signal to the agent of their open conversation (web chat).
  void on_signal(Store::Batch& b, const v1::Signal& s);
  // Live notices for web chat visitors (typing, agent joined, queue position, resolved):
  // an OutboundMessage with `notice`, no history, no status.
  void notice(Store::Batch& b, const v1::store::Conversation& c, const v1::ChannelNotice& n,
              const AgentRt* from);
  // Tells waiting chat visitors of this queue where they are, when that changed.
  void queue_notices(Store::Batch& b, const std::string& ws, const std::string& queue);
  void on_transfer(Store::Batch& b, AgentRt& a, const v1::Transfer& m);
  void on_force_assign(Store::Batch& b, AgentRt& a, const v1::ForceAssign& m);
  void on_link(Store::Batch& b, AgentRt& a, const v1::Link& m);
  void on_unlink(Store::Batch& b, AgentRt& a, const v1::Unlink& m);
  void customer_linked(Store::Batch& b, const AgentRt& a, const std::string& customer_id);
  void link_outcome(Store::Batch& b, const AgentRt& a, const std::string& customer_id,
                    const std::string& why, v1::RoutingEvent::Kind kind, const std::string& what);
  // Takes a conversation away from whoever holds it (offer or assignment), telling them.
  void take_back(Store::Batch& b, v1::store::Conversation& c, const std::string& reason);
  // Loads a conversation assigned to `a`; otherwise tells the desk why (NOT_FOUND/CONFLICT).
  bool load_assigned(Store::Batch& b, const AgentRt& a, const std::string& id,
                     v1::store::Conversation& c);
  void conversation_gone(const AgentRt& a, const std::string& conversation_id,
                         const std::string& reason);
  void note(Store::Batch& b, v1::store::Conversation& c, const std::string& text);
  void on_presence(Store::Batch& b, AgentRt& a, v1::Presence p);
  void desk_gone(Store::Batch& b, AgentRt& a, const std::string& why);

  // Routing.
  void open_conversation(Store::Batch& b, v1::store::Conversation& c, const v1::InboundMessage& m,
                         v1::store::Customer& customer);
  void enqueue(Store::Batch& b, v1::store::Conversation& c, const std::string& reason);
  // Email threading: the conversation of `m` from the Message-IDs it replies to (ours are
  // "outbound:<id>", see the email connector) or its ticket tag, if it is the same
  // customer's; "" = a new conversation. `note` explains a reply that was not joined.
  std::string email_thread(Store::Batch& b, const std::string& ws, const v1::InboundMessage& m,
                           const std::string& customer_root, std::string* note);
  // A resolved conversation the customer wrote to again: back in its queue, with the
  // agent who had it first in line.
  void reopen_conversation(Store::Batch& b, v1::store::Conversation& c);
  // An automatic message to the customer (closed hours, acknowledgement): history, outbox.
  void automatic_message(Store::Batch& b, v1::store::Conversation& c, const v1::InboundMessage& m,
                         const std::string& text);
  static void substitute(std::string& text, const std::string& var, const std::string& value);
  // Email replies: ticket tag in the subject, In-Reply-To and References.
  void email_threading(Store::Batch& b, const v1::store::Conversation& c, v1::OutboundMessage& out);
  void queue_put(Store::Batch& b, const v1::store::Conversation& c);
  void queue_remove(Store::Batch& b, const v1::store::Conversation& c);
  int relaxed_levels(const v1::store::Conversation& c) const;
  const config::Queue* queue_cfg(const std::string& ws, const std::string& queue) const;
  Unfit fit(const AgentRt& a, const v1::store::Conversation& c, int64_t now,
            std::string* why) const;
  // Presence, shift (when asked) and capacity only: what even a person's choice of agent
  // (transfer, supervisor) must respect.
  bool can_hold(const AgentRt& a, const v1::store::Conversation& c, bool need_shift,
                std::string* why) const;
  void arm_sla(Store::Batch& b, const v1::store::Conversation& c, const std::string& target,
               int64_t start, int64_t due, int64_t target_ms);
  // Overflow timers of the conversation's current queue, counted from `since`.
  void arm_overflow(Store::Batch& b, v1::store::Conversation& c, int64_t since);
  void cancel_overflow(Store::Batch& b, const v1::store::Conversation& c);
  void raise_priority(Store::Batch& b, v1::store::Conversation& c, const std::string& why);
  void fire(Store::Batch& b, const Timer& t);
  void dispatch(Store::Batch& b, const std::string& ws, const std::string& queue);
  void dispatch_agent_queues(Store::Batch& b, const AgentRt& a);
  // Offers `c` to `a` (and, for a parallel offer, to `also` at the same time).
  void offer(Store::Batch& b, v1::store::Conversation& c, AgentRt& a, const std::string& why,
             const std::vector<v1::RoutingEvent::Candidate>& considered,
             const std::vector<AgentRt*>& also = {});
  // Takes `a` out of a parallel offer that others still hold (saved); false (and nothing
  // done) when `a` is alone in the round or not in it.
  bool leave_round(Store::Batch& b, v1::store::Conversation& c, AgentRt& a, bool remember);
  void release(Store::Batch& b, AgentRt& a, const std::string& conversation_id);
  void withdraw_offer(Store::Batch& b, v1::store::Conversation& c, const std::string& reason,
                      bool remember);

  // State helpers.
  bool load_conversation(Store::Batch& b, const std::string& ws, const std::string& id,
                         v1::store::Conversation& c);
  void save_conversation(Store::Batch& b, const v1::store::Conversation& c);
  void save_agent(Store::Batch& b, const AgentRt& a);
  uint64_t append_message(Store::Batch& b, v1::store::Conversation& c, v1::ConversationMessage m);
  std::vector<v1::ConversationMessage> history(Store::Batch& b, const v1::store::Conversation& c);
  v1::Assignment assignment(Store::Batch& b, const v1::store::Conversation& c,
                            const std::string& offer_id);
  v1::Offer offer_frame(Store::Batch& b, const v1::store::Conversation& c);
  uint64_t next_seq(Store::Batch& b, const std::string& name);
  void set_offset(Store::Batch& b, const std::string& topic, int32_t partition, int64_t next);

  // Outputs.
  void send(const AgentRt& a, v1::AgentFrame f);
  void send_to(const std::string& rid, v1::AgentFrame f);
  void error_to(const std::string& rid, v1::Error::Code code, const std::string& msg,
                const std::string& ref);
  void produce(Store::Batch& b, const std::string& topic, const std::string& key,
               const std::string& value);
  void routing_event(Store::Batch& b, const v1::store::Conversation& c, v1::RoutingEvent::Kind kind,
                     const std::string& agent, const std::string& reason,
                     const std::vector<v1::RoutingEvent::Candidate>& considered = {},
                     const std::string& customer_id = {});
  void dead_letter(Store::Batch& b, const std::string& topic, int32_t partition, int64_t offset,
                   std::string_view key, std::string_view value, const std::string& reason);
  // Timers due at the same ms fire in key order, so a restarted router (which reloads
  // them sorted) fires them in the same order as one that never stopped.
  void add_timer(int64_t due, Timer t) {
    std::string order = t.key.empty()
                            ? fmt::format("~{}/{}/{}", static_cast<int>(t.kind), t.workspace, t.id)
                            : t.key;
    timers_.emplace(std::make_pair(due, std::move(order)), std::move(t));
  }
  void add_durable_timer(Store::Batch& b, int64_t due, Timer t);
  void cancel_timer(Store::Batch& b, int64_t due, TimerKind kind, const std::string& ws,
                    const std::string& id, const std::string& ref);
  void cancel_offer_timer(Store::Batch& b, const v1::store::Conversation& c);
  void cancel_sla(Store::Batch& b, const v1::store::Conversation& c, const std::string& target,
                  int64_t due);
  const config::SlaPolicy* policy_of(const v1::store::Conversation& c) const;
  void arm_shift(AgentRt& a, int64_t now);

  void index_config();  // queue configs and who serves which queue
  AgentRt* agent(const std::string& ws, const std::string& id);
  AgentRt* session(const std::string& rid);

  const config::Config* cfg_;                        // the config in force
  std::shared_ptr<const config::Config> owned_cfg_;  // set once a reload replaced the first
  Store& store_;
  Clock& clock_;
  log::Logger log_;
  Customers customers_;
  std::map<std::string, AgentRt> agents_;             // "<ws>/<agent>"
  std::map<std::string, std::string> sessions_;       // routing id -> "<ws>/<agent>"
  std::map<std::string, std::set<QueueKey>> queues_;  // "<ws>/<queue>"
  // Web chat queue notices (runtime only: after a restart every visitor hears again).
  struct QueueFlow {
    int64_t last_accept_ms = 0;
    double gap_ms = 0;  // moving average of the time between two accepts from the queue
    int accepts = 0;
  };
  std::map<std::string, QueueFlow> queue_flow_;    // "<ws>/<queue>"
  std::map<std::string, uint32_t> told_position_;  // "<ws>/<conversation>"
  uint64_t notice_seq_ = 0;
  std::map<std::string, std::vector<AgentRt*>> queue_agents_;  // "<ws>/<queue>" -> who serves it
  std::map<std::string, const config::Queue*> queue_cfgs_;     // "<ws>/<queue>"
  std::map<std::string, std::string> rr_cursor_;  // "<ws>/<queue>" -> last agent offered
  std::multimap<std::pair<int64_t, std::string>, Timer> timers_;
  std::map<std::string, uint64_t> seqs_;  // cached id counters
  std::set<std::string> dirty_seqs_;      // counters changed in this step
  std::vector<DeskFrame> frames_;
  std::vector<OutboxRecord> outbox_;
  EngineCounters counters_;
};

}  // namespace omniroute::router
