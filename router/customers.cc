#include "router/customers.h"

#include <algorithm>

#include <fmt/format.h>

#include "router/keys.h"

namespace omniroute::router {

namespace {

constexpr int64_t kMaxMs = 9999999999999;  // 13 digits: newest first in ascending key order
constexpr int kMaxUnlinked = 64;

bool contains(const google::protobuf::RepeatedPtrField<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

void remove(google::protobuf::RepeatedPtrField<std::string>* list, const std::string& s) {
  auto it = std::remove(list->begin(), list->end(), s);
  list->erase(it, list->end());
}

// Adds `s` to a bounded list (the oldest entry makes room). False if it was there.
bool add_bounded(google::protobuf::RepeatedPtrField<std::string>* list, const std::string& s,
                 int max) {
  if (contains(*list, s)) return false;
  if (list->size() >= max) list->erase(list->begin());
  list->Add()->assign(s);
  return true;
}

}  // namespace

std::string identity_key(const v1::Identity& id) {
  if (id.value().empty() || id.value().size() > 320) return "";
  for (unsigned char ch : id.value())
    if (ch < 0x21 || ch == 0x7f) return "";  // no spaces or controls inside a key
  switch (id.kind()) {
    case v1::Identity::KIND_EMAIL: {
      if (id.value().find('@') == std::string::npos) return "";
      std::string v = id.value();
      std::transform(v.begin(), v.end(), v.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      return "email:" + v;
    }
    case v1::Identity::KIND_PHONE:
      if (id.value()[0] != '+' || id.value().size() < 4 || id.value().size() > 16) return "";
      if (!std::all_of(id.value().begin() + 1, id.value().end(),
                       [](unsigned char ch) { return std::isdigit(ch); }))
        return "";
      return "phone:" + id.value();
    default:
      return "";
  }
}

std::string Customers::handle_key(const std::string& ws, const std::string& handle) {
  return keys::customer_handle(ws, handle);
}

std::string Customers::record_key(const std::string& ws, const std::string& id) {
  return keys::customer(ws, id);
}

bool Customers::load(Store::Batch& b, const std::string& ws, const std::string& id,
                     v1::store::Customer& out) {
  std::string v;
  return !id.empty() && b.get(Cf::kCustomers, record_key(ws, id), &v) && out.ParseFromString(v);
}

void Customers::save(Store::Batch& b, const v1::store::Customer& c) {
  b.put(Cf::kCustomers, record_key(c.workspace_id(), c.customer_id()), c.SerializeAsString());
}

bool Customers::root(Store::Batch& b, const std::string& ws, const std::string& id,
                     v1::store::Customer& out) {
  if (!load(b, ws, id, out)) return false;
  for (int hop = 0; hop <= kMaxDepth && !out.merged_into().empty(); ++hop) {
    v1::store::Customer up;
    if (!load(b, ws, out.merged_into(), up)) break;  // a dangling link: stop at the last one
    out = std::move(up);
  }
  return true;
}

Customers::Resolved Customers::resolve(Store::Batch& b, const std::string& ws,
                                       const std::string& handle, int64_t now,
                                       const std::function<std::string()>& new_id) {
  Resolved r;
  std::string v;
  const std::string hk = handle_key(ws, handle);
  if (!(b.get(Cf::kCustomers, hk, &v) && load(b, ws, v, r.direct))) {
    r.direct.Clear();
    r.direct.set_customer_id(new_id());
    r.direct.set_workspace_id(ws);
    r.direct.add_handles(handle);
    r.direct.set_created_at_ms(now);
    r.created = true;
    b.put(Cf::kCustomers, hk, r.direct.customer_id());
    save(b, r.direct);
  }
  if (r.direct.merged_into().empty() || !root(b, ws, r.direct.customer_id(), r.root))
    r.root = r.direct;
  return r;
}

std::string Customers::observe(Store::Batch& b, const std::string& ws, Resolved& r,
                               const v1::Identity& identity, bool* linked) {
  *linked = false;
  const std::string key = identity_key(identity);
  if (key.empty()) return "";
  const bool same = r.direct.customer_id() == r.root.customer_id();
  if (!identity.verified()) {
    if (contains(r.direct.identities(), key)) return "";
    if (add_bounded(r.direct.mutable_claimed(), key, kMaxIdentities)) {
      save(b, r.direct);
      if (same) r.root = r.direct;
    }
    return "";
  }
  if (add_bounded(r.direct.mutable_identities(), key, kMaxIdentities)) {
    remove(r.direct.mutable_claimed(), key);
    save(b, r.direct);
    if (same) r.root = r.direct;
  }
  const std::string ik = keys::customer_identity(ws, key);
  std::string owner;
  v1::store::Customer owner_root;
  if (!b.get(Cf::kCustomers, ik, &owner) || !root(b, ws, owner, owner_root)) {
    b.put(Cf::kCustomers, ik, r.direct.customer_id());
    return "";
  }
  if (owner == r.direct.customer_id() || owner_root.customer_id() == r.root.customer_id())
    return "";
  if (Status refused = link(b, ws, r.root.customer_id(), owner_root.customer_id(), false))
    return fmt::format("not linked with {} (same verified {}): {}", owner_root.customer_id(), key,
                       refused.message());
  *linked = true;
  load(b, ws, r.direct.customer_id(), r.direct);
  root(b, ws, r.direct.customer_id(), r.root);
  return fmt::format("customer {} linked with {} (same verified {})", r.direct.customer_id(),
                     r.root.customer_id(), key);
}

int Customers::depth_below(Store::Batch& b, const std::string& ws, const std::string& id,
                           int limit) {
  if (limit <= 0) return 0;
  v1::store::Customer c;
  if (!load(b, ws, id, c)) return 0;
  int d = 0;
  for (const auto& child : c.linked()) d = std::max(d, 1 + depth_below(b, ws, child, limit - 1));
  return d;
}

std::vector<std::string> Customers::group(Store::Batch& b, const std::string& ws,
                                          const std::string& root_id) {
  std::vector<std::string> out{root_id};
  for (size_t i = 0; i < out.size() && out.size() < 2 * kMaxGroup; ++i) {
    v1::store::Customer c;
    if (!load(b, ws, out[i], c)) continue;
    for (const auto& child : c.linked())
      if (std::find(out.begin(), out.end(), child) == out.end()) out.push_back(child);
  }
  return out;
}

Status Customers::link(Store::Batch& b, const std::string& ws, const std::string& id,
                       const std::string& into, bool by_agent) {
  v1::store::Customer a, t, ar, tr;
  if (!load(b, ws, id, a)) return {Errc::kNotFound, "unknown customer '" + id + "'"};
  if (!load(b, ws, into, t)) return {Errc::kNotFound, "unknown customer '" + into + "'"};
  root(b, ws, id, ar);
  root(b, ws, into, tr);
  if (ar.customer_id() == tr.customer_id()) return {Errc::kConflict, "already linked"};
  const std::vector<std::string> xs{a.customer_id(), ar.customer_id()};
  const std::vector<std::string> ys{t.customer_id(), tr.customer_id()};
  bool separated = false;
  for (const auto& x : xs) {
    for (const auto& y : ys) {
      v1::store::Customer cx, cy;
      if (!load(b, ws, x, cx) || !load(b, ws, y, cy)) continue;
      const bool hit = contains(cx.unlinked(), y) || contains(cy.unlinked(), x);
      if (!hit) continue;
      separated = true;
      if (!by_agent) continue;
      // An agent linking them again overrides the earlier separation.
      remove(cx.mutable_unlinked(), y);
      remove(cy.mutable_unlinked(), x);
      save(b, cx);
      save(b, cy);
    }
  }
  if (separated && !by_agent) return {Errc::kConflict, "an agent separated them before"};
  const auto ga = group(b, ws, ar.customer_id()), gt = group(b, ws, tr.customer_id());
  if (ga.size() + gt.size() > static_cast<size_t>(kMaxGroup))
    return {Errc::kConflict, fmt::format("a group holds at most {} customers", kMaxGroup)};
  if (1 + depth_below(b, ws, ar.customer_id(), kMaxDepth + 1) > kMaxDepth)
    return {Errc::kConflict, fmt::format("links nest at most {} deep", kMaxDepth)};
  // Fresh copies: the separation cleanup above may have rewritten them.
  load(b, ws, ar.customer_id(), ar);
  load(b, ws, tr.customer_id(), tr);
  ar.set_merged_into(tr.customer_id());
  tr.add_linked(ar.customer_id());
  // The shared profile: the root's values win, the newer service decides stickiness.
  for (const auto& [k, v] : ar.attributes())
    if (!tr.attributes().contains(k) && tr.attributes_size() < 64)
      (*tr.mutable_attributes())[k] = v;
  if (tr.language().empty()) tr.set_language(ar.language());
  if (tr.display_name().empty()) tr.set_display_name(ar.display_name());
  if (ar.last_served_ms() > tr.last_served_ms()) {
    tr.set_last_agent_id(ar.last_agent_id());
    tr.set_last_served_ms(ar.last_served_ms());
  }
  save(b, ar);
  save(b, tr);
  return {};
}

Status Customers::unlink(Store::Batch& b, const std::string& ws, const std::string& id) {
  v1::store::Customer x, p;
  if (!load(b, ws, id, x)) return {Errc::kNotFound, "unknown customer '" + id + "'"};
  if (x.merged_into().empty()) {
    if (x.linked().empty()) return {Errc::kConflict, "customer " + id + " is not linked"};
    return {Errc::kConflict, fmt::format("customer {} is the root of its group: unlink {} instead",
                                         id, fmt::join(x.linked(), " or "))};
  }
  if (!load(b, ws, x.merged_into(), p)) {
    x.clear_merged_into();
    save(b, x);
    return {};
  }
  v1::store::Customer r;
  root(b, ws, p.customer_id(), r);
  remove(p.mutable_linked(), x.customer_id());
  x.clear_merged_into();
  add_bounded(x.mutable_unlinked(), p.customer_id(), kMaxUnlinked);
  add_bounded(x.mutable_unlinked(), r.customer_id(), kMaxUnlinked);
  add_bounded(p.mutable_unlinked(), x.customer_id(), kMaxUnlinked);
  save(b, x);
  save(b, p);
  if (r.customer_id() != p.customer_id()) {
    load(b, ws, r.customer_id(), r);
    add_bounded(r.mutable_unlinked(), x.customer_id(), kMaxUnlinked);
    save(b, r);
  }
  return {};
}

void Customers::add_conversation(Store::Batch& b, const std::string& ws,
                                 const std::string& customer_id, int64_t created_ms,
                                 const std::string& conversation_id) {
  b.put(Cf::kCustomers,
        keys::customer_conversation(
            ws, customer_id, kMaxMs - std::clamp<int64_t>(created_ms, 0, kMaxMs), conversation_id),
        "");
}

std::vector<std::string> Customers::conversations(const std::string& ws,
                                                  const std::vector<std::string>& customer_ids,
                                                  size_t limit) {
  std::vector<std::pair<std::string, std::string>> found;  // (inverted time, conversation)
  for (const auto& id : customer_ids) {
    const std::string prefix = keys::customer_conversations(ws, id);
    size_t n = 0;
    store_.scan(Cf::kCustomers, prefix, [&](std::string_view k, std::string_view) {
      std::string_view rest = k.substr(prefix.size());
      const size_t slash = rest.find('/');
      if (slash == std::string_view::npos) return true;
      found.emplace_back(std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1)));
      return ++n < limit;
    });
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [t, c] : found) {
    if (out.size() >= limit) break;
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace omniroute::router
