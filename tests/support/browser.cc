#include "tests/support/browser.h"

#include <fstream>

#include <fmt/format.h>
#include <openssl/evp.h>

#include "connectors/http/client.h"
#include "tests/support/support.h"

namespace omniroute::testing {

using json = nlohmann::json;

Browser::Browser(const std::string& profile_dir) {
  // A loaded machine (sanitized test processes, other browsers starting) can make the
  // driver slow to listen or the browser slow to start: a few attempts, each on a new port.
  for (int attempt = 0; attempt < 3 && session_.empty(); ++attempt) {
    if (driver_) driver_->stop(15);
    port_ = free_port();
    driver_ = std::make_unique<ChildProcess>(
        "/usr/bin/chromedriver", std::vector<std::string>{fmt::format("--port={}", port_)});
    driver_->start();
    if (!wait_until([&] { return port_open(port_); }, std::chrono::seconds(60))) {
      error_ = fmt::format("chromedriver did not listen on port {} within 60 s", port_);
      continue;
    }
    start_session(profile_dir);
  }
  if (!session_.empty()) error_.clear();
}

void Browser::start_session(const std::string& profile_dir) {
  json caps = {{"capabilities",
                {{"alwaysMatch",
                  {{"browserName", "chrome"},
                   {"goog:chromeOptions",
                    {{"binary", "/usr/bin/chromium"},
                     {"args",
                      {"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                       "--disable-quic", "--no-first-run", "--disable-background-networking",
                       "--disable-component-update", "--disable-sync", "--window-size=1280,860",
                       "--autoplay-policy=no-user-gesture-required",
                       "--user-data-dir=" + profile_dir}}}}}}}}};
  json r = call("POST", "/session", caps);
  if (r.contains("value") && r["value"].contains("sessionId"))
    session_ = r["value"]["sessionId"];
  else
    error_ = r.is_discarded() ? "chromedriver gave no JSON answer" : r.dump().substr(0, 2000);
}

Browser::~Browser() {
  if (!session_.empty()) call("DELETE", "/session/" + session_, nullptr);
  driver_->stop(15);
}

void Browser::go(const std::string& url) {
  call("POST", path("/url"), {{"url", url}});
}
void Browser::refresh() {
  call("POST", path("/refresh"), json::object());
}

std::string Browser::find(const std::string& css) {
  json r = call("POST", path("/element"), {{"using", "css selector"}, {"value", css}});
  if (!r.contains("value") || !r["value"].is_object()) return {};
  for (auto& [k, v] : r["value"].items())
    if (k.rfind("element-", 0) == 0) return v.get<std::string>();
  return {};
}

void Browser::click(const std::string& css) {
  call("POST", path("/element/" + find(css) + "/click"), json::object());
}

void Browser::type(const std::string& css, const std::string& text) {
  call("POST", path("/element/" + find(css) + "/value"), {{"text", text}});
}

void Browser::keys(const std::string& text) {
  json actions = json::array();
  // Split into UTF-8 code points: one keyDown/keyUp pair each.
  for (size_t i = 0; i < text.size();) {
    size_t n = 1;
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0xF0)
      n = 4;
    else if (c >= 0xE0)
      n = 3;
    else if (c >= 0xC0)
      n = 2;
    const std::string key = text.substr(i, n);
    actions.push_back({{"type", "keyDown"}, {"value", key}});
    actions.push_back({{"type", "keyUp"}, {"value", key}});
    i += n;
  }
  call("POST", path("/actions"),
       {{"actions", json::array({{{"type", "key"}, {"id", "keyboard"}, {"actions", actions}}})}});
}

void Browser::chord(const std::string& modifier, const std::string& key) {
  json actions = json::array({{{"type", "keyDown"}, {"value", modifier}},
                              {{"type", "keyDown"}, {"value", key}},
                              {{"type", "keyUp"}, {"value", key}},
                              {{"type", "keyUp"}, {"value", modifier}}});
  call("POST", path("/actions"),
       {{"actions", json::array({{{"type", "key"}, {"id", "keyboard"}, {"actions", actions}}})}});
}

void Browser::delete_cookies() {
  call("DELETE", path("/cookie"), nullptr);
}

bool Browser::screenshot(const std::string& file) {
  json r = call("GET", path("/screenshot"), nullptr);
  if (!r.contains("value") || !r["value"].is_string()) {
    error_ = r.dump().substr(0, 2000);
    return false;
  }
  const std::string b64 = r["value"];
  std::string png(b64.size() / 4 * 3 + 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(png.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
  if (n <= 0) return false;
  size_t pad = 0;
  while (pad < 2 && pad < b64.size() && b64[b64.size() - 1 - pad] == '=') ++pad;
  png.resize(static_cast<size_t>(n) - pad);
  std::ofstream out(file, std::ios::binary);
  out << png;
  return static_cast<bool>(out);
}

json Browser::run(const std::string& script) {
  json r = call("POST", path("/execute/sync"), {{"script", script}, {"args", json::array()}});
  return r.contains("value") ? r["value"] : json();
}

json Browser::call(const std::string& method, const std::string& p, const json& body) {
  connectors::http::ClientRequest r;
  r.method = method;
  r.url = fmt::format("http://127.0.0.1:{}{}", port_, p);
  r.headers = {"Content-Type: application/json"};
  if (!body.is_null()) r.body = body.dump();
  r.timeout_ms = 60000;
  r.max_response_bytes = 64 << 20;  // screenshots
  auto res = connectors::http::send(r);
  return json::parse(res.body, nullptr, false);
}

}  // namespace omniroute::testing
