// Tagged loggers. Every component logs through a logger named after it
// ("router", "connector/webhook", "kafka"), so each line says who wrote it.
// Message bodies and secrets are never logged at info level or above.
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace omniroute::log {

using Logger = std::shared_ptr<spdlog::logger>;

// Returns the logger for `component`, creating it on first use.
Logger get(const std::string& component);

// Sets the level for all loggers: trace, debug, info, warn, error, off.
void set_level(const std::string& level);

}  // namespace omniroute::log
