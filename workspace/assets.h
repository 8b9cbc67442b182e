// The workspace's web front end (workspace/web/, bundled at build time and compiled in):
// the page, its script and its style, with the headers that keep customer content inert.
#pragma once

#include <optional>
#include <string>

#include "connectors/http/server.h"

namespace omniroute::workspace {

// The asset at `path` (relative to /agent/: "", "index.html", "app.js", "app.css"), or none.
std::optional<connectors::http::Response> web_asset(const std::string& path);

// Size of the bundled script in bytes (reported by the bench).
size_t web_script_bytes();

}  // namespace omniroute::workspace
