// Canned responses, stored by the router (meta family, keys::canned): workspace-wide and
// per-queue ones managed by supervisors, personal ones by their agent. Every desk gets the
// ones its agent may use in Welcome and again (CannedResponses) after any change in its
// workspace. A workspace's set is read from the store once and kept in memory.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "omniroute/v1/agent.pb.h"
#include "router/errors.h"
#include "router/store.h"

namespace omniroute::router {

struct Parts;
struct AgentRt;

class Canned {
 public:
  explicit Canned(Parts& p) : p_(p) {}
  // What `a` may use.
  std::vector<v1::CannedResponse> visible(const AgentRt& a);
  Status save(Store::Batch& b, AgentRt& a, v1::CannedResponse r);
  Status remove(Store::Batch& b, AgentRt& a, const std::string& id);

 private:
  std::map<std::string, v1::CannedResponse>& of(const std::string& ws);
  bool may_use(const AgentRt& a, const v1::CannedResponse& r) const;
  Status may_manage(const AgentRt& a, const v1::CannedResponse& r) const;
  // CannedResponses to every connected desk of the workspace.
  void push(const std::string& ws);
  Parts& p_;
  std::map<std::string, std::map<std::string, v1::CannedResponse>> by_ws_;
};

}  // namespace omniroute::router
