// The email channel: IMAP in, SMTP out (issue 5). Registered by name "email".
#pragma once

#include "connectors/sdk/connector.h"

namespace omniroute::connectors::email {

sdk::ConnectorFactory factory();

}  // namespace omniroute::connectors::email
