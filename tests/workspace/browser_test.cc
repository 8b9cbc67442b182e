// The agent workspace in a real browser (headless Chromium through chromedriver): a person
// signs in, goes available, gets a webhook conversation as an offer with a notification,
// accepts, replies (the callback receiver gets it), and two tabs of the same agent stay
// identical through forced drops. Screenshots of each screen are left under the build
// folder (tests/screenshots/workspace_*.png) to be looked at.
#include <gtest/gtest.h>

#include <filesystem>

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "tests/integration/harness.h"
#include "tests/support/browser.h"
#include "workspace/passwords.h"

namespace omniroute::testing {
namespace {

using json = nlohmann::json;
const std::string kEnter = "\xee\x80\x87";  // WebDriver's Enter key

class WorkspaceBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists("/usr/bin/chromedriver"))
        << "chromium-driver is not installed (scripts/install-deps.sh installs it)";
    std::filesystem::create_directories("screenshots");
    receiver_ = std::make_unique<connectors::webhook::CallbackReceiver>(params_.secret);
    params_.state_dir = dir_.path() + "/state";
    params_.callback_url = receiver_->url();
    const std::string hash = workspace::hash_password("correct horse").value();
    const std::string yaml = config_yaml(params_) + fmt::format(R"(agent_workspace:
  listen: "127.0.0.1:0"
  accounts:
    - {{login: ana, workspace: acme, agent: alice, password_hash: "{0}"}}
    - {{login: bo, workspace: acme, agent: bob, password_hash: "{0}"}}
)",
                                                                hash);
    running_ = start_stack(yaml, {"webhook"}, false);
    ASSERT_TRUE(running_.stack);
    ASSERT_EQ(running_.stack->start_workspace(), "");
    url_ = running_.stack->workspace()->url();
    const std::string ep = running_.stack->connectors().at(0)->endpoints().at(0);
    webhook_ = ep.substr(0, ep.find("/v1/")) + "/v1/webhook/acme/api/messages";
  }
  void TearDown() override {
    if (running_.stack) running_.stack->stop();
  }

  int post(const std::string& id, const std::string& text, const std::string& name = "Ana Lima") {
    v1::InboundMessage m;
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
    const json r = b.run(fmt::format("const e=document.querySelector({});return e?e.innerText:'';",
                                     json(css).dump()));
    return r.is_string() ? r.get<std::string>() : "";
  }
  static json texts(Browser& b, const std::string& css) {
    return b.run(fmt::format(
        "return Array.from(document.querySelectorAll({})).map(e=>e.innerText);", json(css).dump()));
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
  std::string url_, webhook_;
};

