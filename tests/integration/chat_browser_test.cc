// The web chat in a real browser: headless Chromium (Debian's chromium, driven through
// chromedriver's WebDriver API) opens the widget page the connector serves, the visitor
// types and sends, the message travels Kafka -> router -> desk, the agent's reply comes
// back and shows on the page; a reload keeps the conversation.
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <nlohmann/json.hpp>

#include "cli/stack.h"
#include "common/child_process.h"
#include "connectors/http/client.h"
#include "tests/integration/harness.h"
#include "tests/support/browser.h"
#include "tests/support/mail_servers.h"

namespace omniroute::testing {
namespace {

using json = nlohmann::json;

// Texts of the chat log's messages of one author ("visitor", "agent", "system").
std::string messages_script(const std::string& author) {
  return fmt::format(
      "return Array.from(document.querySelectorAll('#omniroute-chat-log "
      ".omniroute-chat-msg.{}')).map(e => e.lastChild.textContent + (e.classList.contains("
      "'sending') ? ' [sending]' : ''));",
      author);
}

bool contains(const json& list, const std::string& text) {
  if (!list.is_array()) return false;
  for (const auto& e : list)
    if (e.is_string() && e.get<std::string>() == text) return true;
  return false;
}

TEST(ChatBrowser, VisitorWritesAgentAnswersPageShowsItReloadKeepsIt) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/chromedriver"))
      << "chromium-driver is not installed (scripts/install-deps.sh installs it)";
  TempDir dir;
  const int port = free_port();
  const std::string yaml = fmt::format(R"(log_level: warn
state: {{dir: "{0}/state"}}
kafka: {{brokers: embedded, partitions: 1}}
router: {{agent_endpoint: "tcp://127.0.0.1:*", agent_auth: none, insecure: true, heartbeat_interval_ms: 200, heartbeat_timeout_ms: 800}}
connectors:
  chat: {{listen: "127.0.0.1:{1}", state_dir: "{0}/chat", max_message_bytes: 200}}
workspaces:
  - id: acme
    queues: [{{id: general}}]
    inboxes:
      - {{id: web, channel: chat, queue: general, settings: {{title: Acme Support}},
          csat: {{question: {{en: "How did we do?"}}, thanks: {{en: "Thank you!"}}}}}}
    agents:
      - {{id: alice, name: Alice, capacity: {{chat: 5}}}}
)",
                                       dir.path(), port);
  auto running = start_stack(yaml, {"chat"});
  ASSERT_TRUE(running.stack);
  cli::Stack& stack = *running.stack;
  RecordingDesk& alice = *running.alice;

  Browser browser(dir.path() + "/profile");
  ASSERT_TRUE(browser.ok()) << browser.error();
  const std::string page = fmt::format("http://127.0.0.1:{}/v1/chat/acme/web/", port);
  browser.go(page);
  ASSERT_TRUE(wait_until([&] { return !browser.find("#omniroute-chat-button").empty(); }));
  browser.click("#omniroute-chat-button");
  browser.type("#omniroute-chat-name", "Ana Lima");
  browser.type("#omniroute-chat-input", "Hello from the browser");
  browser.click("#omniroute-chat-send");

  // The visitor's message is acknowledged (Kafka has it), reaches the agent, and the
  // agent's reply appears on the page.
  ASSERT_TRUE(wait_until(
      [&] { return contains(browser.run(messages_script("visitor")), "Hello from the browser"); },
      std::chrono::seconds(30)))
      << browser.run(messages_script("visitor")).dump();
  ASSERT_TRUE(wait_until([&] { return alice.assignments().size() == 1; }));
  EXPECT_EQ(alice.assignments()[0].conversation().customer_display_name(), "Ana Lima");
  ASSERT_TRUE(
      wait_until([&] { return contains(browser.run(messages_script("agent")), "Hi from alice"); },
                 std::chrono::seconds(30)))
      << browser.run(messages_script("agent")).dump();
  EXPECT_TRUE(wait_until([&] {
    return contains(browser.run(messages_script("system")), "Alice joined the chat");
  })) << browser.run(messages_script("system")).dump();

