// Customer satisfaction: the survey sent when a conversation is resolved (the inbox's
// `csat` setting) and the customer's answer. Once per conversation, only when a person
// (not a machine) wrote; the connector keeps to its channel's rules (windows, opt-outs)
// and reports a survey it may not send as a failed delivery. The answer is stored on the
// conversation (the latest within the window counts), shown in the history, sent to the
// agent it rates, and counted by analytics (KIND_CSAT on omni.routing).
#pragma once

#include <string>

#include "config/config.h"
#include "omniroute/v1/events.pb.h"
#include "omniroute/v1/store.pb.h"
#include "router/store.h"

namespace omniroute::router {

struct Parts;

class Csat {
 public:
  explicit Csat(Parts& p) : p_(p) {}

  // `c` was just resolved by `agent_id`: the survey, if the inbox asks for one and it is due.
  void on_resolve(Store::Batch& b, v1::store::Conversation& c, const std::string& agent_id);
  // A CsatAnswer from omni.inbound. Refused answers are logged and counted, never stored.
  void answer(Store::Batch& b, const v1::CsatAnswer& a);

  // The text for `language` (primary subtag), else the workspace's default, else any.
  static const std::string* pick(const std::map<std::string, std::string>& texts,
                                 const std::string& language, const std::string& fallback);

 private:
  void thank(Store::Batch& b, v1::store::Conversation& c, const config::CsatSurvey& s,
             const std::string& fallback_language);
  Parts& p_;
};

}  // namespace omniroute::router
