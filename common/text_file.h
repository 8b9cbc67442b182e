// Small text files read whole: keys, secrets, ids. Trailing line breaks are dropped, as an
// editor or `echo` leaves them.
#pragma once

#include <optional>
#include <string>

namespace omniroute {

// The file's text without trailing "\n" and "\r"; nullopt when it cannot be read.
std::optional<std::string> read_trimmed(const std::string& path);

}  // namespace omniroute