  // A reload keeps the conversation: the transcript comes back from the gateway.
  browser.refresh();
  ASSERT_TRUE(wait_until(
      [&] {
        return contains(browser.run(messages_script("visitor")), "Hello from the browser") &&
               contains(browser.run(messages_script("agent")), "Hi from alice");
      },
      std::chrono::seconds(30)))
      << browser.run("return document.getElementById('omniroute-chat-log').innerText;").dump();
  EXPECT_EQ(alice.offers().size(), 1u) << "one visitor, one conversation";

  // A message the gateway would refuse for good (over max_message_bytes) is never sent:
  // the text stays in the box with the reason, so the visitor can shorten it.
  if (browser.run("return document.getElementById('omniroute-chat-panel')"
                  ".classList.contains('open');") != true)
    browser.click("#omniroute-chat-button");
  const std::string long_text(300, 'z');
  // By keyboard alone: the text, then Enter (WebDriver's key code U+E007).
  browser.type("#omniroute-chat-input", long_text + "\xee\x80\x87");
  ASSERT_TRUE(wait_until([&] {
    const json st =
        browser.run("return document.getElementById('omniroute-chat-status').textContent;");
    return st.is_string() && st.get<std::string>().find("Not sent") != std::string::npos;
  })) << browser.run("return document.getElementById('omniroute-chat-status').textContent;").dump();
  EXPECT_EQ(browser.run("return document.getElementById('omniroute-chat-input').value;"),
            long_text);
  EXPECT_FALSE(contains(browser.run(messages_script("visitor")), long_text));
  EXPECT_FALSE(contains(browser.run(messages_script("visitor")), long_text + " [sending]"));
  // Left in the build tree to be looked at (tests/chat_widget_refused.png).
  browser.screenshot("chat_widget_refused.png");

  // The agent resolves: the survey appears; the visitor rates it by keyboard alone
  // (Shift+Tab from the message box to "Rate 4 of 5", Enter), then adds a comment.
  alice.desk().resolve(alice.assignments()[0].conversation().conversation_id());
  ASSERT_TRUE(wait_until([&] { return !browser.find(".omniroute-chat-survey button").empty(); },
                         std::chrono::seconds(30)));
  const std::string kShift = "\xee\x80\x88", kTab = "\xee\x80\x84", kEnter = "\xee\x80\x87";
  browser.run("document.getElementById('omniroute-chat-input').value = '';");
  browser.type("#omniroute-chat-input", "\xee\x80\x83");  // Backspace: focuses the empty box
  browser.chord(kShift, kTab);
  browser.chord(kShift, kTab);
  EXPECT_EQ(browser.run("return document.activeElement.getAttribute('aria-label');"),
            "Rate 4 of 5");
  browser.keys(kEnter);
  ASSERT_TRUE(wait_until([&] {
    for (const auto& m : alice.messages())
      if (m.message().csat().rating() == 4) return true;
    return false;
  }));
  ASSERT_TRUE(wait_until([&] {
    return browser.run("return document.activeElement.getAttribute('aria-pressed');") == "true";
  })) << "the pressed rating shows";
  browser.keys(kTab + kTab + "<i>great</i> help" + kTab + kEnter);  // 5, the comment, Send
  ASSERT_TRUE(wait_until([&] {
    for (const auto& m : alice.messages())
      if (m.message().has_csat() && m.message().text_body() == "<i>great</i> help") return true;
    return false;
  }));
  auto survey_text = [&] {
    return browser.run("return document.querySelector('.omniroute-chat-survey').innerText;");
  };
  ASSERT_TRUE(wait_until([&] {
    const json t = survey_text();
    return t.is_string() && t.get<std::string>().find("<i>great</i> help") != std::string::npos;
  })) << survey_text().dump();  // customer text shown as text, never markup
  EXPECT_NE(survey_text().get<std::string>().find("You rated 4 of 5. Thank you!"),
            std::string::npos);
  EXPECT_TRUE(browser.find(".omniroute-chat-survey i").empty());
  browser.screenshot("chat_widget_survey.png");
  // After a reload it is still answered.
  browser.refresh();
  if (browser.run("return document.getElementById('omniroute-chat-panel')"
                  ".classList.contains('open');") != true)
    browser.click("#omniroute-chat-button");
  ASSERT_TRUE(wait_until([&] {
    const json t = browser.run(
        "const b = document.querySelector('.omniroute-chat-survey button[aria-pressed=true]');"
        "return b ? b.getAttribute('data-rating') : null;");
    return t == "4";
  }));
  stack.stop();
}

}  // namespace
}  // namespace omniroute::testing
