// The providers' APIs on loopback (tests/connectors/fake_providers.py): Twilio (with
// signed status callbacks), Meta Graph API, Telegram Bot API. Stopped with the object.
#pragma once

#include <memory>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/child_process.h"
#include "connectors/http/client.h"
#include "tests/support/mail_servers.h"
#include "tests/support/support.h"

namespace omniroute::testing {

class FakeProviders {
 public:
  FakeProviders() : port_(free_port()) {
    server_ = std::make_unique<ChildProcess>(
        OMNIROUTE_PYTHON3, std::vector<std::string>{std::string(OMNIROUTE_SOURCE_DIR) +
                                                        "/tests/connectors/fake_providers.py",
                                                    std::to_string(port_)});
    server_->start();
    wait_until([&] { return port_open(port_); });
  }
  ~FakeProviders() { server_->stop(9); }

  std::string url() const { return fmt::format("http://127.0.0.1:{}", port_); }

  // Every API request so far: [{path, auth, body}], body a JSON value or [[k, v], ...].
  nlohmann::json requests() const {
    connectors::http::ClientRequest r;
    r.method = "GET";
    r.url = url() + "/_control/requests";
    auto res = connectors::http::send(r);
    return nlohmann::json::parse(res.body, nullptr, false);
  }
  // The next `count` requests whose path starts with `prefix` get `status` and `body`.
  void fail(const std::string& prefix, int status, int count, nlohmann::json body = {},
            const std::string& retry_after = "") {
    control("/_control/fail", {{"prefix", prefix},
                               {"status", status},
                               {"count", count},
                               {"body", body.is_null() ? nlohmann::json::object() : body},
                               {"retry_after", retry_after}});
  }
  // Status callbacks Twilio sends after accepting a message: [[status, error code], ...].
  void statuses(const nlohmann::json& list) { control("/_control/statuses", {{"statuses", list}}); }

 private:
  void control(const std::string& path, const nlohmann::json& body) {
    connectors::http::ClientRequest r;
    r.url = url() + path;
    r.headers = {"Content-Type: application/json"};
    r.body = body.dump();
    connectors::http::send(r);
  }
  int port_;
  std::unique_ptr<ChildProcess> server_;
};

}  // namespace omniroute::testing
