// Tagged loggers. Every component logs through a logger named after it
// ("router", "connector/webhook", "kafka"), so each line says who wrote it.
// Message bodies and secrets are never logged at info level or above.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace omniroute::log {

using Logger = std::shared_ptr<spdlog::logger>;

// Returns the logger for `component`, creating it on first use.
Logger get(const std::string& component);

// Sets the level for all loggers: trace, debug, info, warn, error, off.
void set_level(const std::string& level);

// Every log line's message is written through this: control characters become \n, \r,
// \t or \xNN, so bytes a peer chose can never start a forged line.
void escape_into(std::string_view in, spdlog::memory_buf_t& dest);
std::string escaped(std::string_view in);

}  // namespace omniroute::log
