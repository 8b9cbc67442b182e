// The supervisor API over the analytics (behind the agent workspace's sign-in, supervisor
// role, own workspace only): GET api/live, GET api/conversation?id= (facts and decision
// trail) and GET api/reports (JSON, or CSV with format=csv). Query: from, to (Unix ms or
// YYYY-MM-DD, UTC midnight), queue, channel (webhook, sms, ...), inbox, agent, language. Every
// mistake is a 400 that says which.
#pragma once

#include <optional>
#include <string>

#include "analytics/service.h"
#include "connectors/http/server.h"

namespace omniroute::analytics {

// nullopt when `path` is not one of these (the caller answers 404).
std::optional<connectors::http::Response> answer(const Service& svc, const std::string& path,
                                                 const connectors::http::Request& req,
                                                 const std::string& workspace, int64_t now_ms);

}  // namespace omniroute::analytics
