// The built-in connectors. Adding a channel adds one line here and a folder beside it.
#include <stdexcept>

#include "connectors/chat/chat.h"
#include "connectors/email/email.h"
#include "connectors/sdk/connector.h"
#include "connectors/sms/sms.h"
#include "connectors/social/social.h"
#include "connectors/telegram/telegram.h"
#include "connectors/webhook/webhook.h"

namespace omniroute::sdk {

Registry& builtin_registry() {
  static Registry registry = [] {
    Registry r;
    // clang-format off
    for (auto* make : {
             &connectors::webhook::factory,
             &connectors::email::factory,
             &connectors::sms::factory,
             &connectors::social::messenger_factory,
             &connectors::social::instagram_factory,
             &connectors::social::whatsapp_factory,
             &connectors::telegram::factory,
             &connectors::chat::factory,
         }) {
      // clang-format on
      if (auto err = r.add(make()); !err.empty()) throw std::logic_error(err);
    }
    return r;
  }();
  return registry;
}

}  // namespace omniroute::sdk
