// Customer frames: Link and Unlink. Customers are workspace-scoped by key: an agent can
// only name its workspace's customers.
#include <fmt/format.h>

#include "router/frames/frames.h"
#include "router/parts.h"

namespace omniroute::router::frames {
namespace {

// The answer to Link/Unlink: the refusal, or the event and the group as it is now.
void outcome(Parts& p, Store::Batch& b, const AgentRt& a, const std::string& customer_id,
             const Status& st, v1::RoutingEvent::Kind kind, const std::string& what) {
  if (st) {
    p.desks.refuse(a, {st.code(), "refused: " + st.message()}, customer_id);
    return;
  }
  v1::store::Conversation none;
  none.mutable_summary()->set_workspace_id(a.workspace);
  p.outbox.routing_event(b, none, kind, a.cfg->id, what, {}, customer_id);
  v1::AgentFrame f;
  auto* l = f.mutable_customer_linked();
  l->set_customer_id(customer_id);
  v1::store::Customer root;
  if (p.customers.root(b, a.workspace, customer_id, root)) {
    if (root.customer_id() != customer_id) l->set_root_customer_id(root.customer_id());
    for (auto& id : p.customers.group(b, a.workspace, root.customer_id()))
      l->add_linked_customer_ids(std::move(id));
  }
  p.desks.send(a, std::move(f));
}

}  // namespace

void link(Parts& p, Store::Batch& b, AgentRt& a, const v1::AgentFrame& f) {
  const v1::Link& m = f.link();
  if (m.customer_id().empty() || m.other_customer_id().empty()) {
    p.desks.refuse(a, {Errc::kInvalid, "Link needs customer_id and other_customer_id"},
                   m.customer_id());
    return;
  }
  outcome(p, b, a, m.customer_id(),
          p.customers.link(b, a.workspace, m.customer_id(), m.other_customer_id(), true),
          v1::RoutingEvent::KIND_LINKED,
          fmt::format("agent linked customer {} with {}{}", m.customer_id(), m.other_customer_id(),
                      m.note().empty() ? "" : ": " + m.note()));
}

void unlink(Parts& p, Store::Batch& b, AgentRt& a, const v1::AgentFrame& f) {
  const v1::Unlink& m = f.unlink();
  outcome(p, b, a, m.customer_id(), p.customers.unlink(b, a.workspace, m.customer_id()),
          v1::RoutingEvent::KIND_UNLINKED,
          fmt::format("agent unlinked customer {}", m.customer_id()));
}

}  // namespace omniroute::router::frames
