// The browser tests' shared set-up: a whole stack (embedded Kafka, router, webhook
// connector, analytics) with the agent workspace, two people (ana: agent alice; bo:
// supervisor bob, password "correct horse"), and helpers to drive headless Chromium.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "tests/integration/harness.h"
#include "tests/support/browser.h"
#include "workspace/passwords.h"

namespace omniroute::testing {

using json = nlohmann::json;
const std::string kEnter = "\xee\x80\x87";  // WebDriver's Enter key

class WorkspaceBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists("/usr/bin/chromedriver"))
        << "chromium-driver is not installed (scripts/install-deps.sh installs it)";
    std::filesystem::create_directories("screenshots");
    receiver_ = std::make_unique<connectors::webhook::CallbackReceiver>(params_.secret);
    params_.agents = {{"alice", 3, false}, {"bob", 3, true}};
    params_.state_dir = dir_.path() + "/state";
    params_.callback_url = receiver_->url();
    const std::string hash = workspace::hash_password("correct horse").value();
    std::string base = config_yaml(params_);
    if (const std::string extra = inbox_yaml(); !extra.empty())
      base.insert(base.find("        settings:\n          secret:"), extra);
    const std::string yaml = base + fmt::format(R"(agent_workspace:
  listen: "127.0.0.1:0"
  tab_grace_seconds: {1}
  accounts:
    - {{login: ana, workspace: acme, agent: alice, password_hash: "{0}"}}
    - {{login: bo, workspace: acme, agent: bob, role: supervisor, password_hash: "{0}"}}
)",
                                                hash, tab_grace_seconds());
    running_ = start_stack(yaml, {"webhook"}, false);
    ASSERT_TRUE(running_.stack);
    ASSERT_EQ(running_.stack->start_analytics(), "");  // the supervisor's board and reports
    ASSERT_EQ(running_.stack->start_workspace(), "");
    url_ = running_.stack->workspace()->url();
    const std::string ep = running_.stack->connectors().at(0)->endpoints().at(0);
    webhook_ = ep.substr(0, ep.find("/v1/")) + "/v1/webhook/acme/api/messages";
    csat_url_ = ep.substr(0, ep.find("/v1/")) + "/v1/webhook/acme/api/csat";
  }
  virtual int tab_grace_seconds() const { return 15; }
  // More keys of the "api" inbox (eight spaces in), e.g. a csat: block.
  virtual std::string inbox_yaml() const { return {}; }
  void TearDown() override {
    if (running_.stack) running_.stack->stop();
  }

  int post(const std::string& id, const std::string& text, const std::string& name = "Ana Lima",
           const std::string& language = "", const std::string& html = "") {
    v1::InboundMessage m;
    m.set_language(language);
    m.set_html_body(html);
    m.set_external_message_id(id);
    m.set_customer_handle("cust-1");
    m.set_customer_display_name(name);
    m.set_text_body(text);
    std::string body;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &body).ok());
    return connectors::webhook::post_signed(webhook_, params_.secret, body);
  }
  std::unique_ptr<Browser> open(const std::string& name) {
    auto b = std::make_unique<Browser>(dir_.path() + "/profile-" + name);
    if (b->ok()) b->go(url_);
    return b;
  }
  static bool sign_in(Browser& b, const std::string& login, const std::string& password) {
    if (!wait_until([&] { return !b.find("#login").empty(); })) return false;
    b.run(
        "document.getElementById('login').value='';document.getElementById('password').value='';");
    b.type("#login", login);
    b.type("#password", password + kEnter);
    return true;
  }
  static std::string text(Browser& b, const std::string& css) {
    const json r = b.run(fmt::format(
        "const e=document.querySelector({});return e?e.textContent:'';", json(css).dump()));
    return r.is_string() ? r.get<std::string>() : "";
  }
  static json texts(Browser& b, const std::string& css) {
    return b.run(
        fmt::format("return Array.from(document.querySelectorAll({})).map(e=>e.textContent);",
                    json(css).dump()));
  }
  static bool has(Browser& b, const std::string& css) { return !b.find(css).empty(); }
  // Desktop notifications, captured: the page's Notification is replaced by a recorder
  // (the permission a person would have granted).
  static void record_notifications(Browser& b) {
    b.run(
        "window.__notes=[];window.Notification=function(t,o){window.__notes.push(t+' | '+o.body);"
        "};window.Notification.permission='granted';window.Notification.requestPermission="
        "()=>Promise.resolve('granted');");
  }

  TempDir dir_;
  ConfigParams params_;
  std::unique_ptr<connectors::webhook::CallbackReceiver> receiver_;
  RunningStack running_;
  std::string url_, webhook_, csat_url_;
};

}  // namespace omniroute::testing
