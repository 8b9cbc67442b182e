#include "router/keys.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace omniroute::router::keys {
namespace {

template <typename T>
bool number(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string scoped(std::string_view ws, std::string_view id) {
  std::string k;
  k.reserve(ws.size() + id.size() + 1);
  k.append(ws).push_back('/');
  k.append(id);
  return k;
}

std::string message(std::string_view ws, std::string_view conversation, uint64_t seq) {
  return fmt::format("{}/{}/{:010}", ws, conversation, seq);
}
std::string messages_of(std::string_view ws, std::string_view conversation) {
  return fmt::format("{}/{}/", ws, conversation);
}

std::string trail(std::string_view ws, std::string_view conversation, uint64_t n) {
  return fmt::format("{}/{}/{:020}", ws, conversation, n);
}
std::string trail_of(std::string_view ws, std::string_view conversation) {
  return fmt::format("{}/{}/", ws, conversation);
}
std::string trail_count(std::string_view ws, std::string_view conversation) {
  return scoped(ws, conversation);
}

std::string queue_entry(std::string_view ws, std::string_view queue, int priority, int64_t due,
                        uint64_t seq) {
  return fmt::format("{}/{}/{}/{:013}/{:020}", ws, queue, 9 - priority, std::max<int64_t>(due, 0),
                     seq);
}
std::string queue_of(std::string_view ws, std::string_view queue) {
  return fmt::format("{}/{}/", ws, queue);
}
std::optional<QueueEntry> parse_queue_entry(std::string_view key) {
  const auto p1 = key.find('/'), p2 = key.find('/', p1 + 1), p3 = key.find('/', p2 + 1),
             p4 = key.find('/', p3 + 1);
  if (p1 == std::string_view::npos || p2 == std::string_view::npos ||
      p3 == std::string_view::npos || p4 == std::string_view::npos)
    return std::nullopt;
  QueueEntry e;
  int inverted = 0;
  if (!number(key.substr(p2 + 1, p3 - p2 - 1), inverted) ||
      !number(key.substr(p3 + 1, p4 - p3 - 1), e.due) || !number(key.substr(p4 + 1), e.seq))
    return std::nullopt;
  e.workspace = std::string(key.substr(0, p1));
  e.queue = std::string(key.substr(p1 + 1, p2 - p1 - 1));
  e.priority = 9 - inverted;
  return e;
}

std::string timer(int64_t due, int kind, std::string_view ws, std::string_view id,
                  std::string_view ref) {
  return fmt::format("{:013}/{}/{}/{}/{}", std::max<int64_t>(due, 0), kind, ws, id, ref);
}
std::optional<TimerKey> parse_timer(std::string_view key) {
  size_t p[4];
  size_t from = 0;
  for (auto& x : p) {
    x = key.find('/', from);
    if (x == std::string_view::npos) return std::nullopt;
    from = x + 1;
  }
  TimerKey t;
  if (!number(key.substr(0, p[0]), t.due) || !number(key.substr(p[0] + 1, p[1] - p[0] - 1), t.kind))
    return std::nullopt;
  t.workspace = std::string(key.substr(p[1] + 1, p[2] - p[1] - 1));
  t.id = std::string(key.substr(p[2] + 1, p[3] - p[2] - 1));
  t.ref = std::string(key.substr(p[3] + 1));
  return t;
}

std::string offset(std::string_view topic, int32_t partition) {
  return fmt::format("offset/{}/{}", topic, partition);
}
std::string offsets_of(std::string_view topic) {
  return fmt::format("offset/{}/", topic);
}
std::string seq(std::string_view name) {
  return fmt::format("seq/{}", name);
}
std::string rr_cursor(std::string_view ws, std::string_view queue) {
  return fmt::format("rr/{}/{}", ws, queue);
}

std::string canned(std::string_view ws, std::string_view id) {
  return fmt::format("canned/{}/{}", ws, id);
}

std::string canned_of(std::string_view ws) {
  return fmt::format("canned/{}/", ws);
}

std::string inbound_dedup(std::string_view ws, std::string_view inbox,
                          std::string_view external_id) {
  return fmt::format("m/{}/{}/{}", ws, inbox, external_id);
}
std::string reply_dedup(std::string_view ws, std::string_view agent, std::string_view reply_id) {
  return fmt::format("r/{}/{}/{}", ws, agent, reply_id);
}

std::string thread(std::string_view ws, std::string_view inbox, std::string_view thread_key) {
  return fmt::format("{}/{}/{}", ws, inbox, thread_key);
}
std::string email_message(std::string_view ws, std::string_view message_id) {
  return fmt::format("{}/m:{}", ws, message_id);
}
std::string_view integrator_thread(std::string_view thread_key) {
  // <ws>/<inbox>/t:<integrator thread id> or <ws>/<inbox>/c:<customer>
  const auto p1 = thread_key.find('/');
  if (p1 == std::string_view::npos) return {};
  const auto p2 = thread_key.find('/', p1 + 1);
  if (p2 == std::string_view::npos || thread_key.compare(p2 + 1, 2, "t:") != 0) return {};
  return thread_key.substr(p2 + 3);
}

std::string held(std::string_view ws, std::string_view agent, std::string_view conversation) {
  return fmt::format("{}/{}/{}", ws, agent, conversation);
}
std::string held_by(std::string_view ws, std::string_view agent) {
  return fmt::format("{}/{}/", ws, agent);
}

std::string customer(std::string_view ws, std::string_view customer_id) {
  return fmt::format("{}/u/{}", ws, customer_id);
}
std::string customer_handle(std::string_view ws, std::string_view handle) {
  return fmt::format("{}/h/{}", ws, handle);
}
std::string customer_identity(std::string_view ws, std::string_view identity) {
  return fmt::format("{}/i/{}", ws, identity);
}
std::string customer_conversation(std::string_view ws, std::string_view customer_id,
                                  int64_t inverted_ms, std::string_view conversation) {
  return fmt::format("{}/x/{}/{:013}/{}", ws, customer_id, inverted_ms, conversation);
}
std::string customer_conversations(std::string_view ws, std::string_view customer_id) {
  return fmt::format("{}/x/{}/", ws, customer_id);
}

}  // namespace omniroute::router::keys
