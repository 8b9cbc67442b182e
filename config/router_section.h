// The `router:` section and the checks of agent credentials that need the whole config
// (workspaces parsed, keys folder read). Internal to config/.
#pragma once

#include "config/config.h"
#include "config/yaml_reader.h"

namespace omniroute::config {

void parse_router(MapReader& top, Config& c, Errors& errors);

// Fills each agent's curve_public_key from router.agent_keys_dir where the config has
// none, then checks that every agent has the credential router.agent_auth needs (when
// `require`), that keys are well-formed Z85 and that no key belongs to two agents.
void check_agent_credentials(Config& c, Errors& errors, bool require);

// True for endpoints only this machine can reach (tcp://127.x, localhost, [::1], ipc,
// inproc).
bool loopback_endpoint(const std::string& endpoint);

// A 40-character Z85 text (a 32-byte CURVE key).
bool z85_key(const std::string& text);

}  // namespace omniroute::config
