#include "router/desks.h"

#include "router/parts.h"

namespace omniroute::router {

void Desks::send_to(const std::string& rid, v1::AgentFrame f) {
  frames_.push_back({rid, std::move(f)});
}

void Desks::send(const AgentRt& a, v1::AgentFrame f) {
  if (a.routing_id.empty()) return;  // offline: the desk gets it all on its next Welcome
  send_to(a.routing_id, std::move(f));
}

void Desks::error_to(const std::string& rid, v1::Error::Code code, const std::string& msg,
                     const std::string& ref) {
  v1::AgentFrame f;
  f.mutable_error()->set_code(code);
  f.mutable_error()->set_message(msg);
  f.mutable_error()->set_ref_id(ref);
  send_to(rid, std::move(f));
}

void Desks::refuse(const AgentRt& a, const Status& s, const std::string& ref) {
  error_to(a.routing_id, desk_code(s.code()), s.message(), ref);
}

void Desks::offer_withdrawn(const AgentRt& a, const std::string& offer_id,
                            const std::string& reason) {
  v1::AgentFrame f;
  f.mutable_offer_withdrawn()->set_offer_id(offer_id);
  f.mutable_offer_withdrawn()->set_reason(reason);
  send(a, std::move(f));
}

void Desks::conversation_gone(const AgentRt& a, const std::string& conversation_id,
                              const std::string& reason) {
  v1::AgentFrame f;
  f.mutable_conversation_gone()->set_conversation_id(conversation_id);
  f.mutable_conversation_gone()->set_reason(reason);
  send(a, std::move(f));
}

AgentRt* Desks::session(const std::string& rid) {
  auto it = sessions_.find(rid);
  if (it == sessions_.end()) return nullptr;
  auto& all = p_.agents.all();
  auto a = all.find(it->second);
  return a == all.end() ? nullptr : &a->second;
}

}  // namespace omniroute::router
