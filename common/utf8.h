// UTF-8 checks for text that came from outside: protobuf string fields must be valid
// UTF-8 or the event cannot be parsed on the other side of Kafka.
#pragma once

#include <string>
#include <string_view>

namespace omniroute::utf8 {

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool valid(std::string_view s);

// `s` with every ill-formed sequence replaced by U+FFFD.
std::string sanitize(std::string_view s);

// At most `max_bytes` of `s`, cut at a character boundary (`s` is assumed well-formed).
std::string cut(std::string_view s, size_t max_bytes);

}  // namespace omniroute::utf8
