// Identifiers and time.
#pragma once

#include <cstdint>
#include <string>

namespace omniroute {

// Random RFC 4122 version-4 UUID, lower-case hex with dashes.
std::string new_uuid();

// Wall clock, Unix milliseconds.
int64_t now_ms();

// Monotonic clock, milliseconds since an arbitrary point.
int64_t steady_ms();

}  // namespace omniroute
