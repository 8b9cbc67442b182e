// /metrics, /livez and /readyz on a front door (connectors/http/server.h). Any process
// with a front door serves them there; `omniroute router` opens one of its own at
// `operations.listen`.
#pragma once

#include <memory>
#include <string>

#include "connectors/http/server.h"

namespace omniroute::ops {

// Adds the three routes to `server` (nothing when it has them already). `metrics_token`
// set: /metrics wants "Authorization: Bearer <token>" (401 otherwise). "" or an error.
std::string serve(connectors::http::Server& server, const std::string& metrics_token);

// Opens `hostport` (or joins the front door already there) and serves the three routes on
// it. nullptr and `err` when the address cannot be bound.
std::shared_ptr<connectors::http::Server> listen(const std::string& hostport,
                                                 const std::string& metrics_token,
                                                 std::string& err);

}  // namespace omniroute::ops
