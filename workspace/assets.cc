#include "workspace/assets.h"

#include "workspace/web_assets.h"

namespace omniroute::workspace {

namespace {
// Scripts and styles only from this origin; no inline script; pictures in sanitized email
// bodies may only be inline data (no tracking pixels); frames only srcdoc (email bodies).
constexpr const char* kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src 'self' data:; frame-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";
}  // namespace

std::optional<connectors::http::Response> web_asset(const std::string& path) {
  connectors::http::Response r;
  if (path.empty() || path == "index.html") {
    r.content_type = "text/html; charset=utf-8";
    r.body = std::string(web::kIndexHtml);
    r.headers.emplace_back("Cache-Control", "no-store");
  } else if (path == "app.js") {
    r.content_type = "text/javascript; charset=utf-8";
    r.body = std::string(web::kAppJs);
    r.headers.emplace_back("Cache-Control", "no-cache");
  } else if (path == "charts.js") {  // uPlot, loaded by the reports page only
    r.content_type = "text/javascript; charset=utf-8";
    r.body = std::string(web::kChartsJs);
    r.headers.emplace_back("Cache-Control", "no-cache");
  } else if (path == "app.css") {
    r.content_type = "text/css; charset=utf-8";
    r.body = std::string(web::kAppCss);
    r.headers.emplace_back("Cache-Control", "no-cache");
  } else {
    return std::nullopt;
  }
  r.headers.emplace_back("Content-Security-Policy", kPolicy);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  return r;
}

size_t web_script_bytes() {
  return web::kAppJs.size();
}

}  // namespace omniroute::workspace
