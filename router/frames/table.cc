#include <array>

#include "router/frames/frames.h"
#include "router/parts.h"

namespace omniroute::router::frames {
namespace {

// Frame kinds a desk may send, by the AgentFrame oneof case; the rest are router -> desk.
constexpr size_t kKinds = 40;
constexpr std::array<Handler, kKinds> make_table() {
  std::array<Handler, kKinds> t{};
  t[v1::AgentFrame::kHeartbeat] = heartbeat;
  t[v1::AgentFrame::kPresence] = presence;
  t[v1::AgentFrame::kAccept] = accept;
  t[v1::AgentFrame::kReject] = reject;
  t[v1::AgentFrame::kReply] = reply;
  t[v1::AgentFrame::kResolve] = resolve;
  t[v1::AgentFrame::kTransfer] = transfer;
  t[v1::AgentFrame::kForceAssign] = force_assign;
  t[v1::AgentFrame::kLink] = link;
  t[v1::AgentFrame::kUnlink] = unlink;
  t[v1::AgentFrame::kTyping] = typing;
  t[v1::AgentFrame::kNote] = note;
  t[v1::AgentFrame::kSetLabels] = set_labels;
  t[v1::AgentFrame::kSnooze] = snooze;
  t[v1::AgentFrame::kSaveCanned] = save_canned;
  t[v1::AgentFrame::kDeleteCanned] = delete_canned;
  return t;
}
constexpr std::array<Handler, kKinds> kTable = make_table();

}  // namespace

void apply(Parts& p, Store::Batch& b, const std::string& rid, std::string_view bytes,
           const std::string& peer_key) {
  v1::AgentFrame f;
  if (!f.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    p.desks.error_to(rid, v1::Error::CODE_BAD_FRAME, "undecodable AgentFrame", {});
    return;
  }
  if (f.kind_case() == v1::AgentFrame::kHello) {
    p.desks.on_hello(b, rid, f.hello(), peer_key);
    return;
  }
  AgentRt* a = p.desks.session(rid);
  if (!a) {
    p.desks.error_to(rid, v1::Error::CODE_UNKNOWN_SESSION,
                     "no session for this connection: send Hello", {});
    return;
  }
  a->last_seen_ms = p.clock.now_ms();
  const size_t kind = static_cast<size_t>(f.kind_case());
  if (kind >= kKinds || !kTable[kind]) {
    p.desks.error_to(rid, v1::Error::CODE_INVALID, "frame kind not accepted from a desk", {});
    return;
  }
  kTable[kind](p, b, *a, f);
}

}  // namespace omniroute::router::frames
