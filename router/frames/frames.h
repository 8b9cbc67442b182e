// Desk frames in: one handler per frame kind, one file per family, found through a table
// indexed by the frame's kind (table.cc). A handler runs inside the engine's step with the
// sender's session; what it refuses goes back as an Error with a typed code.
#pragma once

#include <string>
#include <string_view>

#include "omniroute/v1/agent.pb.h"
#include "router/store.h"

namespace omniroute::router {
struct Parts;
struct AgentRt;
}  // namespace omniroute::router

namespace omniroute::router::frames {

using Handler = void (*)(Parts&, Store::Batch&, AgentRt&, const v1::AgentFrame&);

// Parses `bytes` from the desk at `rid` and runs its handler (Hello opens a session; any
// other frame needs one).
void apply(Parts& p, Store::Batch& b, const std::string& rid, std::string_view bytes,
           const std::string& peer_key);

// session.cc
void heartbeat(Parts&, Store::Batch&, AgentRt&, const v1::AgentFrame&);
void presence(Parts&, Store::Batch&, AgentRt&, const v1::AgentFrame&);
// offers.cc
void accept(Parts&, Store::Batch&, AgentRt&, const v1::AgentFrame&);
void reject(Parts&, Store::Batch&, AgentRt&, const v1::AgentFrame&);
// replies.cc
void reply(Parts&, Store::Batch&, AgentRt&, const v1::AgentFrame&);
void typing(Parts&, Store::Batch&, AgentRt&, const v1::AgentFrame&);
// conversations.cc
void resolve(Parts&, Store::Batch&, AgentRt&, const v1::AgentFrame&);
void transfer(Parts&, Store::Batch&, AgentRt&, const v1::AgentFrame&);
void force_assign(Parts&, Store::Batch&, AgentRt&, const v1::AgentFrame&);
// customers.cc
void link(Parts&, Store::Batch&, AgentRt&, const v1::AgentFrame&);
void unlink(Parts&, Store::Batch&, AgentRt&, const v1::AgentFrame&);
// workbench.cc: what agents keep on conversations (notes, labels, snooze) and their canned
// responses.
void note(Parts&, Store::Batch&, AgentRt&, const v1::AgentFrame&);
void set_labels(Parts&, Store::Batch&, AgentRt&, const v1::AgentFrame&);
void snooze(Parts&, Store::Batch&, AgentRt&, const v1::AgentFrame&);
void save_canned(Parts&, Store::Batch&, AgentRt&, const v1::AgentFrame&);
void delete_canned(Parts&, Store::Batch&, AgentRt&, const v1::AgentFrame&);

}  // namespace omniroute::router::frames
