// Session frames: Heartbeat (liveness only) and PresenceUpdate.
#include "router/frames/frames.h"
#include "router/parts.h"

namespace omniroute::router::frames {

void heartbeat(Parts&, Store::Batch&, AgentRt&, const v1::AgentFrame&) {
  // Receiving it was the point: last_seen_ms is set for every frame.
}

void presence(Parts& p, Store::Batch& b, AgentRt& a, const v1::AgentFrame& f) {
  const v1::Presence pr = f.presence().presence();
  if (pr == v1::PRESENCE_OFFLINE) {
    p.desks.gone(b, a, "desk signed off");
    return;
  }
  if (pr != v1::PRESENCE_AVAILABLE && pr != v1::PRESENCE_AWAY) {
    p.desks.refuse(a, {Errc::kInvalid, "unknown presence"}, {});
    return;
  }
  p.log->info("{}/{} presence {}", a.workspace, a.cfg->id, v1::Presence_Name(pr));
  a.presence = pr;
  p.outbox.presence_event(b, a);
  if (a.online()) p.dispatch.agent_queues(b, a);
}

}  // namespace omniroute::router::frames
