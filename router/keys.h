// Every key of the router's column families (store.h), built and parsed in one place. The
// router and `omniroute inspect` both read state through these, so a key changes here or
// nowhere. Workspace ids come first in every workspace-owned key: a workspace's state is
// one key range per family.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace omniroute::router::keys {

// <ws>/<id>: conversations, agents, the outbound index.
std::string scoped(std::string_view ws, std::string_view id);

// Messages: <ws>/<conversation>/<seq:010>.
std::string message(std::string_view ws, std::string_view conversation, uint64_t seq);
std::string messages_of(std::string_view ws, std::string_view conversation);  // prefix

// Decision trail: <ws>/<conversation>/<n:020>, n counting up per conversation; the count
// itself lives at <ws>/<conversation> (outside the prefix of the entries).
std::string trail(std::string_view ws, std::string_view conversation, uint64_t n);
std::string trail_of(std::string_view ws, std::string_view conversation);  // prefix
std::string trail_count(std::string_view ws, std::string_view conversation);

// Queue entries: <ws>/<queue>/<9-prio:1>/<due:013>/<seq:020> -> conversation id, in
// routing order (priority, SLA due time, arrival).
std::string queue_entry(std::string_view ws, std::string_view queue, int priority, int64_t due,
                        uint64_t seq);
std::string queue_of(std::string_view ws, std::string_view queue);  // prefix
struct QueueEntry {
  std::string workspace, queue;
  int priority = 0;
  int64_t due = 0;
  uint64_t seq = 0;
};
std::optional<QueueEntry> parse_queue_entry(std::string_view key);

// Durable timers: <due:013>/<kind>/<ws>/<id>/<ref>, in firing order.
std::string timer(int64_t due, int kind, std::string_view ws, std::string_view id,
                  std::string_view ref);
struct TimerKey {
  int64_t due = 0;
  int kind = 0;
  std::string workspace, id, ref;
};
std::optional<TimerKey> parse_timer(std::string_view key);

// Meta family: consumed offsets, id counters, round-robin cursors.
std::string offset(std::string_view topic, int32_t partition);
std::string offsets_of(std::string_view topic);  // prefix; the rest is the partition
inline constexpr std::string_view kOffsets = "offset/";
std::string seq(std::string_view name);
std::string rr_cursor(std::string_view ws, std::string_view queue);
// Canned responses: canned/<ws>/<id> -> CannedResponse.
std::string canned(std::string_view ws, std::string_view id);
std::string canned_of(std::string_view ws);            // prefix
inline constexpr std::string_view kRrCursors = "rr/";  // rr/<ws>/<queue>

// Dedup family: inbound messages by external id, replies by the desk's reply id.
std::string inbound_dedup(std::string_view ws, std::string_view inbox,
                          std::string_view external_id);
std::string reply_dedup(std::string_view ws, std::string_view agent, std::string_view reply_id);

// Threads family: <ws>/<inbox>/<c:customer | t:integrator thread> -> open conversation, and
// <ws>/m:<Message-ID> -> the conversation an email belongs to.
std::string thread(std::string_view ws, std::string_view inbox, std::string_view thread_key);
std::string email_message(std::string_view ws, std::string_view message_id);
// The integrator's thread id inside a thread key, "" when the key is per customer.
std::string_view integrator_thread(std::string_view thread_key);

// Agents family: <ws>/<agent>/<conversation> -> "" while the agent holds it.
std::string held(std::string_view ws, std::string_view agent, std::string_view conversation);
std::string held_by(std::string_view ws, std::string_view agent);  // prefix

// Customers family (customers.h).
std::string customer(std::string_view ws, std::string_view customer_id);        // <ws>/u/<id>
std::string customer_handle(std::string_view ws, std::string_view handle);      // <ws>/h/<ch>:<h>
std::string customer_identity(std::string_view ws, std::string_view identity);  // <ws>/i/<k>:<v>
// <ws>/x/<customer>/<ms:013>/<conversation>, newest first (ms counts down from kMaxMs).
std::string customer_conversation(std::string_view ws, std::string_view customer_id,
                                  int64_t inverted_ms, std::string_view conversation);
std::string customer_conversations(std::string_view ws, std::string_view customer_id);  // prefix

}  // namespace omniroute::router::keys
