// Offer frames: Accept and Reject (the decisions are the offers part's).
#include "router/frames/frames.h"
#include "router/parts.h"

namespace omniroute::router::frames {

void accept(Parts& p, Store::Batch& b, AgentRt& a, const v1::AgentFrame& f) {
  p.offers.accept(b, a, f.accept());
}

void reject(Parts& p, Store::Batch& b, AgentRt& a, const v1::AgentFrame& f) {
  p.offers.reject(b, a, f.reject());
}

}  // namespace omniroute::router::frames
