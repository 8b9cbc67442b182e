// UTF-8 checks for text that came from outside: protobuf string fields must be valid
// UTF-8 or the event cannot be parsed on the other side of Kafka.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace omniroute::utf8 {

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool valid(std::string_view s);

// `s` with every ill-formed sequence replaced by U+FFFD.
std::string sanitize(std::string_view s);

// At most `max_bytes` of `s`, cut at a character boundary (`s` is assumed well-formed).
std::string cut(std::string_view s, size_t max_bytes);

// `s` (well-formed) in parts of at most `max_units` UTF-16 code units each (how Meta and
// Telegram count characters), in order, cut after the last whitespace of a part when
// there is one in its second half, else at a character boundary. Nothing is dropped:
// the parts joined are `s`.
std::vector<std::string> split(std::string_view s, size_t max_units);

}  // namespace omniroute::utf8
