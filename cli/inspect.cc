// inspect: the router's state, read-only (also while a router runs), through the same
// keys the router writes (router/keys.h).
#include <map>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"
#include "omniroute/v1/routing.pb.h"
#include "omniroute/v1/store.pb.h"
#include "router/conversations.h"
#include "router/keys.h"
#include "router/partition.h"
#include "router/store.h"

namespace omniroute::cli {

int cmd_inspect(const Common& common, const std::string& what, const std::string& id,
                const std::string& workspace) {
  std::string dir = common.state_dir;
  std::string ws = workspace;
  if (dir.empty() || ws.empty()) {
    auto cfg = load(common);
    if (!cfg) return 2;
    if (dir.empty()) dir = cfg->state.dir;
    if (ws.empty() && cfg->workspaces.size() == 1) ws = cfg->workspaces[0].id;
  }
  std::string err;
  using router::Cf;
  // A store per partition this instance served (<state.dir>/p<N>); a workspace lives in one.
  const int32_t partitions = router::partitions_in(dir);
  if (partitions == 0) {
    fmt::print(stderr, "inspect: no partition stores in {} (p0, p1, ...)\n", dir);
    return 2;
  }
  if (what == "offsets") {
    for (int32_t p = 0; p < partitions; ++p) {
      auto store = router::Store::open_read_only(router::partition_dir(dir, p), err);
      if (!store) continue;
      store->scan(Cf::kMeta, router::keys::kOffsets, [](std::string_view k, std::string_view v) {
        fmt::print("{} = {}\n", k.substr(router::keys::kOffsets.size()), v);
        return true;
      });
    }
    return 0;
  }
  auto store = router::Store::open_read_only(router::workspace_dir(dir, ws, partitions), err);
  if (!store) {
    fmt::print(stderr, "inspect: cannot open state {}: {}\n", dir, err);
    return 2;
  }
  if (what == "outbox") {
    size_t n = 0;
    store->scan(Cf::kOutbox, "", [&](std::string_view, std::string_view) { return ++n, true; });
    fmt::print("{} records waiting for Kafka\n", n);
    return 0;
  }
  if (id.empty() || ws.empty()) {
    fmt::print(stderr, "inspect {}: give an id and --workspace\n", what);
    return 2;
  }
  std::string v;
  auto when = [](int64_t ms) {
    return ms <= 0 ? std::string("-")
                   : fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", fmt::gmtime(ms / 1000));
  };
  if (what == "queue") {
    // <ws>/<queue>/<9-prio>/<due>/<seq> -> conversation, in routing order.
    const std::string prefix = router::keys::queue_of(ws, id);
    int pos = 0;
    fmt::print("queue {}/{} in routing order (priority, SLA due, arrival):\n", ws, id);
    store->scan(Cf::kQueue, prefix, [&](std::string_view, std::string_view cid) {
      v1::store::Conversation qc;
      std::string cv;
      if (!store->get(Cf::kConversations, router::keys::scoped(ws, cid), &cv) ||
          !qc.ParseFromString(cv))
        return true;
      fmt::print(
          "{:>4}. {} {} prio {} due {} waiting since {} lang {} skills [{}]{}{}\n", ++pos, cid,
          channel_name(qc.summary().channel()), qc.priority(),
          when(qc.queue_due_ms() >= 9999999999999 ? 0 : qc.queue_due_ms()), when(qc.queued_at_ms()),
          qc.language().empty() ? "-" : qc.language(),
          [&] {
            std::vector<std::string> sk;
            for (const auto& [k, lvl] : qc.skills()) sk.push_back(fmt::format("{}>={}", k, lvl));
            return fmt::format("{}", fmt::join(sk, ","));
          }(),
          qc.overflow_stage() ? fmt::format(" overflow step {}", qc.overflow_stage()) : "",
          qc.summary().queue_id() != id ? " (overflow from " + qc.summary().queue_id() + ")" : "");
      return true;
    });
    if (pos == 0) fmt::print("  (empty)\n");
    return 0;
  }
  if (what == "agent") {
    v1::store::Agent a;
    if (!store->get(Cf::kAgents, router::keys::scoped(ws, id), &v) || !a.ParseFromString(v)) {
      fmt::print(stderr, "no agent state for {}/{}\n", ws, id);
      return 1;
    }
    fmt::print("{}\n{}\nholds:\n", to_json(a),
               a.offline_since_ms() ? "desk offline since " + when(a.offline_since_ms())
                                    : std::string("desk connected (or never seen)"));
    std::map<std::string, int> per_channel;
    const std::string held = router::keys::held_by(ws, id);
    store->scan(Cf::kAgents, held, [&](std::string_view k, std::string_view) {
      const std::string cid(k.substr(held.size()));
      v1::store::Conversation hc;
      std::string cv;
      if (store->get(Cf::kConversations, router::keys::scoped(ws, cid), &cv) &&
          hc.ParseFromString(cv)) {
        fmt::print("  {} {} {}\n", cid, channel_name(hc.summary().channel()),
                   hc.state() == v1::store::CONVERSATION_STATE_OFFERED ? "offered" : "assigned");
        ++per_channel[channel_name(hc.summary().channel())];
      }
      return true;
    });
    fmt::print("load: {}\n",
               per_channel.empty() ? "none" : fmt::format("{}", fmt::join(per_channel, ", ")));
    return 0;
  }
  if (what == "customer") {
    // By id ("U12") or by channel handle ("email:ana@example.com", "sms:+4930...").
    std::string cid = id;
    if (id.find(':') != std::string::npos &&
        store->get(Cf::kCustomers, router::keys::customer_handle(ws, id), &v))
      cid = v;
    auto load_customer = [&](const std::string& c, v1::store::Customer& out) {
      std::string cv;
      return store->get(Cf::kCustomers, router::keys::customer(ws, c), &cv) &&
             out.ParseFromString(cv);
    };
    v1::store::Customer cust;
    if (!load_customer(cid, cust)) {
      fmt::print(stderr, "no customer {}/{}\n", ws, id);
      return 1;
    }
    fmt::print("{}\n", to_json(cust));
    v1::store::Customer root = cust;
    for (int hop = 0; hop < 16 && !root.merged_into().empty(); ++hop) {
      v1::store::Customer up;
      if (!load_customer(root.merged_into(), up)) break;
      root = up;
    }
    if (root.customer_id() != cust.customer_id())
      fmt::print("linked into {} (its profile is shared)\n", root.customer_id());
    // The group, root first, and each member's conversations (newest first).
    std::vector<std::string> group{root.customer_id()};
    for (size_t i = 0; i < group.size() && group.size() < 256; ++i) {
      v1::store::Customer m;
      if (!load_customer(group[i], m)) continue;
      fmt::print(
          "{} {}: handles [{}] identities [{}]{}\n", i == 0 ? "group" : "     ", m.customer_id(),
          fmt::join(m.handles(), ", "), fmt::join(m.identities(), ", "),
          m.claimed().empty() ? "" : fmt::format(" claimed [{}]", fmt::join(m.claimed(), ", ")));
      for (const auto& k : m.linked()) group.push_back(k);
      const std::string prefix = router::keys::customer_conversations(ws, m.customer_id());
      store->scan(Cf::kCustomers, prefix, [&](std::string_view k, std::string_view) {
        const std::string conv_id(k.substr(k.rfind('/') + 1));
        v1::store::Conversation hc;
        std::string cv;
        if (store->get(Cf::kConversations, router::keys::scoped(ws, conv_id), &cv) &&
            hc.ParseFromString(cv))
          fmt::print("      {} {} {} {}{}\n", conv_id, channel_name(hc.summary().channel()),
                     when(hc.summary().created_at_ms()), router::state_name(hc.state()),
                     hc.agent_id().empty() ? "" : " " + hc.agent_id());
        return true;
      });
    }
    return 0;
  }
  v1::store::Conversation conv;
  if (!store->get(Cf::kConversations, router::keys::scoped(ws, id), &v) ||
      !conv.ParseFromString(v)) {
    fmt::print(stderr, "no conversation {}/{}\n", ws, id);
    return 1;
  }
  fmt::print("{}\n", to_json(conv));
  fmt::print("history:\n");
  store->scan(Cf::kMessages, router::keys::messages_of(ws, id),
              [](std::string_view, std::string_view val) {
                v1::ConversationMessage m;
                if (m.ParseFromArray(val.data(), static_cast<int>(val.size())))
                  fmt::print("{}\n", to_json(m));
                return true;
              });
  // The decision trail: every routing decision with its reason and the agents considered.
  fmt::print("decisions:\n");
  store->scan(Cf::kTrail, router::keys::trail_of(ws, id),
              [&](std::string_view, std::string_view val) {
                v1::RoutingEvent e;
                if (!e.ParseFromArray(val.data(), static_cast<int>(val.size()))) return true;
                fmt::print("  {} {}{} {} (priority {}, language {})\n", when(e.at_ms()),
                           v1::RoutingEvent::Kind_Name(e.kind()).substr(5),
                           e.agent_id().empty() ? "" : " " + e.agent_id(), e.reason(), e.priority(),
                           e.language().empty() ? "-" : e.language());
                for (const auto& cand : e.considered())
                  fmt::print("      {} {}: {}\n", cand.eligible() ? "+" : "-", cand.agent_id(),
                             cand.reason());
                return true;
              });
  return 0;
}

}  // namespace omniroute::cli
