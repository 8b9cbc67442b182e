// The `agent_workspace:` section: the web workspace for people (agents, supervisors).
// Where it listens, how sign-in sessions behave, and the accounts: a login mapped to one
// agent of one workspace with an argon2id password hash (`omniroute passwd`). Internal to
// config/; the types are in config.h.
#pragma once

#include "config/config.h"
#include "config/yaml_reader.h"

namespace omniroute::config {

// Parses the section (absent = the workspace is off) and checks every account against the
// workspaces already parsed.
void parse_agent_workspace(MapReader& top, Config& c, Errors& errors);

}  // namespace omniroute::config
