#include "router/canned.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/ids.h"
#include "router/keys.h"
#include "router/parts.h"

namespace omniroute::router {

namespace {

constexpr size_t kMaxPerWorkspace = 2000;
constexpr size_t kMaxPersonal = 200;
constexpr size_t kMaxTexts = 20;
constexpr size_t kMaxText = 16 * 1024;

bool shortcode_ok(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-'; });
}

Status check(const v1::CannedResponse& r) {
  if (!shortcode_ok(r.shortcode()))
    return {Errc::kInvalid, "shortcode: 1 to 64 letters, digits, '_' or '-'"};
  if (r.canned_id().size() > 128) return {Errc::kInvalid, "canned_id over 128 bytes"};
  if (r.texts_size() == 0 || static_cast<size_t>(r.texts_size()) > kMaxTexts)
    return {Errc::kInvalid, "1 to 20 texts, one per language"};
  std::vector<std::string> langs;
  for (const auto& t : r.texts()) {
    if (t.text().empty() || t.text().size() > kMaxText)
      return {Errc::kInvalid, "each text: 1 byte to 16 KiB"};
    if (t.language().size() > 16) return {Errc::kInvalid, "language over 16 bytes"};
    if (std::find(langs.begin(), langs.end(), t.language()) != langs.end())
      return {Errc::kInvalid, fmt::format("two texts for language '{}'", t.language())};
    langs.push_back(t.language());
  }
  return {};
}

}  // namespace

std::map<std::string, v1::CannedResponse>& Canned::of(const std::string& ws) {
  auto [it, fresh] = by_ws_.try_emplace(ws);
  if (fresh)
    p_.store.scan(Cf::kMeta, keys::canned_of(ws), [&](std::string_view, std::string_view v) {
      v1::CannedResponse r;
      if (r.ParseFromArray(v.data(), static_cast<int>(v.size())))
        it->second[r.canned_id()] = std::move(r);
      return true;
    });
  return it->second;
}

bool Canned::may_use(const AgentRt& a, const v1::CannedResponse& r) const {
  switch (r.scope()) {
    case v1::CannedResponse::SCOPE_WORKSPACE:
      return true;
    case v1::CannedResponse::SCOPE_QUEUE: {
      const auto& q = a.cfg->queues;
      return std::find(q.begin(), q.end(), r.queue_id()) != q.end();
    }
    case v1::CannedResponse::SCOPE_PERSONAL:
      return r.owner_agent_id() == a.cfg->id;
    default:
      return false;
  }
}

Status Canned::may_manage(const AgentRt& a, const v1::CannedResponse& r) const {
  if (r.scope() == v1::CannedResponse::SCOPE_PERSONAL) {
    if (r.owner_agent_id() != a.cfg->id)
      return {Errc::kConflict, "another agent's personal canned response"};
    return {};
  }
  if (!a.cfg->supervisor)
    return {Errc::kConflict, "only supervisors manage workspace and queue canned responses"};
  return {};
}

std::vector<v1::CannedResponse> Canned::visible(const AgentRt& a) {
  std::vector<v1::CannedResponse> out;
  for (const auto& [id, r] : of(a.workspace))
    if (may_use(a, r)) out.push_back(r);
  return out;
}

Status Canned::save(Store::Batch& b, AgentRt& a, v1::CannedResponse r) {
  if (Status bad = check(r)) return bad;
  if (r.scope() == v1::CannedResponse::SCOPE_PERSONAL)
    r.set_owner_agent_id(a.cfg->id);
  else
    r.clear_owner_agent_id();
  if (r.scope() == v1::CannedResponse::SCOPE_QUEUE) {
    if (!p_.cfg->workspace(a.workspace)->queue(r.queue_id()))
      return {Errc::kInvalid, "no such queue in this workspace"};
  } else if (r.scope() == v1::CannedResponse::SCOPE_WORKSPACE ||
             r.scope() == v1::CannedResponse::SCOPE_PERSONAL) {
    r.clear_queue_id();
  } else {
    return {Errc::kInvalid, "scope must be workspace, queue or personal"};
  }
  if (Status no = may_manage(a, r)) return no;
  auto& all = of(a.workspace);
  if (r.canned_id().empty()) r.set_canned_id(new_uuid());
  auto old = all.find(r.canned_id());
  if (old != all.end()) {
    if (Status no = may_manage(a, old->second)) return no;
  } else {
    if (all.size() >= kMaxPerWorkspace)
      return {Errc::kConflict, "the workspace has 2,000 canned responses already"};
    size_t mine = 0;
    for (const auto& [id, x] : all) mine += x.owner_agent_id() == a.cfg->id;
    if (r.scope() == v1::CannedResponse::SCOPE_PERSONAL && mine >= kMaxPersonal)
      return {Errc::kConflict, "200 personal canned responses already"};
  }
  // One shortcode per audience: the same code twice in reach of one agent is ambiguous.
  for (const auto& [id, x] : all)
    if (id != r.canned_id() && x.shortcode() == r.shortcode() && x.scope() == r.scope() &&
        x.queue_id() == r.queue_id() && x.owner_agent_id() == r.owner_agent_id())
      return {Errc::kConflict, fmt::format("shortcode '{}' is taken", r.shortcode())};
  r.set_updated_at_ms(p_.clock.now_ms());
  r.set_updated_by(a.cfg->id);
  b.put(Cf::kMeta, keys::canned(a.workspace, r.canned_id()), r.SerializeAsString());
  p_.log->info("{}: canned response /{} saved by {}", a.workspace, r.shortcode(), a.cfg->id);
  all[r.canned_id()] = std::move(r);
  push(a.workspace);
  return {};
}

Status Canned::remove(Store::Batch& b, AgentRt& a, const std::string& id) {
  auto& all = of(a.workspace);
  auto it = all.find(id);
  if (it == all.end()) return {Errc::kNotFound, "no such canned response"};
  if (Status no = may_manage(a, it->second)) return no;
  b.del(Cf::kMeta, keys::canned(a.workspace, id));
  p_.log->info("{}: canned response /{} deleted by {}", a.workspace, it->second.shortcode(),
               a.cfg->id);
  all.erase(it);
  push(a.workspace);
  return {};
}

void Canned::push(const std::string& ws) {
  for (auto& [key, a] : p_.agents.all()) {
    if (a.workspace != ws || a.routing_id.empty()) continue;
    v1::AgentFrame f;
    auto* list = f.mutable_canned_responses();  // set even when empty: "none any more"
    for (auto& r : visible(a)) *list->add_responses() = std::move(r);
    p_.desks.send(a, std::move(f));
  }
}

}  // namespace omniroute::router
