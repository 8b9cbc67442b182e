#include "router/identity.h"

#include <fmt/format.h>

#include "router/parts.h"

namespace omniroute::router {

Who Identity::resolve(Store::Batch& b, const v1::InboundMessage& m, const config::Inbox& inbox,
                      int64_t now) {
  const std::string& ws = m.workspace_id();
  Who who{p_.customers.resolve(
              b, ws, fmt::format("{}:{}", channel_name(inbox.channel), m.customer_handle()), now,
              [&] { return fmt::format("U{}", p_.outbox.next_seq(b, "customer")); }),
          {}};
  auto observe = [&](const v1::Identity& id) {
    bool linked = false;
    std::string what = p_.customers.observe(b, ws, who.customer, id, &linked);
    if (linked)
      who.link_notes.push_back(std::move(what));
    else if (!what.empty())
      p_.log->debug("{}: {}", ws, what);
  };
  // The handle is itself an identity where the channel's handles are email addresses or
  // phone numbers (declared by the connector, filled in by its host: handle_kind).
  const v1::Identity::Kind own_kind = m.handle_kind();
  if (own_kind != v1::Identity::KIND_UNSPECIFIED) {
    v1::Identity own;
    own.set_verified(!m.handle_unverified());
    own.set_value(m.customer_handle());
    own.set_kind(own_kind);
    observe(own);
  }
  int n = 0;
  for (const auto& id : m.identities())
    if (++n <= Customers::kMaxIdentities) observe(id);
  update_profile(b, who.customer.root, m);
  return who;
}

void Identity::update_profile(Store::Batch& b, v1::store::Customer& customer,
                              const v1::InboundMessage& m) {
  bool changed = false;
  if (!m.customer_display_name().empty() && m.customer_display_name() != customer.display_name()) {
    customer.set_display_name(m.customer_display_name());
    changed = true;
  }
  if (!m.language().empty() && config::primary_language(m.language()) != customer.language()) {
    customer.set_language(config::primary_language(m.language()));
    changed = true;
  }
  for (const auto& [k, val] : m.customer_attributes()) {
    auto it = customer.attributes().find(k);
    if (customer.attributes_size() >= 64 && it == customer.attributes().end()) break;
    if (it == customer.attributes().end() || it->second != val) {
      (*customer.mutable_attributes())[k.substr(0, 64)] = val.substr(0, 256);
      changed = true;
    }
  }
  if (changed) p_.customers.save(b, customer);
}

}  // namespace omniroute::router