TEST_F(WorkspaceBrowserTest, SignInOfferAcceptReplyTwoTabsAndDropsLoseNothing) {
  auto tab = open("one");
  ASSERT_TRUE(tab->ok()) << tab->error();
  ASSERT_TRUE(sign_in(*tab, "ana", "wrong password"));
  ASSERT_TRUE(wait_until([&] { return text(*tab, "#login-error") == "wrong login or password"; }))
      << text(*tab, "#login-error");
  EXPECT_TRUE(tab->screenshot("screenshots/workspace_1_sign_in_refused.png")) << tab->error();
  ASSERT_TRUE(sign_in(*tab, "ana", "correct horse"));
  ASSERT_TRUE(wait_until([&] { return text(*tab, "#link") == "Live"; }, std::chrono::seconds(20)))
      << text(*tab, "body");
  record_notifications(*tab);
  EXPECT_EQ(text(*tab, "#presence"), "Away") << "a new session starts away";
  tab->click("#presence");
  ASSERT_TRUE(wait_until([&] { return text(*tab, "#presence") == "Available"; }));

  // A webhook message becomes an offer: a toast with its countdown and a notification.
  ASSERT_EQ(post("m1", "My parcel <b>never</b> arrived"), 202);
  ASSERT_TRUE(wait_until([&] { return has(*tab, ".offer"); }, std::chrono::seconds(20)));
  EXPECT_NE(text(*tab, ".offer .preview").find("My parcel <b>never</b> arrived"), std::string::npos)
      << "customer text shows as text, markup and all";
  EXPECT_TRUE(wait_until([&] { return tab->run("return window.__notes.length") == 1; }));
  EXPECT_NE(tab->run("return window.__notes[0]").dump().find("Ana Lima"), std::string::npos);
  EXPECT_FALSE(text(*tab, ".offer .countdown").empty());
  EXPECT_TRUE(tab->screenshot("screenshots/workspace_2_offer.png")) << tab->error();
  tab->click(".offer .accept");
  ASSERT_TRUE(wait_until([&] { return has(*tab, "#history .msg.customer"); }));
  EXPECT_FALSE(has(*tab, ".offer"));
  EXPECT_EQ(tab->run("return document.querySelectorAll('#history b').length"), 0)
      << "no customer text is ever inserted as HTML";

  // A second tab of the same person (another device: its own sign-in) sees the same.
  auto two = open("two");
  ASSERT_TRUE(two->ok()) << two->error();
  ASSERT_TRUE(sign_in(*two, "ana", "correct horse"));
  ASSERT_TRUE(wait_until([&] { return has(*two, "#conv-list .row"); }, std::chrono::seconds(20)));
  two->click("#conv-list .row");
  ASSERT_TRUE(wait_until([&] { return has(*two, "#history .msg.customer"); }));

  // Reply by Enter: the callback receiver gets it; both tabs show it with its delivery.
  tab->type("#composer-text", "Sorry about that, let me check." + kEnter);
  ASSERT_TRUE(
      wait_until([&] { return receiver_->received_count() >= 1; }, std::chrono::seconds(20)));
  EXPECT_EQ(receiver_->received()[0].text_body(), "Sorry about that, let me check.");
  for (Browser* b : {tab.get(), two.get()})
    EXPECT_TRUE(wait_until([&] {
      return text(*b, "#history .msg.agent .text") == "Sorry about that, let me check.";
    })) << text(*b, "#history");
  EXPECT_TRUE(tab->screenshot("screenshots/workspace_3_conversation.png")) << tab->error();

  // Forced drops while the customer writes: every message once, in order, on both tabs.
  std::vector<std::string> expected = {"My parcel <b>never</b> arrived"};
  for (int i = 0; i < 20; ++i) {
    Browser& b = i % 2 ? *tab : *two;
    b.run("window.omniroute.reconnectNow()");
    const std::string t = fmt::format("follow-up {}", i);
    ASSERT_EQ(post(fmt::format("f{}", i), t), 202);
    expected.push_back(t);
    ASSERT_TRUE(wait_until([&] { return text(b, "#link") == "Live"; }));
  }
  const json want = expected;
  for (Browser* b : {tab.get(), two.get()})
    EXPECT_TRUE(wait_until([&] { return texts(*b, "#history .msg.customer .text") == want; },
                           std::chrono::seconds(30)))
        << texts(*b, "#history .msg.customer .text").dump();
  EXPECT_EQ(text(*tab, "#history"), text(*two, "#history")) << "two tabs, one screen";
  EXPECT_GE(tab->run("return window.omniroute.stats.connects").get<int>(), 10);

  // What a hostile page script could try: a state change without the CSRF token.
  EXPECT_EQ(tab->run("return fetch('api/logout',{method:'POST'}).then(r=>r.status)"), 403);

  // Resolve by keyboard (e); the conversation goes to Closed on both tabs.
  tab->run("document.activeElement.blur()");
  tab->keys("e");
  for (Browser* b : {tab.get(), two.get()})
    EXPECT_TRUE(wait_until([&] { return text(*b, "#view-closed .n") == "1"; }))
        << text(*b, ".filters");
  EXPECT_TRUE(tab->screenshot("screenshots/workspace_4_resolved.png")) << tab->error();

  // Sign out: the page goes back to the sign-in form; the other device stays signed in.
  tab->click("#sign-out");
  EXPECT_TRUE(wait_until([&] { return has(*tab, "#login"); }));
  EXPECT_EQ(text(*two, "#link"), "Live");
}

}  // namespace
}  // namespace omniroute::testing
