// The parts of the router's engine and what they share. The engine (engine.h) owns one
// Parts and runs each step through them; every part gets the Parts it belongs to, so a
// decision in one (an offer) can use the others (desks, timers, outbox) without the
// engine in between. All of it runs on the engine's thread (the router's event loop).
//
//   keys.h          every column-family key, encode and parse (also used by inspect)
//   conversations.h conversation records, history, the frames desks see of them
//   outbox.h        Kafka records out (outbound, routing events + trail, DLQ), id counters
//   desks.h         frames out to desks, desk sessions (Hello, Welcome, gone, heartbeats)
//   timers.h        the durable timer map
//   identity.h      which customer wrote; profile merge
//   threading.h     which conversation a message belongs to; email threading; reopen
//   agents.h        agents at run time, capacity, shifts
//   queues.h        waiting conversations in order; positions told to chat visitors
//   policy.h        the pure routing policy: eligibility, ranking, explanation
//   dispatch.h      enqueue, and offering what waits to whoever can take it
//   offers.h        offer, withdraw, accept, reject, take back
//   sla.h           SLA timers, overflow steps, sticky waits
//   auto_replies.h  closed-hours replies and acknowledgements
//   csat.h          satisfaction survey on resolve, the customer's answer
//   inbound.h       records from omni.inbound through their stages
//   frames/         desk frames in, one handler file per family behind a table
#pragma once

#include "common/log.h"
#include "config/config.h"
#include "router/agents.h"
#include "router/auto_replies.h"
#include "router/canned.h"
#include "router/conversations.h"
#include "router/csat.h"
#include "router/customers.h"
#include "router/desks.h"
#include "router/dispatch.h"
#include "router/errors.h"
#include "router/identity.h"
#include "router/inbound.h"
#include "router/offers.h"
#include "router/outbox.h"
#include "router/queues.h"
#include "router/sla.h"
#include "router/snoozes.h"
#include "router/store.h"
#include "router/threading.h"
#include "router/timers.h"

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

struct EngineCounters {
  uint64_t messages = 0, duplicates = 0, conversations = 0, offers = 0, accepts = 0, replies = 0,
           resolves = 0, dead_letters = 0, delivery_updates = 0, sla_warnings = 0, sla_breaches = 0,
           overflows = 0, requeued = 0, auto_replies = 0, csat_answers = 0, csat_refused = 0;
  // Time spent choosing agents for queued conversations (eligibility over the queue's
  // agents, ranking, the explained trail), and how many choices: mean = the decision cost.
  uint64_t decision_ns = 0, decisions = 0;
};

struct Parts {
  Parts(const config::Config& c, Store& s, Clock& k)
      : cfg(&c), store(s), clock(k), log(log::get("router")), customers(s) {}
  Parts(const Parts&) = delete;
  Parts& operator=(const Parts&) = delete;

  const config::Config* cfg;  // the config in force (a reload swaps it inside a step)
  Store& store;
  Clock& clock;
  log::Logger log;
  EngineCounters counters;

  // State.
  Customers customers;
  Conversations conversations{*this};
  Outbox outbox{*this};
  Desks desks{*this};
  Timers timers;
  Agents agents{*this};
  Queues queues{*this};
  // Decisions.
  Identity identity{*this};
  Threading threading{*this};
  Dispatch dispatch{*this};
  Offers offers{*this};
  Sla sla{*this};
  AutoReplies auto_replies{*this};
  Inbound inbound{*this};
  Snoozes snoozes{*this};
  Canned canned{*this};
  Csat csat{*this};
};

}  // namespace omniroute::router
