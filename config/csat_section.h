// An inbox's `csat:` block: the satisfaction survey sent when one of its conversations is
// resolved. Internal to config/; the type is config::CsatSurvey in config.h.
#pragma once

#include "config/config.h"
#include "config/yaml_reader.h"

namespace omniroute::config {

// Absent = no survey. `inbox` is the inbox's reader, `path` its path for errors.
CsatSurvey parse_csat(MapReader& inbox, const std::string& path, Errors& errors);

}  // namespace omniroute::config
