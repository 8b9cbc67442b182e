// `omniroute up --demo`: callback receivers stand in for the integrator, scripted desks
// for the agents, and signed POSTs for customers; the run passes only if every message
// was answered and every answer delivered.
#pragma once

#include <memory>
#include <vector>

#include "cli/stack.h"
#include "connectors/webhook/callback_receiver.h"

namespace omniroute::cli {

class Demo {
 public:
  // Points every webhook inbox's callback_url at a local receiver; call before start.
  explicit Demo(config::Config& cfg);
  int run(Stack& stack, int messages, int timeout_s);

 private:
  struct Inbox {
    std::string workspace, inbox, secret;
    std::unique_ptr<connectors::webhook::CallbackReceiver> receiver;
  };
  std::vector<Inbox> inboxes_;
};

}  // namespace omniroute::cli
