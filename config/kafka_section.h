// The `kafka:` section: brokers, topic names, partitions, pass-through client properties.
// Internal to config/.
#pragma once

#include "config/config.h"
#include "config/yaml_reader.h"

namespace omniroute::config {

void parse_kafka(MapReader& top, Config& c, Errors& errors);

}  // namespace omniroute::config
