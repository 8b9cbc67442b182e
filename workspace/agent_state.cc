#include "workspace/agent_state.h"

#include "common/ids.h"

namespace omniroute::workspace {

using json = nlohmann::json;

namespace {
std::string str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}
}  // namespace

void AgentState::reply_sent(const std::string& reply_id, const std::string& conversation_id,
                            const std::string& text, const std::string& author) {
  if (pending_replies_.size() >= 1000) pending_replies_.erase(pending_replies_.begin());
  pending_replies_[reply_id] = {
      {"conversation_id", conversation_id},
      {"message", {{"author", "AUTHOR_AGENT"}, {"author_id", author}, {"text_body", text}}}};
}

void AgentState::apply(json& e) {
  const std::string type = str(e, "type");
  if (type == "welcome") {
    offers_.clear();
    conversations_.clear();
    const json& w = e["welcome"];
    for (const auto& a : w.value("open_conversations", json::array()))
      conversations_[str(a["conversation"], "conversation_id")] = a;
    for (const auto& o : w.value("pending_offers", json::array())) offers_[str(o, "offer_id")] = o;
    canned_ = w.value("canned_responses", json::array());
    welcomed_ = true;
  } else if (type == "presence") {
    presence_ = str(e, "presence");
  } else if (type == "router") {
    router_ = str(e, "status");
    if (router_ != "connected") welcomed_ = false;
  } else if (type == "offer") {
    offers_[str(e["offer"], "offer_id")] = e["offer"];
  } else if (type == "offer_withdrawn") {
    offers_.erase(str(e["offer_withdrawn"], "offer_id"));
  } else if (type == "assignment") {
    const json& a = e["assignment"];
    offers_.erase(str(a, "offer_id"));
    conversations_[str(a["conversation"], "conversation_id")] = a;
  } else if (type == "customer_message") {
    const json& m = e["customer_message"];
    auto it = conversations_.find(str(m, "conversation_id"));
    if (it != conversations_.end()) it->second["history"].push_back(m["message"]);
  } else if (type == "reply_ack") {
    const json& a = e["reply_ack"];
    auto p = pending_replies_.find(str(a, "reply_id"));
    auto it = conversations_.find(str(a, "conversation_id"));
    if (p != pending_replies_.end() && it != conversations_.end()) {
      json m = p->second["message"];
      m["outbound_id"] = str(a, "outbound_id");
      if (a.contains("seq")) m["seq"] = a["seq"];
      m["at_ms"] = std::to_string(now_ms());
      e["message"] = m;
      it->second["history"].push_back(std::move(m));
    }
    if (p != pending_replies_.end()) pending_replies_.erase(p);
  } else if (type == "delivery_update") {
    const json& u = e["delivery_update"];
    auto it = conversations_.find(str(u, "conversation_id"));
    if (it == conversations_.end()) return;
    for (auto& m : it->second["history"]) {
      if (str(m, "outbound_id") != str(u, "outbound_id")) continue;
      m["delivery"] = u.value("state", json());
      m["delivery_detail"] = u.value("detail", json());
    }
  } else if (type == "note_added") {
    const json& n = e["note_added"];
    auto it = conversations_.find(str(n, "conversation_id"));
    if (it != conversations_.end()) it->second["history"].push_back(n["message"]);
  } else if (type == "conversation_updated") {
    const json& s = e["conversation_updated"]["conversation"];
    auto it = conversations_.find(str(s, "conversation_id"));
    if (it != conversations_.end()) it->second["conversation"] = s;
  } else if (type == "canned_responses") {
    canned_ = e["canned_responses"].value("responses", json::array());
  } else if (type == "resolved") {
    conversations_.erase(str(e["resolved"], "conversation_id"));
  } else if (type == "conversation_gone") {
    conversations_.erase(str(e["conversation_gone"], "conversation_id"));
  }
}

json AgentState::snapshot() const {
  json offers = json::array(), conversations = json::array();
  for (const auto& [id, o] : offers_) offers.push_back(o);
  for (const auto& [id, a] : conversations_) conversations.push_back(a);
  return {{"offers", std::move(offers)}, {"conversations", std::move(conversations)},
          {"presence", presence_},       {"router", router_},
          {"welcomed", welcomed_},       {"canned", canned_}};
}

}  // namespace omniroute::workspace
