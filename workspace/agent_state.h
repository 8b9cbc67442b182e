// What one agent's browser tabs show, kept by the gateway from the agent protocol's frames:
// the pending offers and the open conversations with their history (customer messages,
// the agent's acknowledged replies, delivery states). A tab too far behind the event log
// gets this whole state instead of the events it missed.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace omniroute::workspace {

class AgentState {
 public:
  // Applies one event ({"type": ..., <payload>}) as the gateway publishes it. A reply_ack
  // gains the acknowledged reply as "message", so every tab can show it.
  void apply(nlohmann::json& event);
  // A reply the agent sent, shown once the router acknowledged it.
  void reply_sent(const std::string& reply_id, const std::string& conversation_id,
                  const std::string& text, const std::string& author);
  // {"offers": [...], "conversations": [...], "presence": ...}
  nlohmann::json snapshot() const;

 private:
  std::map<std::string, nlohmann::json> offers_;           // offer id -> Offer
  std::map<std::string, nlohmann::json> conversations_;    // conversation id -> Assignment
  std::map<std::string, nlohmann::json> pending_replies_;  // reply id -> message
  std::string presence_ = "away";
  std::string router_ = "unreachable";  // the gateway's session with the router
  bool welcomed_ = false;               // the router's picture (its Welcome) is in this state
  nlohmann::json canned_ = nlohmann::json::array();
};

}  // namespace omniroute::workspace
